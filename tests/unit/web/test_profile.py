"""The profile: a display name shown beside the user's videos (search follows it) and
the visibility of their new uploads, from the site and from the API."""

from __future__ import annotations

import io

import falcon.testing

from tests.unit.conftest import MP4_HEAD
from tests.unit.web.conftest import Browser, MakeUser, Videos
from videoplatform.application.context import Caller
from videoplatform.application.search import SearchVideos
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.visibility import Visibility
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.web.session import SESSION_COOKIE
from videoplatform.entrypoints.worker import settle_events


def test_a_new_name_is_shown_and_found_beside_the_users_videos(
    browser: Browser, make_user: MakeUser, videos: Videos, platform: Platform
) -> None:
    owner = make_user(name="Old Name")
    video_id = videos.make(owner, "Tide pools")
    settle_events(platform)
    browser.log_in(owner.email.value)
    form = browser.get("/account/profile")
    assert 'value="Old Name"' in form.text
    saved = browser.post(
        "/account/profile", {"display_name": "Marine Biologist", "default_visibility": "private"}
    )
    assert saved.status_code == 303
    settle_events(platform)
    assert "Marine Biologist" in browser.get(f"/watch/{video_id}").text
    found = platform.search.videos(Caller(), SearchVideos("biologist"))
    assert [r.video.id for r in found.results] == [video_id]
    assert platform.search.videos(Caller(), SearchVideos("old name")).total == 0


def test_new_uploads_take_the_profiles_visibility_unless_they_say(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    owner = make_user()
    browser.log_in(owner.email.value)
    browser.get("/account/profile")
    browser.post(
        "/account/profile", {"display_name": owner.display_name, "default_visibility": "public"}
    )
    assert '<option value="public" selected>' in browser.get("/upload").text

    def upload(visibility: Visibility | None) -> Visibility:
        made = platform.videos.upload(
            Caller(owner.id),
            UploadVideo("Clip", io.BytesIO(MP4_HEAD + b"x"), visibility=visibility),
        )
        return made.visibility

    assert upload(None) is Visibility.PUBLIC
    assert upload(Visibility.UNLISTED) is Visibility.UNLISTED


def test_a_bad_profile_comes_back_with_messages(browser: Browser, make_user: MakeUser) -> None:
    browser.log_in(make_user().email.value)
    browser.get("/account/profile")
    result = browser.post(
        "/account/profile", {"display_name": "   ", "default_visibility": "friends"}
    )
    assert result.status_code == 422
    assert 'id="e-default_visibility"' in result.text


def test_the_api_changes_the_profile_too(
    browser: Browser, make_user: MakeUser, site: falcon.testing.TestClient
) -> None:
    owner = make_user()
    browser.log_in(owner.email.value)
    bearer = {"Authorization": f"Bearer {browser.cookies[SESSION_COOKIE]}"}
    changed = site.simulate_patch(
        "/api/v1/auth/me", json={"default_visibility": "unlisted"}, headers=bearer
    )
    assert changed.status_code == 200
    assert changed.json["default_visibility"] == "unlisted"
    assert changed.json["display_name"] == owner.display_name
    refused = site.simulate_patch(
        "/api/v1/auth/me", json={"default_visibility": "friends"}, headers=bearer
    )
    assert refused.status_code == 422
    anonymous = site.simulate_patch("/api/v1/auth/me", json={"display_name": "X"})
    assert anonymous.status_code == 401
