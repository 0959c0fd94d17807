"""The web application in a real browser: Debian's Chromium driven by Playwright against
``videoplatform serve`` on the embedded profile, with a video really processed by ffmpeg.

Each page is checked with axe-core (no serious or critical violation), at a phone's
width and a desktop's, under the site's content policy (no violation reported), and
with no request leaving the site. A missing Chromium skips these tests, or fails them
under ``VIDEOPLATFORM_REQUIRE_SERVICES=1`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import imageio_ffmpeg
import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from bench import clips as media_clips
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import REQUIRE_SERVICES_ENV, services_required
from tests.integration.served import API, EXE, Served, process_env
from tests.integration.test_mail_smtp import Inbox, code_in, free_port
from tests.integration.test_mail_smtp import start as start_smtp

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

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
ARTIFACTS = (
    Path(os.environ.get("VIDEOPLATFORM_TEST_ARTIFACTS", Path(__file__).parents[2] / "build"))
    / "test-artifacts"
    / "web"
)
"""Where the pages' screenshots go (``VIDEOPLATFORM_TEST_ARTIFACTS`` moves them)."""
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


class Mailbox(NamedTuple):
    inbox: Inbox
    port: int


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on loopback that keeps what the platform mails."""
    box = Mailbox(Inbox(), free_port())
    controller = start_smtp(box.inbox, box.port)
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[Served]:
    env = {
        **FAST_MEDIA,
        "VIDEOPLATFORM_MAIL_URL": f"smtp://127.0.0.1:{mailbox.port}",
        "VIDEOPLATFORM_REQUIRE_EMAIL_VERIFICATION": "true",
    }
    served = Served(tmp_path_factory.mktemp("web"), env=env)
    yield served
    served.stop()


def mailed_code(mailbox: Mailbox, address: str) -> str:
    """The code in the newest mail to ``address`` (waiting for it to arrive)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        mine = [m for m in mailbox.inbox.messages if m["To"] == address]
        if mine:
            return code_in(mine[-1])
        time.sleep(0.05)
    raise AssertionError(f"no mail reached {address}")


def member(server: Served, mailbox: Mailbox, email: str, name: str) -> dict[str, str]:
    """A creator account, registered and confirmed through the API; its bearer header."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        body = {"email": email, "password": PASSWORD, "display_name": name}
        assert http.post(f"{API}/auth/register", json=body).status_code == 202
        verified = http.post(f"{API}/auth/verify", json={"token": mailed_code(mailbox, email)})
        assert verified.status_code == 200, verified.text
        token = http.post(f"{API}/auth/session", json={"email": email, "password": PASSWORD})
        assert token.status_code == 201, token.text
        return {"Authorization": f"Bearer {token.json()['token']}"}


def wait_until_processed(http: httpx.Client, me: dict[str, str], video_id: str) -> str:
    deadline = time.monotonic() + 120
    status = ""
    while time.monotonic() < deadline:
        status = http.get(f"{API}/videos/{video_id}", headers=me).json()["status"]
        if status in ("ready", "failed"):
            break
        time.sleep(0.2)
    return status


@pytest.fixture(scope="module")
def published(
    server: Served, mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """A creator with one public video, processed for real (two rungs, 8 seconds)."""
    clip = media_clips.clip(
        tmp_path_factory.mktemp("clip"), "clip.mp4", width=854, height=480, duration=8.0
    )
    email = "creator@example.com"
    me = member(server, mailbox, email, "Creator Cat")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        uploaded = http.post(
            f"{API}/videos",
            params={"title": "Lighthouse at dusk", "visibility": "public"},
            content=clip.read_bytes(),
            headers={**me, "Content-Type": "video/mp4"},
        )
        assert uploaded.status_code == 201, uploaded.text
        video_id = str(uploaded.json()["id"])
        assert wait_until_processed(http, me, video_id) == "ready"
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

    def shot(self, name: str) -> None:
        """A screenshot of the whole page, kept among the test run's artifacts."""
        width = self.page.viewport_size["width"] if self.page.viewport_size else 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)

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


Visits = Callable[..., Visit]


