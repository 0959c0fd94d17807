"""The web application in a real browser: Debian's Chromium driven by Playwright against
``videoplatform serve`` on the embedded profile, with a video really processed by ffmpeg.

Each page is checked with axe-core (no serious or critical violation), at a phone's
width and a desktop's, under the site's content policy (no violation reported), and
with no request leaving the site. A missing Chromium skips these tests, or fails them
under ``VIDEOPLATFORM_REQUIRE_SERVICES=1`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from bench import clips as media_clips
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import REQUIRE_SERVICES_ENV, services_required
from tests.integration.served import API, EXE, Served, process_env

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FAST_MEDIA = {
    "VIDEOPLATFORM_X264_PRESET": "ultrafast",
    "VIDEOPLATFORM_HLS_SEGMENT_SECONDS": "1",
    "VIDEOPLATFORM_POSTER_WIDTHS": "320,640",
}
PASSWORD = "a long passphrase for the browser"
HOME_WEIGHT_LIMIT = 100 * 1024
SERIOUS = {"serious", "critical"}
FOCUSED = "() => { const e = document.activeElement; return e.id || e.className; }"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        reason = f"Debian's chromium is not installed at {CHROMIUM}"
        if services_required():
            pytest.fail(f"chromium is required ({REQUIRE_SERVICES_ENV}=1): {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served(tmp_path_factory.mktemp("web"), env=FAST_MEDIA)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def published(server: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A creator with one public video, processed for real (two rungs, 8 seconds)."""
    clip = media_clips.clip(
        tmp_path_factory.mktemp("clip"), "clip.mp4", width=854, height=480, duration=8.0
    )
    email = "creator@example.com"
    with httpx.Client(base_url=server.url, timeout=30) as http:
        registered = http.post(
            f"{API}/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Creator Cat"},
        )
        assert registered.status_code == 202, registered.text
        token = http.post(f"{API}/auth/session", json={"email": email, "password": PASSWORD})
        me = {"Authorization": f"Bearer {token.json()['token']}"}
        uploaded = http.post(
            f"{API}/videos",
            params={"title": "Lighthouse at dusk", "visibility": "public"},
            content=clip.read_bytes(),
            headers={**me, "Content-Type": "video/mp4"},
        )
        assert uploaded.status_code == 201, uploaded.text
        video_id = str(uploaded.json()["id"])
        deadline = time.monotonic() + 120
        status = ""
        while time.monotonic() < deadline:
            status = http.get(f"{API}/videos/{video_id}", headers=me).json()["status"]
            if status in ("ready", "failed"):
                break
            time.sleep(0.2)
        assert status == "ready"
    return {"video_id": video_id, "email": email, "token": me["Authorization"]}


class Visit:
    """A fresh browser context that records what leaves the page and what the content
    policy blocks."""

    def __init__(self, browser: Browser, origin: str, width: int = 1280) -> None:
        self.origin = origin
        self.context: BrowserContext = browser.new_context(
            base_url=origin, viewport={"width": width, "height": 800}
        )
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.requests: list[str] = []
        self.violations: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(message.text)

    def close(self) -> None:
        self.context.close()

    def check(self) -> None:
        """Nothing left the site, nothing was blocked, no script failed."""
        elsewhere = [u for u in self.requests if not u.startswith((self.origin, "blob:", "data:"))]
        assert elsewhere == []
        assert self.violations == []
        assert self.errors == []


def serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]


def log_in(visit: Visit, email: str) -> None:
    page = visit.page
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(visit.origin + "/")


