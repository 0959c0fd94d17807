"""Confirming an address from the site: the mail links to the page that takes the
code, with the code in the fragment (never sent to a server)."""

from __future__ import annotations

import re

import attrs
import pytest

from tests.unit.conftest import CHEAP_ARGON2, PASSWORD
from tests.unit.web.conftest import Browser
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import settle_events

SITE = "https://videos.example"


@pytest.fixture
def settings() -> Settings:
    return attrs.evolve(CHEAP_ARGON2, require_email_verification=True, public_url=SITE)


def test_the_mailed_link_opens_the_page_that_confirms_the_address(
    browser: Browser, platform: Platform, mailer: MemoryMailer
) -> None:
    browser.get("/register")
    registered = browser.post(
        "/register",
        {
            "email": "pending@example.com",
            "display_name": "Pending Person",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert registered.status_code == 303
    # Not confirmed yet: no way in.
    refused = browser.log_in("pending@example.com")
    assert refused.status_code == 401
    settle_events(platform)
    link = re.search(rf"^{re.escape(SITE)}/verify#(\S+)$", mailer.sent[-1].body, re.MULTILINE)
    assert link is not None, mailer.sent[-1].body
    page = browser.get("/verify")
    assert re.search(r'<script src="/static/code\.[0-9a-f]+\.js" defer>', page.text)
    confirmed = browser.post("/verify", {"code": link.group(1)})
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/login?done=verified"
    assert browser.log_in("pending@example.com").status_code == 303
    browser.get("/verify")  # a fresh form: logging in replaced the CSRF value
    wrong = browser.post("/verify", {"code": "made-up"})
    assert wrong.status_code == 422 and "wrong or has expired" in wrong.text


def test_a_reset_mail_links_to_the_reset_page(
    browser: Browser, platform: Platform, mailer: MemoryMailer
) -> None:
    from videoplatform.application.users import RegisterUser

    platform.users.create_admin(RegisterUser("boss@example.com", PASSWORD, "Boss"))
    browser.get("/password/forgot")
    browser.post("/password/forgot", {"email": "boss@example.com"})
    settle_events(platform)
    assert re.search(rf"^{re.escape(SITE)}/password/reset#\S+$", mailer.sent[-1].body, re.M)
