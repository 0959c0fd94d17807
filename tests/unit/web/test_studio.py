"""The creator's pages (upload, my videos, edit, delete) and the API as the site's
scripts call it: by the session cookie, with the CSRF header on writes."""

from __future__ import annotations

import base64
import re

import falcon.testing

from tests.unit.web.conftest import Browser, MakeUser, Videos
from videoplatform.application.context import Caller
from videoplatform.domain.ids import VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.web.session import CSRF_COOKIE


def test_creator_pages_send_a_visitor_to_log_in_first(browser: Browser) -> None:
    for path in ("/upload", "/my/videos", "/my/videos/abc/edit", "/my/videos/abc/delete"):
        result = browser.get(path)
        assert result.status_code == 303, path
        assert result.headers["location"].startswith("/login?next=%2F")


def test_a_viewer_may_not_upload(browser: Browser, make_user: MakeUser) -> None:
    browser.log_in(make_user(Role.VIEWER).email.value)
    assert browser.get("/upload").status_code == 403
    assert "Upload" not in browser.get("/").text.split("<main")[0]


def test_my_videos_lists_every_state_of_the_creators_own_videos_only(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner, other = make_user(), make_user()
    ready = videos.make(owner, "Ready one", Visibility.PRIVATE)
    waiting = videos.make(owner, "Waiting one", ready=False)
    videos.make(other, "Not mine")
    browser.log_in(owner.email.value)
    page = browser.get("/my/videos")
    assert page.status_code == 200
    assert f'data-video-id="{ready}" data-status="ready"' in page.text
    assert f'data-video-id="{waiting}" data-status="uploaded"' in page.text
    assert "Not mine" not in page.text
    assert re.search(r'<script src="/static/my_videos\.[0-9a-f]+\.js" defer>', page.text)


def test_editing_a_video_through_the_form(
    browser: Browser, make_user: MakeUser, videos: Videos, platform: Platform
) -> None:
    owner = make_user()
    video_id = videos.make(owner, "Old title")
    browser.log_in(owner.email.value)
    form = browser.get(f"/my/videos/{video_id}/edit")
    assert 'value="Old title"' in form.text
    saved = browser.post(
        f"/my/videos/{video_id}/edit",
        {
            "title": "New title",
            "description": "Now described.",
            "tags": "river, Dusk ,",
            "category_id": "",
            "visibility": "unlisted",
            "poster_at_seconds": "1.5",
        },
    )
    assert saved.status_code == 303
    video = platform.videos.get(Caller(owner.id), VideoId(video_id))
    assert (video.title, video.description, video.visibility) == (
        "New title",
        "Now described.",
        Visibility.UNLISTED,
    )
    assert set(video.tags) == {"river", "dusk"} and video.poster_at_seconds == 1.5


def test_a_bad_edit_comes_back_with_messages_and_what_was_typed(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner = make_user()
    video_id = videos.make(owner, "Keep me")
    browser.log_in(owner.email.value)
    browser.get(f"/my/videos/{video_id}/edit")
    result = browser.post(
        f"/my/videos/{video_id}/edit",
        {
            "title": "Typed title",
            "description": "",
            "tags": "",
            "category_id": "",
            "visibility": "everyone",
            "poster_at_seconds": "soon",
        },
    )
    assert result.status_code == 422
    assert 'id="e-visibility"' in result.text and 'id="e-poster_at_seconds"' in result.text
    assert 'value="Typed title"' in result.text


def test_someone_elses_video_cannot_be_edited_or_deleted_and_a_hidden_one_is_not_found(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner, other = make_user(), make_user()
    public = videos.make(owner, "Public")
    private = videos.make(owner, "Private", Visibility.PRIVATE)
    browser.log_in(other.email.value)
    assert browser.get(f"/my/videos/{public}/edit").status_code == 403
    assert browser.get(f"/my/videos/{private}/edit").status_code == 404
    assert browser.get(f"/my/videos/{private}/delete").status_code == 404
    browser.get("/")
    assert browser.post(f"/my/videos/{public}/delete").status_code == 403
    assert browser.post(f"/my/videos/{private}/delete").status_code == 404


def test_deleting_asks_first_then_deletes(
    browser: Browser, make_user: MakeUser, videos: Videos, platform: Platform
) -> None:
    owner = make_user()
    video_id = videos.make(owner, "Doomed")
    browser.log_in(owner.email.value)
    ask = browser.get(f"/my/videos/{video_id}/delete")
    assert ask.status_code == 200 and "Delete it" in ask.text
    done = browser.post(f"/my/videos/{video_id}/delete")
    assert done.status_code == 303 and done.headers["location"] == "/my/videos?deleted"
    assert browser.get(f"/watch/{video_id}").status_code == 404


def _tus_create(browser: Browser, csrf: str | None) -> falcon.testing.Result:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    headers = {
        "Tus-Resumable": "1.0.0",
        "Upload-Length": "10",
        "Upload-Metadata": f"kind {b64('video')},title {b64('From the page')}",
    }
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return browser.client.simulate_post("/api/v1/uploads", headers=headers, cookies=browser.cookies)


def test_the_sites_scripts_call_the_api_as_the_visitor_with_the_csrf_header(
    browser: Browser, make_user: MakeUser
) -> None:
    owner = make_user()
    browser.log_in(owner.email.value)
    browser.get("/upload")
    assert _tus_create(browser, browser.last_csrf).status_code == 201
    # Without the header (another site's form could send the cookie, not the header).
    refused = _tus_create(browser, None)
    assert refused.status_code == 403
    assert refused.json["code"] == "csrf_failed"
    assert _tus_create(browser, "forged").status_code == 403
    # Reads need no header.
    me = browser.client.simulate_get("/api/v1/auth/me", cookies=browser.cookies)
    assert me.status_code == 200 and me.json["id"] == owner.id


def test_a_stale_cookie_on_the_api_is_anonymous(browser: Browser, make_user: MakeUser) -> None:
    owner = make_user()
    browser.log_in(owner.email.value)
    browser.get("/")
    browser.post("/logout")
    stale = {**browser.cookies, "vp_session": "revoked-or-made-up"}
    me = browser.client.simulate_get("/api/v1/auth/me", cookies=stale)
    assert me.status_code == 401
    assert CSRF_COOKIE in browser.cookies