def test_a_visitor_finds_the_video_on_the_home_page_and_watches_it(
    chromium: Browser, server: Served, published: dict[str, str]
) -> None:
    visit = Visit(chromium, server.url)
    try:
        page = visit.page
        page.goto("/")
        card = page.get_by_role("link", name="Lighthouse at dusk")
        poster = page.locator("ul.grid img").first
        poster.wait_for()
        assert page.evaluate("img => img.naturalWidth", poster.element_handle()) > 0
        card.click()
        page.wait_for_url(f"**/watch/{published['video_id']}")
        page.get_by_role("button", name="Play").click()
        page.wait_for_function("() => document.querySelector('video').currentTime > 1.5")
        # hls.js read the ladder: Auto and both rungs.
        options = page.locator("#player-quality option").all_text_contents()
        assert options[0] == "Auto" and {"480p", "360p"} <= set(options)
        page.select_option("#player-quality", label="360p")
        # Keys: m mutes, k pauses.
        page.locator("#player").focus()
        page.keyboard.press("m")
        assert page.evaluate("document.querySelector('video').muted") is True
        # After five seconds of playback the view is counted, once.
        page.wait_for_function(
            "() => document.querySelector('video').currentTime > 6", timeout=30_000
        )
        page.keyboard.press("k")
        assert page.evaluate("document.querySelector('video').paused") is True
        deadline = time.monotonic() + 10
        views = 0
        while time.monotonic() < deadline and views < 1:
            views = httpx.get(f"{server.url}{API}/videos/{published['video_id']}").json()[
                "view_count"
            ]
            time.sleep(0.2)
        assert views == 1
        # The position is kept for this browser.
        kept = page.evaluate(f"localStorage.getItem('vp-position:{published['video_id']}')")
        assert kept is not None and float(kept) > 4
        visit.check()
    finally:
        visit.close()


def test_the_storyboard_previews_the_frame_under_the_pointer(
    chromium: Browser, server: Served, published: dict[str, str]
) -> None:
    visit = Visit(chromium, server.url)
    try:
        page = visit.page
        page.goto(f"/watch/{published['video_id']}")
        page.wait_for_function("() => isFinite(document.querySelector('video').duration)")
        seek = page.locator("#player-seek")
        box = seek.bounding_box()
        assert box is not None
        page.wait_for_timeout(500)  # the storyboard's cues arrive
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
        preview = page.locator(".preview")
        preview.wait_for(state="visible")
        image = page.evaluate("getComputedStyle(document.querySelector('.tile')).backgroundImage")
        assert "/api/v1/play/" in image and "storyboard" in image
        assert page.locator(".preview-time").text_content() not in ("", "0:00")
        visit.check()
    finally:
        visit.close()


def test_signing_up_and_in_through_the_forms(chromium: Browser, server: Served) -> None:
    visit = Visit(chromium, server.url)
    try:
        page = visit.page
        page.goto("/register")
        page.get_by_label("Email").fill("reader@example.com")
        page.get_by_label("Display name").fill("Reader Rabbit")
        page.get_by_label("Password", exact=True).fill("short")
        page.get_by_label("Password again").fill("short")
        page.get_by_role("button", name="Sign up").click()
        # Back with a message beside the field, the address kept, the passwords not.
        assert page.locator("#e-password").is_visible()
        assert page.get_by_label("Email").input_value() == "reader@example.com"
        assert page.get_by_label("Password", exact=True).input_value() == ""
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password again").fill(PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url("**/login?done=registered")
        log_in(visit, "reader@example.com")
        assert page.get_by_role("link", name="Reader Rabbit").is_visible()
        cookies = {c["name"]: c for c in visit.context.cookies()}
        assert cookies["vp_session"]["httpOnly"] and cookies["vp_session"]["sameSite"] == "Lax"
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(server.url + "/")
        assert page.get_by_role("link", name="Log in").is_visible()
        visit.check()
    finally:
        visit.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_every_page_is_accessible_and_fits_the_screen(
    chromium: Browser, server: Served, published: dict[str, str], width: int
) -> None:
    visit = Visit(chromium, server.url, width)
    try:
        page = visit.page
        pages = [
            "/",
            f"/watch/{published['video_id']}",
            "/search?q=lighthuose",  # typo'd: the search corrects it
            "/login",
            "/register",
            "/verify",
            "/password/forgot",
            "/password/reset",
            "/no-such-page",
        ]
        for path in pages:
            page.goto(path)
            page.wait_for_load_state("load")
            assert serious_violations(page) == [], path
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (path, overflow)
        page.goto("/search?q=lighthuose")
        assert page.get_by_role("link", name="Lighthouse at dusk").count() >= 1
        visit.check()
    finally:
        visit.close()


def test_the_keyboard_reaches_every_control(
    chromium: Browser, server: Served, published: dict[str, str]
) -> None:
    visit = Visit(chromium, server.url)
    try:
        page = visit.page
        page.goto(f"/watch/{published['video_id']}")
        page.wait_for_selector(".controls:not([hidden])")
        reached = set()
        for _ in range(40):
            page.keyboard.press("Tab")
            reached.add(page.evaluate(FOCUSED))
        for control in (
            "site-search",
            "play",
            "player-seek",
            "mute",
            "player-volume",
            "fullscreen",
        ):
            assert control in reached, (control, reached)
        visit.check()
    finally:
        visit.close()


