"""The public pages and the watch page: what they list, what they hide, and the policy
and caching they are served under."""

from __future__ import annotations

import gzip
import re
import sys
from datetime import timedelta
from pathlib import Path

import falcon.inspect
import falcon.testing

from tests.unit.conftest import MP4_HEAD
from tests.unit.web.conftest import Browser, MakeUser, Videos
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.application.context import Caller
from videoplatform.application.video_commands import UpdateVideo
from videoplatform.domain.ids import VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app
from videoplatform.entrypoints.http.openapi import Operation, Reply, Route
from videoplatform.entrypoints.web.assets import StaticAssets
from videoplatform.entrypoints.web.rendering import templates_folder
from videoplatform.entrypoints.web.session import SESSION_COOKIE


def watch_links(html: str) -> set[str]:
    return set(re.findall(r'href="/watch/([^"/]+)"', html))


def test_home_shows_public_ready_videos_with_their_posters_and_hides_the_rest(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner = make_user(name="Ada Lovelace")
    shown = videos.make(owner, "Engines of analysis")
    private = videos.make(owner, "My private notes", Visibility.PRIVATE)
    unlisted = videos.make(owner, "Only with the link", Visibility.UNLISTED)
    page = browser.get("/")
    assert page.status_code == 200
    assert watch_links(page.text) == {shown}
    assert "Engines of analysis" in page.text and "Ada Lovelace" in page.text
    assert "My private notes" not in page.text and "Only with the link" not in page.text
    poster = re.search(r'<img src="(/api/v1/play/[^"]+/poster_64\.jpg)"', page.text)
    assert poster is not None
    image = browser.client.simulate_get(poster.group(1))
    assert image.status_code == 200 and image.content.startswith(b"\xff\xd8")
    # The owner sees their own videos, marked.
    browser.log_in(owner.email.value)
    mine = browser.get("/")
    assert {shown, private, unlisted} <= watch_links(mine.text)
    assert '<span class="badge">private</span>' in mine.text


def test_poster_urls_stay_the_same_between_requests(
    browser: Browser, make_user: MakeUser, videos: Videos, clock: ManualClock
) -> None:
    videos.make(make_user(), "Steady")
    clock.advance(timedelta(minutes=10))
    first = re.findall(r'<img src="([^"]+)"', browser.get("/").text)
    clock.advance(timedelta(minutes=40))  # within the hour the expiry is aligned to
    second = re.findall(r'<img src="([^"]+)"', browser.get("/").text)
    clock.advance(timedelta(minutes=20))  # the next hour: new URLs, as long-lived
    third = re.findall(r'<img src="([^"]+)"', browser.get("/").text)
    assert first and first == second
    assert third and third != first


def test_pages_go_on_with_a_cursor(
    browser: Browser, make_user: MakeUser, videos: Videos, clock: ManualClock
) -> None:
    owner = make_user()
    made = []
    for n in range(30):
        made.append(videos.make(owner, f"Video number {n}"))
        clock.advance(timedelta(seconds=1))
    first = browser.get("/")
    more = re.search(r'href="(/\?sort=newest&amp;cursor=[^"]+)"', first.text)
    assert more is not None
    second = browser.get(more.group(1).replace("&amp;", "&"))
    assert len(watch_links(first.text)) == 24
    assert watch_links(first.text) | watch_links(second.text) == set(made)
    assert not watch_links(first.text) & watch_links(second.text)


def test_a_category_page_lists_its_videos_only(
    browser: Browser, make_user: MakeUser, videos: Videos, platform: Platform
) -> None:
    admin = make_user(Role.ADMIN)
    music = platform.categories.create(Caller(admin.id), "Music")
    owner = make_user()
    song = videos.make(owner, "A song")
    videos.make(owner, "A lecture")
    platform.videos.update(Caller(owner.id), VideoId(song), UpdateVideo(category_id=music.id))
    page = browser.get(f"/categories/{music.id}")
    assert page.status_code == 200
    assert watch_links(page.text) == {song}
    assert browser.get("/categories/nope").status_code == 404


def test_a_channel_lists_its_owners_public_videos(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner, other = make_user(name="Grace Hopper"), make_user()
    theirs = videos.make(owner, "Compilers")
    videos.make(owner, "Draft", Visibility.PRIVATE)
    videos.make(other, "Someone else's")
    page = browser.get(f"/channel/{owner.id}")
    assert page.status_code == 200 and "<h1>Grace Hopper</h1>" in page.text
    assert watch_links(page.text) == {theirs}


def test_the_channel_of_a_disabled_account_is_not_found(
    browser: Browser, make_user: MakeUser, videos: Videos, platform: Platform
) -> None:
    admin, owner = make_user(Role.ADMIN), make_user()
    videos.make(owner, "Gone soon")
    platform.users.disable(Caller(admin.id), owner.id)
    assert browser.get(f"/channel/{owner.id}").status_code == 404
    assert browser.get("/channel/no-such-user").status_code == 404


def test_the_watch_page_plays_a_public_video_for_anyone(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner = make_user(name="Alan Turing")
    video_id = videos.make(owner, "Computing machinery", description="On thinking.\n\nPart two.")
    page = browser.get(f"/watch/{video_id}")
    assert page.status_code == 200
    master = re.search(r'data-master="(/api/v1/play/[^"]+/master\.m3u8)"', page.text)
    assert master is not None
    playlist = browser.client.simulate_get(master.group(1))
    assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")
    assert 'data-storyboard="/api/v1/play/' in page.text
    assert "<h1>Computing machinery</h1>" in page.text and "Alan Turing" in page.text
    assert "<p>On thinking.</p>" in page.text and "<p>Part two.</p>" in page.text
    player = re.search(r'<script src="(/static/player\.[0-9a-f]+\.js)" defer>', page.text)
    assert player is not None
    # The player library is not on the page: the player loads it when it needs it.
    assert "hls.min" not in re.sub(r'data-hls="[^"]+"', "", page.text)


def test_a_hidden_video_is_the_same_404_as_a_missing_one(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner = make_user()
    private = videos.make(owner, "Secret", Visibility.PRIVATE)
    hidden = browser.get(f"/watch/{private}")
    missing = browser.get("/watch/no-such-video")
    assert hidden.status_code == missing.status_code == 404

    def without_ids(text: str) -> str:
        return re.sub(r'content="[^"]+"|value="[^"]+"', "", text)

    assert without_ids(hidden.text) == without_ids(missing.text)
    assert "Secret" not in hidden.text
    browser.log_in(owner.email.value)
    assert browser.get(f"/watch/{private}").status_code == 200


def test_a_video_still_processing_says_so(
    browser: Browser, make_user: MakeUser, videos: Videos
) -> None:
    owner = make_user()
    video_id = videos.make(owner, "Not yet", Visibility.PUBLIC, ready=False)
    browser.log_in(owner.email.value)
    page = browser.get(f"/watch/{video_id}")
    assert page.status_code == 200
    assert "being processed" in page.text and "data-master" not in page.text


def test_a_view_is_counted_by_the_player_with_the_csrf_token(
    browser: Browser, make_user: MakeUser, videos: Videos, platform: Platform
) -> None:
    video_id = videos.make(make_user(), "Counted")
    browser.get(f"/watch/{video_id}")
    refused = browser.post(f"/watch/{video_id}/view", csrf=False)
    assert refused.status_code == 403
    counted = browser.client.simulate_post(
        f"/watch/{video_id}/view",
        body="",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-CSRF-Token": browser.last_csrf,
        },
        cookies=browser.cookies,
    )
    assert counted.status_code == 204
    assert platform.videos.get(Caller(), VideoId(video_id)).view_count == 1


def test_search_marks_the_matching_words_and_escapes_titles(
    browser: Browser, make_user: MakeUser, videos: Videos, platform: Platform
) -> None:
    owner = make_user()
    found = videos.make(owner, "Sourdough <script>alert(1)</script> bread")
    videos.make(owner, "Something else")
    from videoplatform.entrypoints.worker import settle_events

    settle_events(platform)
    page = browser.get("/search?q=sourdough")
    assert page.status_code == 200
    assert watch_links(page.text) == {found}
    assert "<mark>Sourdough</mark>" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_a_search_the_engine_refuses_is_a_message_on_the_page(browser: Browser) -> None:
    page = browser.get("/search", params={"q": "x" * 201})
    assert page.status_code == 422
    assert 'role="alert"' in page.text
    assert browser.get("/search").status_code == 200


def test_pages_forbid_inline_script_and_style_and_other_origins(browser: Browser) -> None:
    policy = browser.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    for template in templates_folder().glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\sstyle=|<style", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name


def test_static_files_have_digest_names_and_are_cached_for_a_year(
    site: falcon.testing.TestClient,
) -> None:
    assets = StaticAssets()
    url = assets.url("site.css")
    assert re.fullmatch(r"/static/site\.[0-9a-f]{16}\.css", url)
    first = site.simulate_get(url)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = site.simulate_get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert site.simulate_get("/static/site.css").status_code == 404
    assert site.simulate_get("/static/../templates/base.html").status_code == 404


def test_text_files_go_gzipped_to_a_browser_that_takes_it(
    site: falcon.testing.TestClient,
) -> None:
    url = StaticAssets().url("vendor/hls.js/hls.min.js")
    plain = site.simulate_get(url)
    packed = site.simulate_get(url, headers={"Accept-Encoding": "br, gzip;q=0.8"})
    refused = site.simulate_get(url, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content) / 2
    assert "content-encoding" not in refused.headers


def test_the_vendored_libraries_are_the_pinned_release_files() -> None:
    import importlib.util

    script = Path(__file__).resolve().parents[3] / "scripts" / "vendor_web_assets.py"
    spec = importlib.util.spec_from_file_location("vendor_web_assets", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    assert module.check() == []
    names = {p.name for p in (Path(module.VENDOR) / "hls.js").iterdir()}
    assert names == {"hls.min.js", "hls.worker.js", "LICENSE"}


def test_an_unexpected_error_is_a_page_with_the_request_id_and_no_internals(
    platform: Platform,
) -> None:
    class Broken:
        def on_get(self, req: object, resp: object) -> None:
            raise RuntimeError("database password is hunter2")

    route = Route(
        "/broken",
        Broken(),
        (Operation("GET", "Broken", "test", (Reply(200, "never", schema={"type": "object"}),)),),
    )
    client = falcon.testing.TestClient(create_app(platform, HttpOptions(extra_routes=(route,))))
    page = client.simulate_get("/broken", headers={"X-Request-ID": "req-12345"})
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "req-12345" in page.text and "hunter2" not in page.text


def test_the_api_keeps_its_problem_documents(site: falcon.testing.TestClient) -> None:
    result = site.simulate_get("/api/v1/videos/no-such-video")
    assert result.status_code == 404
    assert result.headers["content-type"] == "application/problem+json"


def test_a_stale_session_cookie_is_dropped(site: falcon.testing.TestClient) -> None:
    page = site.simulate_get("/", cookies={SESSION_COOKIE: "not-a-session"})
    assert page.status_code == 200
    assert page.cookies[SESSION_COOKIE].value == ""


def test_the_site_adds_no_route_to_the_api_and_the_api_none_to_the_site(
    platform: Platform,
) -> None:
    def routes(site: bool) -> set[str]:
        app = create_app(platform, HttpOptions(site=site))
        return {route.path for route in falcon.inspect.inspect_routes(app)}

    pages = routes(True) - routes(False)
    assert {"/", "/watch/{video_id}", "/login"} <= pages
    assert not [p for p in pages if p.startswith(("/api", "/health", "/docs", "/metrics"))]


def test_the_owner_downloads_the_original_and_nobody_else_does(
    browser: Browser, make_user: MakeUser, videos: Videos, platform: Platform
) -> None:
    owner, other = make_user(), make_user()
    moderator = make_user(Role.MODERATOR)
    video_id = videos.make(owner, "Harbour / at dawn")
    browser.log_in(owner.email.value)
    page = browser.get(f"/watch/{video_id}")
    assert f'href="/watch/{video_id}/source"' in page.text
    got = browser.get(f"/watch/{video_id}/source")
    assert got.status_code == 200
    assert got.content == MP4_HEAD + b"source"  # the bytes as uploaded
    assert got.headers["content-type"] == "video/mp4"
    assert 'filename="Harbour _ at dawn.mp4"' in got.headers["content-disposition"]
    stranger = Browser(browser.client)
    stranger.log_in(other.email.value)
    assert "/source" not in stranger.get(f"/watch/{video_id}").text
    assert stranger.get(f"/watch/{video_id}/source").status_code == 403
    private = videos.make(owner, "Private one", Visibility.PRIVATE)
    assert stranger.get(f"/watch/{private}/source").status_code == 404
    assert Browser(browser.client).get(f"/watch/{video_id}/source").status_code == 303
    checker = Browser(browser.client)
    checker.log_in(moderator.email.value)
    assert checker.get(f"/watch/{private}/source").status_code == 200
    audited = platform.audit.search(Caller(moderator.id)).items
    assert any(
        e.actor_id == moderator.id and e.resource_id == private and e.metadata.get("privileged")
        for e in audited
    ), [(e.action, e.actor_id, e.resource_id, dict(e.metadata)) for e in audited]
