"""Share links from the site: made by the owner (shown once), listed with their uses,
revoked; a shared file downloaded from the landing page's form."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

from tests.unit.web.conftest import Browser, MakeUser, Videos
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform

LINK = re.compile(r'id="share-url" type="text" readonly value="([^"]+)"')


def make_link(browser: Browser, **form: str) -> str:
    result = browser.post("/my/shares/new", form)
    assert result.status_code == 201, result.text
    assert result.headers["cache-control"] == "no-store"
    found = LINK.search(result.text)
    assert found is not None
    return found.group(1)


def test_an_owner_makes_a_link_to_a_video_sees_it_once_and_lists_it(
    browser: Browser, make_user: MakeUser, videos: Videos, platform: Platform
) -> None:
    owner = make_user()
    video_id = videos.make(owner, "Holiday", Visibility.PRIVATE)
    browser.log_in(owner.email.value)
    form = browser.get(f"/my/shares/new?video={video_id}")
    assert form.status_code == 200 and "Share “Holiday”" in form.text
    url = make_link(
        browser, video=video_id, expires_in_days="7", max_uses="3", password="open sesame"
    )
    assert url.startswith("http://") and "/s#" in url
    token = unquote(url.split("#", 1)[1])
    # The link works (through the API the landing page calls)...
    played = browser.client.simulate_post(
        "/api/v1/public/shares/playback", json={"token": token, "password": "open sesame"}
    )
    assert played.status_code == 200 and played.json["title"] == "Holiday"
    # ...and is listed with its use counted, never with its token.
    listed = browser.get("/my/shares")
    assert "1 of 3" in listed.text and token not in listed.text
    assert ">yes<" in listed.text and ">active<" in listed.text


def test_revoking_a_link_from_the_list(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner = make_user()
    video_id = videos.make(owner, "Short lived")
    browser.log_in(owner.email.value)
    browser.get(f"/my/shares/new?video={video_id}")
    token = unquote(make_link(browser, video=video_id).split("#", 1)[1])
    listed = browser.get("/my/shares")
    revoke = re.search(r'action="(/my/shares/[^"/]+/revoke)"', listed.text)
    assert revoke is not None
    assert browser.post(revoke.group(1)).status_code == 303
    assert ">revoked<" in browser.get("/my/shares").text
    dead = browser.client.simulate_post("/api/v1/public/shares/playback", json={"token": token})
    assert dead.status_code == 410 and dead.json["code"] == "share_revoked"


def test_bad_limits_come_back_beside_their_fields(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner = make_user()
    video_id = videos.make(owner, "Limits")
    browser.log_in(owner.email.value)
    browser.get(f"/my/shares/new?video={video_id}")
    result = browser.post(
        "/my/shares/new", {"video": video_id, "expires_in_days": "soon", "max_uses": "0"}
    )
    assert result.status_code == 422
    assert 'id="e-expires_in_days"' in result.text and 'id="e-max_uses"' in result.text


def test_only_the_owner_may_share_and_a_hidden_video_is_not_found(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner, other = make_user(), make_user()
    public = videos.make(owner, "Public")
    private = videos.make(owner, "Private", Visibility.PRIVATE)
    browser.log_in(other.email.value)
    assert browser.get(f"/my/shares/new?video={private}").status_code == 404
    browser.get(f"/my/shares/new?video={public}")
    assert browser.post("/my/shares/new", {"video": public}).status_code == 403


def test_a_shared_file_downloads_from_the_landing_page_form(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    owner = make_user()
    stored = platform.files.store(
        Caller(owner.id),
        StoreFile("notes.txt", io.BytesIO(b"the shared bytes"), content_type="text/plain"),
    )
    browser.log_in(owner.email.value)
    browser.get(f"/my/shares/new?file={stored.id}")
    token = unquote(make_link(browser, file=stored.id, password="pw for it").split("#", 1)[1])
    visitor = Browser(browser.client)
    landing = visitor.get("/s")
    assert landing.status_code == 200 and landing.headers["referrer-policy"] == "no-referrer"
    wrong = visitor.post("/s/download", {"token": token, "password": "nope"})
    assert wrong.status_code == 403 or wrong.status_code == 401
    got = visitor.post("/s/download", {"token": token, "password": "pw for it"})
    assert got.status_code == 200
    assert got.content == b"the shared bytes"
    assert got.headers["content-disposition"].startswith('attachment; filename="notes.txt"')
    assert visitor.post("/s/download", {"token": token}, csrf=False).status_code == 403