def test_the_home_page_is_light_and_loads_nothing_from_elsewhere(
    chromium: Browser, server: Served, published: dict[str, str]
) -> None:
    visit = Visit(chromium, server.url)
    try:
        page = visit.page
        sizes: dict[str, int] = {}

        def measure(response: Any) -> None:
            kind = response.request.resource_type
            if kind in ("document", "stylesheet", "script"):
                sizes[response.url] = len(response.body())

        page.on("response", measure)
        page.goto("/")
        page.wait_for_load_state("networkidle")
        assert sum(sizes.values()) < HOME_WEIGHT_LIMIT, sizes
        assert not any("hls" in url for url in visit.requests)  # the player's library
        visit.check()
    finally:
        visit.close()


def test_a_creator_uploads_in_the_browser_and_sees_processing_finish_live(
    chromium: Browser,
    server: Served,
    published: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    clip = media_clips.clip(
        tmp_path_factory.mktemp("upload"), "harbour.mp4", width=640, height=360, duration=30.0
    )
    visit = Visit(chromium, server.url)
    try:
        page = visit.page
        log_in(visit, published["email"])
        page.goto("/upload")
        assert serious_violations(page) == []
        # The first attempt to send bytes drops; tus-js-client asks where the upload
        # stands and sends the rest.
        dropped: list[str] = []
        sent: list[str] = []

        def flaky(route: Any) -> None:
            if route.request.method == "PATCH":
                sent.append(route.request.url)
                if not dropped:
                    dropped.append(route.request.url)
                    route.abort("connectionreset")
                    return
            route.continue_()

        page.route("**/api/v1/uploads/**", flaky)
        page.set_input_files("#upload-files", str(clip))
        opened = page.get_by_role("link", name="open it")
        opened.wait_for(timeout=60_000)
        assert dropped and len(sent) >= 2
        video_id = (opened.get_attribute("href") or "").rsplit("/", 1)[-1]
        page.unroute("**/api/v1/uploads/**")
        served = page.goto("/my/videos")
        assert served is not None
        # Still processing when the page was made (a 30-second clip takes a while)...
        assert re.search(
            rf'data-video-id="{video_id}" data-status="(uploaded|processing)"', served.text()
        )
        row = page.locator(f'tr[data-video-id="{video_id}"]')
        assert serious_violations(page) == []
        # ...and ready while it is open: the row follows the event stream.
        page.wait_for_function(
            f"() => document.querySelector('tr[data-video-id=\"{video_id}\"]')"
            ".dataset.status === 'ready'",
            timeout=120_000,
        )
        assert row.locator(".status").text_content() == "ready"
        row.get_by_role("link", name="Edit harbour").click()
        assert serious_violations(page) == []
        page.get_by_label("Title").fill("Harbour at noon")
        page.get_by_label("Who may watch it").select_option("public")
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Saved.").wait_for()
        page.goto("/")
        assert page.get_by_role("link", name="Harbour at noon").count() >= 1
        visit.check()
    finally:
        visit.close()


def test_a_link_with_a_password_plays_for_whoever_has_both(
    chromium: Browser, server: Served, published: dict[str, str]
) -> None:
    owner = Visit(chromium, server.url)
    recipient = Visit(chromium, server.url)
    try:
        page = owner.page
        log_in(owner, published["email"])
        page.goto(f"/watch/{published['video_id']}")
        page.get_by_role("link", name="Share").click()
        page.get_by_label("Password").fill("harbour lights")
        page.get_by_label("Number of uses").fill("2")
        page.get_by_role("button", name="Make the link").click()
        url = page.get_by_label("Link").input_value()
        assert "/s#" in url
        assert serious_violations(page) == []
        other = recipient.page
        other.goto(url)
        other.get_by_label("Password").fill("not it")
        other.get_by_role("button", name="Open").click()
        other.get_by_text("That password is wrong.").wait_for()
        other.get_by_label("Password").fill("harbour lights")
        other.get_by_role("button", name="Open").click()
        other.get_by_role("heading", name="Lighthouse at dusk").wait_for()
        other.get_by_role("button", name="Play").click()
        other.wait_for_function("() => document.querySelector('video').currentTime > 1")
        assert serious_violations(other) == []
        # The owner sees the use counted (the wrong password was not a use).
        page.goto("/my/shares")
        assert page.locator("td", has_text="1 of 2").count() == 1
        owner.check()
        recipient.check()
    finally:
        owner.close()
        recipient.close()


def test_a_shared_file_downloads_from_its_link(
    chromium: Browser, server: Served, published: dict[str, str]
) -> None:
    stored = httpx.post(
        f"{server.url}{API}/files",
        params={"name": "tide-table.txt"},
        content=b"high water 06:12\n",
        headers={"Authorization": published["token"], "Content-Type": "text/plain"},
    )
    assert stored.status_code == 201, stored.text
    owner = Visit(chromium, server.url)
    recipient = Visit(chromium, server.url)
    try:
        page = owner.page
        log_in(owner, published["email"])
        page.goto(f"/my/shares/new?file={stored.json()['id']}")
        page.get_by_role("button", name="Make the link").click()
        url = page.get_by_label("Link").input_value()
        other = recipient.page
        other.goto(url)
        with other.expect_download() as download:
            other.get_by_role("button", name="Download the file").click()
        assert download.value.suggested_filename == "tide-table.txt"
        path = download.value.path()
        assert Path(path).read_bytes() == b"high water 06:12\n"
        owner.check()
        recipient.check()
    finally:
        owner.close()
        recipient.close()


def test_an_administrators_pages_are_accessible_and_work(
    chromium: Browser, server: Served, published: dict[str, str]
) -> None:
    made = subprocess.run(
        [EXE, "createadmin", "--email", "admin@example.com", "--password-stdin"],
        input=PASSWORD + "\n",
        env=process_env({"VIDEOPLATFORM_DATA_DIR": str(server.folder / "data"), **FAST_MEDIA}),
        cwd=server.folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    visit = Visit(chromium, server.url, 375)
    try:
        page = visit.page
        log_in(visit, "admin@example.com")
        for path in (
            "/admin/queue",
            "/admin/users",
            "/admin/categories",
            "/admin/audit",
            "/account/tokens",
            "/account/sessions",
            "/my/shares",
        ):
            page.goto(path)
            assert serious_violations(page) == [], path
        page.goto("/admin/categories")
        page.get_by_label("Name", exact=True).fill("Seascapes")
        page.get_by_role("button", name="Add it").click()
        page.get_by_role("link", name="Seascapes").wait_for()
        page.goto("/admin/audit?action=category.create")
        assert page.locator("td", has_text="category.create").count() == 1
        with page.expect_download() as exported:
            page.get_by_role("link", name="CSV").click()
        assert "category.create" in Path(exported.value.path()).read_text()
        visit.check()
    finally:
        visit.close()


def test_files_go_up_into_a_folder_and_come_back_down(
    chromium: Browser,
    server: Served,
    published: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    notes = tmp_path_factory.mktemp("files") / "logbook.txt"
    notes.write_bytes(b"wind NW 4, sea slight\n" * 1000)
    visit = Visit(chromium, server.url)
    try:
        page = visit.page
        log_in(visit, published["email"])
        page.goto("/my/files?folder=/voyages/2026")
        assert serious_violations(page) == []
        page.set_input_files("#upload-files", str(notes))
        page.get_by_role("link", name="show the folder").click()
        page.get_by_role("link", name="logbook.txt", exact=True).wait_for()
        with page.expect_download() as download:
            page.get_by_role("link", name="logbook.txt", exact=True).click()
        assert Path(download.value.path()).read_bytes() == notes.read_bytes()
        page.goto("/my/files")
        page.get_by_role("link", name="voyages/").click()
        page.get_by_role("link", name="2026/").wait_for()
        visit.check()
    finally:
        visit.close()


def test_the_search_box_offers_completions_as_one_types(
    chromium: Browser, server: Served, published: dict[str, str]
) -> None:
    visit = Visit(chromium, server.url)
    try:
        page = visit.page
        page.goto("/")
        page.get_by_label("Search videos").press_sequentially("lightho", delay=30)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#site-search-suggestions option')]"
            ".some(o => o.value === 'Lighthouse at dusk')"
        )
        # Choosing the completion searches for it.
        page.get_by_label("Search videos").fill("Lighthouse at dusk")
        page.get_by_label("Search videos").press("Enter")
        page.wait_for_url("**/search?q=Lighthouse+at+dusk")
        assert page.get_by_role("link", name="Lighthouse at dusk").count() >= 1
        visit.check()
    finally:
        visit.close()