@pytest.fixture
def visits(chromium: Browser, server: Served) -> Iterator[Visits]:
    """``visits(width=1280)``: a fresh browser context on the server; all are closed
    when the test ends."""
    opened: list[Visit] = []

    def visit(width: int = 1280) -> Visit:
        opened.append(Visit(chromium, server.url, width))
        return opened[-1]

    yield visit
    for each in opened:
        each.close()


def wait_for_status(page: Page, video_id: str, status: str) -> None:
    """Until My videos shows the video in ``status``, as its script updates the row."""
    page.wait_for_function(
        f"() => document.querySelector('tr[data-video-id=\"{video_id}\"]')"
        f".dataset.status === '{status}'",
        timeout=120_000,
    )


def log_in(visit: Visit, email: str) -> None:
    page = visit.page
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(visit.origin + "/")


def test_a_visitor_finds_the_video_on_the_home_page_and_watches_it(
    visits: Visits, server: Served, published: dict[str, str]
) -> None:
    visit = visits()
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
    page.wait_for_function("() => document.querySelector('video').currentTime > 6", timeout=30_000)
    page.keyboard.press("k")
    assert page.evaluate("document.querySelector('video').paused") is True
    deadline = time.monotonic() + 10
    views = 0
    while time.monotonic() < deadline and views < 1:
        views = httpx.get(f"{server.url}{API}/videos/{published['video_id']}").json()["view_count"]
        time.sleep(0.2)
    assert views == 1
    # The position is kept for this browser.
    kept = page.evaluate(f"localStorage.getItem('vp-position:{published['video_id']}')")
    assert kept is not None and float(kept) > 4
    visit.check()


def test_the_storyboard_previews_the_frame_under_the_pointer(
    visits: Visits, server: Served, published: dict[str, str]
) -> None:
    visit = visits()
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


