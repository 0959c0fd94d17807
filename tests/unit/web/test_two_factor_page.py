"""The two-factor login page: set up with a QR code and a first code, recovery codes
shown once, login asking for the code, and a role that requires it."""

from __future__ import annotations

import re
from datetime import timedelta

import attrs
import pyotp
import pytest

from tests.unit.conftest import CHEAP_ARGON2, PASSWORD
from tests.unit.web.conftest import Browser, MakeUser
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.entrypoints.settings import Settings

SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
CODES = re.compile(r"<li><code>([a-z0-9-]{19})</code></li>")


def set_up(browser: Browser, clock: ManualClock) -> list[str]:
    """Two-factor login on through the page; the recovery codes shown."""
    page = browser.get("/account/two-factor")
    assert page.status_code == 200 and 'action="/account/two-factor/begin"' in page.text
    begun = browser.post("/account/two-factor/begin", {"password": PASSWORD})
    assert begun.status_code == 201 and begun.headers["cache-control"] == "no-store"
    assert '<div class="qr"><svg' in begun.text
    found = SECRET.search(begun.text)
    assert found is not None
    wrong = browser.post("/account/two-factor/confirm", {"code": "000000"})
    assert wrong.status_code == 422 and 'id="e-code"' in wrong.text
    confirmed = browser.post(
        "/account/two-factor/confirm", {"code": pyotp.TOTP(found.group(1)).at(clock.now())}
    )
    assert confirmed.status_code == 200
    codes = CODES.findall(confirmed.text)
    assert len(codes) == 10
    assert "Two-factor login is <strong>on</strong>" in browser.get("/account/two-factor").text
    assert not CODES.findall(browser.get("/account/two-factor").text)  # shown once
    clock.advance(timedelta(seconds=30))
    return [found.group(1), *codes]


def test_set_up_then_log_in_with_a_code(
    browser: Browser, make_user: MakeUser, clock: ManualClock
) -> None:
    user = make_user()
    browser.log_in(user.email.value)
    secret, *_ = set_up(browser, clock)
    browser.post("/logout")

    asked = browser.log_in(user.email.value)
    assert asked.status_code == 401 and 'id="f-code"' in asked.text
    assert PASSWORD not in asked.text  # the password is never written back
    wrong = browser.post(
        "/login", {"email": user.email.value, "password": PASSWORD, "code": "111111"}
    )
    assert wrong.status_code == 401 and "not right" in wrong.text
    done = browser.post(
        "/login",
        {
            "email": user.email.value,
            "password": PASSWORD,
            "code": pyotp.TOTP(secret).at(clock.now()),
        },
    )
    assert done.status_code == 303
    assert browser.get("/account/profile").status_code == 200


def test_turn_it_off_with_a_recovery_code(
    browser: Browser, make_user: MakeUser, clock: ManualClock
) -> None:
    user = make_user()
    browser.log_in(user.email.value)
    _, *codes = set_up(browser, clock)

    wrong = browser.post("/account/two-factor/off", {"password": PASSWORD, "code": "nope"})
    assert wrong.status_code == 422 and 'id="e-off-code"' in wrong.text
    off = browser.post("/account/two-factor/off", {"password": PASSWORD, "code": codes[0]})
    assert off.status_code == 303
    assert "Two-factor login is off" in browser.get(off.headers["location"]).text


class TestRequired:
    @pytest.fixture
    def settings(self) -> Settings:
        return attrs.evolve(CHEAP_ARGON2, require_two_factor="creator")

    def test_every_page_leads_to_the_set_up_until_it_is_done(
        self, browser: Browser, make_user: MakeUser, clock: ManualClock
    ) -> None:
        user = make_user()
        assert browser.log_in(user.email.value).status_code == 303

        for page in ("/", "/my/videos", "/account/tokens"):
            sent = browser.get(page)
            assert sent.status_code == 303 and sent.headers["location"] == "/account/two-factor"
        assert "requires two-factor login" in browser.get("/account/two-factor").text
        set_up(browser, clock)
        assert browser.get("/my/videos").status_code == 200