def test_a_newcomer_signs_up_confirms_uploads_and_watches(
    visits: Visits, server: Served, mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> None:
    clip = media_clips.clip(
        tmp_path_factory.mktemp("newcomer"), "kites.mp4", width=854, height=480, duration=20.0
    )
    visit = visits()
    page = visit.page
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Email").fill("reader@example.com")
    page.get_by_label("Display name").fill("Reader Rabbit")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password again").fill("short")
    page.get_by_role("button", name="Sign up").click()
    # Back with a message beside the field, the address kept, the passwords not.
    assert page.locator("#e-password").is_visible()
    assert page.get_by_label("Email").input_value() == "reader@example.com"
    assert page.get_by_label("Password", exact=True).input_value() == ""
    visit.shot("register-refused")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/login?done=registered")
    page.get_by_role("link", name="Confirm your address").click()
    page.get_by_label("Code").fill(mailed_code(mailbox, "reader@example.com"))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/login?done=verified")
    log_in(visit, "reader@example.com")
    assert page.get_by_role("link", name="Reader Rabbit").is_visible()
    cookies = {c["name"]: c for c in visit.context.cookies()}
    assert cookies["vp_session"]["httpOnly"] and cookies["vp_session"]["sameSite"] == "Lax"
    # Upload through the page: a progress bar, then a link to the new video.
    page.get_by_role("link", name="Upload").click()
    page.get_by_label("Who may watch them").select_option("public")
    page.set_input_files("#upload-files", str(clip))
    page.get_by_role("progressbar", name="Upload of kites.mp4").wait_for()
    opened = page.get_by_role("link", name="open it")
    opened.wait_for(timeout=60_000)
    assert page.get_by_role("progressbar").get_attribute("value") == "100"
    video_id = (opened.get_attribute("href") or "").rsplit("/", 1)[-1]
    visit.shot("upload")
    served = page.goto("/my/videos")
    assert served is not None
    # Still processing when the page was made (20 seconds of 480p take a while)...
    assert re.search(
        rf'data-video-id="{video_id}" data-status="(uploaded|processing)"', served.text()
    )
    # ...and ready while it is open: the row follows the event stream, no reload.
    wait_for_status(page, video_id, "ready")
    visit.shot("my-videos")
    # The watch page plays through hls.js (the rungs in the quality menu)...
    page.goto(f"/watch/{video_id}")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("() => document.querySelector('video').currentTime > 1")
    assert len(page.locator("#player-quality option").all()) >= 2
    assert any("hls.min" in url for url in visit.requests)
    # ...and through the browser's own HLS player where Media Source Extensions are
    # missing (as on older iPhones).
    native = visits()
    native.context.add_init_script("delete window.MediaSource; delete window.ManagedMediaSource;")
    native.page.goto(f"/watch/{video_id}")
    native.page.get_by_role("button", name="Play").click()
    native.page.wait_for_function("() => document.querySelector('video').currentTime > 1")
    assert not any("hls.min" in url for url in native.requests)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(server.url + "/")
    assert page.get_by_role("link", name="Log in").is_visible()
    visit.check()
    native.check()


@pytest.mark.parametrize("width", [375, 1280])
def test_every_page_is_accessible_and_fits_the_screen(
    visits: Visits, server: Served, published: dict[str, str], width: int
) -> None:
    visit = visits(width)
    page = visit.page
    owner = httpx.get(
        f"{server.url}{API}/auth/me", headers={"Authorization": published["token"]}
    ).json()["id"]
    pages = [
        "/",
        f"/channel/{owner}",
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
        name = path.strip("/").split("?")[0].replace("/", "-") or "home"
        visit.shot(name.replace(published["video_id"], "video").replace(owner, "creator"))
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    page.goto("/search?q=lighthuose")
    assert page.get_by_role("link", name="Lighthouse at dusk").count() >= 1
    visit.check()


def test_the_keyboard_reaches_every_control(
    visits: Visits, server: Served, published: dict[str, str]
) -> None:
    visit = visits()
    page = visit.page
    page.goto(f"/watch/{published['video_id']}")
    page.wait_for_selector(".controls:not([data-waiting])")
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


def test_the_home_page_is_light_and_loads_nothing_from_elsewhere(
    visits: Visits, server: Served, published: dict[str, str]
) -> None:
    visit = visits()
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


def test_a_failed_upload_says_why_and_a_private_video_is_a_404_to_others(
    visits: Visits,
    server: Served,
    mailbox: Mailbox,
    published: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    broken = tmp_path_factory.mktemp("broken") / "broken.mp4"
    broken.write_bytes(media_clips.MP4_HEAD + bytes(range(256)) * 64)  # no stream in it
    visit = visits()
    page = visit.page
    log_in(visit, published["email"])
    page.goto("/upload")
    page.get_by_label("Who may watch them").select_option("private")
    page.set_input_files("#upload-files", str(broken))
    opened = page.get_by_role("link", name="open it")
    opened.wait_for(timeout=60_000)
    video_id = (opened.get_attribute("href") or "").rsplit("/", 1)[-1]
    page.goto("/my/videos")
    wait_for_status(page, video_id, "failed")
    page.reload()
    reason = page.locator(f'tr[data-video-id="{video_id}"] .why').text_content() or ""
    assert len(reason.strip()) > 10, reason
    assert serious_violations(page) == []
    visit.shot("my-videos-failed")
    # Another member gets the same page as for a video that does not exist.
    stranger = visits()
    member(server, mailbox, "stranger@example.com", "Stranger")
    log_in(stranger, "stranger@example.com")
    hidden = stranger.page.goto(f"/watch/{video_id}")
    assert hidden is not None and hidden.status == 404
    assert stranger.page.get_by_role("heading", name="Not found").is_visible()
    missing = stranger.page.goto("/watch/no-such-video")
    assert missing is not None and missing.status == 404
    stranger.shot("not-found")
    # The owner edits a video through the form.
    page.goto("/my/videos")
    page.get_by_role("link", name="Edit Lighthouse at dusk").click()
    assert serious_violations(page) == []
    page.get_by_label("Description").fill("The light comes on as the sun goes down.")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved.").wait_for()
    visit.shot("edit-video")
    page.goto(f"/watch/{published['video_id']}")
    page.get_by_text("The light comes on as the sun goes down.").wait_for()
    # The failed one goes, after a page that asks.
    page.goto(f"/my/videos/{video_id}/delete")
    assert serious_violations(page) == []
    visit.shot("delete-video")
    page.get_by_role("button", name="Delete it").click()
    page.get_by_text("The video was deleted.").wait_for()
    visit.check()
    stranger.check()


def test_a_link_with_a_password_plays_for_whoever_has_both(
    visits: Visits, server: Served, published: dict[str, str]
) -> None:
    owner = visits()
    recipient = visits()
    page = owner.page
    log_in(owner, published["email"])
    page.goto(f"/watch/{published['video_id']}")
    page.get_by_role("link", name="Share").click()
    page.get_by_label("Password").fill("harbour lights")
    page.get_by_label("Number of uses").fill("2")
    page.get_by_role("button", name="Make the link").click()
    owner.shot("share-made")
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
    # The owner sees the use counted (the wrong password was not a use), and revokes.
    page.goto("/my/shares")
    assert page.locator("td", has_text="1 of 2").count() == 1
    owner.shot("my-shares")
    page.get_by_role("button", name="Revoke").first.click()
    page.get_by_text("The link was revoked.").wait_for()
    other.goto("/")
    other.goto(url)
    other.get_by_text("This link was revoked by its owner.").wait_for()
    recipient.shot("share-revoked")
    owner.check()
    recipient.check()


def test_a_shared_file_downloads_from_its_link(
    visits: Visits, server: Served, published: dict[str, str]
) -> None:
    stored = httpx.post(
        f"{server.url}{API}/files",
        params={"name": "tide-table.txt"},
        content=b"high water 06:12\n",
        headers={"Authorization": published["token"], "Content-Type": "text/plain"},
    )
    assert stored.status_code == 201, stored.text
    owner = visits()
    recipient = visits()
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


def test_an_administrators_pages_are_accessible_and_work(
    visits: Visits, server: Served, mailbox: Mailbox, published: dict[str, str]
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
    visit = visits(375)
    page = visit.page
    log_in(visit, "admin@example.com")
    for path in (
        "/admin/queue",
        "/admin/users",
        "/admin/categories",
        "/admin/audit",
        "/account/profile",
        "/account/tokens",
        "/account/sessions",
        "/account/two-factor",
        "/account/email",
        "/account/export",
        "/account/delete",
        "/my/shares",
    ):
        page.goto(path)
        assert serious_violations(page) == [], path
        visit.shot(path.strip("/").replace("/", "-"))
    # A member with a session open is made a viewer, then disabled: the next click of
    # theirs finds them signed out.
    member(server, mailbox, "troll@example.com", "Troll")
    troll = visits()
    log_in(troll, "troll@example.com")
    troll.page.goto("/")
    page.goto("/admin/users")
    page.get_by_label("Find by name or address").fill("troll")
    page.get_by_role("button", name="Find").click()
    row = page.locator("tr", has_text="troll@example.com")
    row.get_by_label("creator").uncheck()
    row.get_by_label("viewer").check()
    row.get_by_role("button", name="Save roles").click()
    page.get_by_text("Done (roles").wait_for()
    row = page.locator("tr", has_text="troll@example.com")
    assert row.get_by_label("viewer").is_checked() and not row.get_by_label("creator").is_checked()
    row.get_by_role("button", name="Disable").click()
    page.get_by_text("Done (disable").wait_for()
    troll.page.get_by_role("link", name="My videos").click()
    troll.page.wait_for_url("**/login?next=%2Fmy%2Fvideos")
    assert troll.page.get_by_role("link", name="Log in").is_visible()
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


def test_a_file_cut_off_mid_way_resumes_and_comes_back_byte_for_byte(
    visits: Visits,
    server: Served,
    published: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    logbook = tmp_path_factory.mktemp("files") / "logbook.bin"
    logbook.write_bytes(os.urandom(20 * 1024 * 1024))  # three 8 MiB requests
    visit = visits()
    page = visit.page
    log_in(visit, published["email"])
    page.goto("/my/files?folder=/voyages/2026")
    assert serious_violations(page) == []
    # The second request's connection drops: tus-js-client asks how far the upload
    # got and sends the rest from there.
    sent: list[int] = []

    def flaky(route: Any) -> None:
        if route.request.method == "PATCH":
            sent.append(int(route.request.headers["upload-offset"]))
            if len(sent) == 2:
                route.abort("connectionreset")
                return
        route.continue_()

    page.route("**/api/v1/uploads/**", flaky)
    page.set_input_files("#upload-files", str(logbook))
    page.get_by_role("link", name="show the folder").wait_for(timeout=60_000)
    page.unroute("**/api/v1/uploads/**")
    chunk = 8 * 1024 * 1024
    assert sent[:2] == [0, chunk] and sent[2] == chunk  # resumed where the drop happened
    page.get_by_role("link", name="show the folder").click()
    link = page.get_by_role("link", name="logbook.bin", exact=True)
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == logbook.read_bytes()
    visit.shot("my-files")
    page.goto("/my/files")
    page.get_by_role("link", name="voyages/").click()
    page.get_by_role("link", name="2026/").wait_for()
    visit.check()


def test_the_search_box_offers_completions_as_one_types(
    visits: Visits, server: Served, published: dict[str, str]
) -> None:
    visit = visits()
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


def test_two_factor_login_is_set_up_from_its_qr_code_page_and_asked_for_at_login(
    visits: Visits, server: Served, mailbox: Mailbox
) -> None:
    """A member turns two-factor login on from the page (the QR code drawn under the
    content policy, the key beside it), keeps the recovery codes shown once, logs out,
    and logs in again with the code their app shows; then once with a recovery code."""
    member(server, mailbox, "ada@example.com", "Ada")
    visit = visits(375)
    page = visit.page
    log_in(visit, "ada@example.com")
    page.goto("/account/two-factor")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Set up two-factor login").click()
    assert page.locator(".qr svg").is_visible()
    assert serious_violations(page) == []
    visit.shot("account-two-factor-qr")
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    page.get_by_label("The code it shows now").fill(totp.at(time.time() - 30))
    page.get_by_role("button", name="Turn two-factor login on").click()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("button", name="Log out").click()

    page.goto("/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code from your authenticator app").wait_for()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(visit.origin + "/")
    page.get_by_role("button", name="Log out").click()
    page.goto("/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(codes[0])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(visit.origin + "/")
    visit.check()


def test_an_avatar_is_chosen_on_the_profile_page_and_shown_on_the_channel(
    visits: Visits, server: Served, mailbox: Mailbox, tmp_path: Path
) -> None:
    """The profile page sends the chosen picture through the API (the real ffmpeg makes
    the squares), and the channel shows it."""
    member(server, mailbox, "grace@example.com", "Grace")
    photo = tmp_path / "me.jpg"
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1",
         "-y", str(photo)],
        check=True,
    )  # fmt: skip
    visit = visits()
    page = visit.page
    log_in(visit, "grace@example.com")
    page.goto("/account/profile")
    page.get_by_label("Avatar").set_input_files(str(photo))
    page.locator("img.avatar").wait_for()
    channel = page.locator("img.avatar").get_attribute("src")
    assert channel is not None and channel.startswith("/api/v1/users/")
    shown = page.request.get(channel)
    assert shown.ok and shown.headers["content-type"] == "image/jpeg"
    page.get_by_role("link", name="Grace").click()
    assert page.locator(".channel-head img.avatar").is_visible()
    visit.check()


def test_the_link_in_a_confirmation_mail_fills_the_code_in(
    visits: Visits, server: Served, mailbox: Mailbox
) -> None:
    """A mail's link is the site's page with the code in its fragment (as the mail
    writes it when the public URL is set): opened, the page fills the code in and
    clears it from the address bar; one click confirms the account."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        body = {"email": "linked@example.com", "password": PASSWORD, "display_name": "Linked"}
        assert http.post(f"{API}/auth/register", json=body).status_code == 202
    code = mailed_code(mailbox, "linked@example.com")
    visit = visits()
    page = visit.page
    page.goto(f"/verify#{code}")
    assert page.get_by_label("Code").input_value() == code
    assert "#" not in page.url
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/login?done=verified")
    log_in(visit, "linked@example.com")
    visit.check()
