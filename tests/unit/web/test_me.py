"""The account's own pages: personal API tokens (shown once, revoked), sessions (listed
by client, each signed out on its own) and the change of address."""

from __future__ import annotations

import io
import re

from tests.unit.conftest import PASSWORD
from tests.unit.web.conftest import Browser, MakeUser
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.application.context import Caller
from videoplatform.application.users import Login
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.web.session import SESSION_COOKIE
from videoplatform.entrypoints.worker import settle_events

MADE = re.compile(r'id="made-token" type="text" readonly value="([^"]+)"')


def test_a_token_is_shown_once_works_on_the_api_and_is_revoked(
    browser: Browser, make_user: MakeUser
) -> None:
    user = make_user()
    browser.log_in(user.email.value)
    browser.get("/account/tokens")
    page = browser.get("/account/tokens")
    # The form offers every scope, with reading alone ticked.
    assert re.findall(r'name="scopes" value="(\w+)"( checked)?', page.text) == [
        ("read", " checked"),
        ("write", ""),
        ("upload", ""),
        ("admin", ""),
    ]
    made = browser.post(
        "/account/tokens",
        {"name": "backup script", "expires_in_days": "30", "scopes": ["read", "upload"]},
    )
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    found = MADE.search(made.text)
    assert found is not None
    token = found.group(1)
    bearer = {"Authorization": f"Bearer {token}"}
    assert browser.client.simulate_get("/api/v1/auth/me", headers=bearer).status_code == 200
    write = browser.client.simulate_patch(
        "/api/v1/auth/me", headers=bearer, json={"display_name": "Renamed"}
    )
    assert write.status_code == 403
    listed = browser.get("/account/tokens")
    assert "backup script" in listed.text and token not in listed.text
    assert "<td>read, upload</td>" in listed.text
    revoke = re.search(r'action="(/account/tokens/[^"/]+/revoke)"', listed.text)
    assert revoke is not None
    assert browser.post(revoke.group(1)).status_code == 303
    assert browser.client.simulate_get("/api/v1/auth/me", headers=bearer).status_code == 401


def test_a_bad_token_form_says_what_is_wrong(browser: Browser, make_user: MakeUser) -> None:
    browser.log_in(make_user().email.value)
    browser.get("/account/tokens")
    result = browser.post("/account/tokens", {"name": "", "expires_in_days": "forever"})
    assert result.status_code == 422
    assert 'id="e-expires_in_days"' in result.text
    unscoped = browser.post("/account/tokens", {"name": "nothing", "expires_in_days": "3"})
    assert unscoped.status_code == 422
    assert 'id="e-scopes"' in unscoped.text and "at least one scope" in unscoped.text


def test_sessions_are_listed_by_client_and_signed_out_one_by_one(
    browser: Browser, make_user: MakeUser
) -> None:
    user = make_user()
    laptop = Browser(browser.client)
    laptop.get("/login")
    laptop.post(
        "/login",
        {"email": user.email.value, "password": "correct horse battery staple"},
        headers={"User-Agent": "Laptop Browser/1.0"},
    )
    browser.log_in(user.email.value)
    page = browser.get("/account/sessions")
    assert "Laptop Browser/1.0" in page.text
    assert page.text.count("this browser") == 1
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>.*?action=\"([^\"]+)\"", page.text, re.S)
    laptop_row = [action for client, action in rows if "Laptop Browser" in client]
    assert len(laptop_row) == 1
    assert browser.post(laptop_row[0]).status_code == 303
    assert "Log in" in laptop.get("/").text  # the laptop is signed out
    assert "Log out" in browser.get("/").text  # this browser is not
    mine = [action for client, action in rows if "this browser" in client]
    assert browser.post(mine[0]).status_code == 303
    assert SESSION_COOKIE not in browser.cookies


def test_the_address_moves_with_the_code_from_the_mail(
    browser: Browser, make_user: MakeUser, mailer: MemoryMailer, platform: Platform
) -> None:
    user = make_user()
    browser.log_in(user.email.value)
    browser.get("/account/email")
    wrong = browser.post("/account/email", {"email": "elsewhere@example.com", "password": "x"})
    assert wrong.status_code == 422 and 'id="e-password"' in wrong.text
    sent = browser.post("/account/email", {"email": "elsewhere@example.com", "password": PASSWORD})
    assert sent.status_code == 303
    assert "Check the new address" in browser.get(sent.headers["location"]).text
    settle_events(platform)
    [mail] = [m for m in mailer.sent if m.to == "elsewhere@example.com"]
    code = re.search(r"^([A-Za-z0-9_-]{22,})$", mail.body, re.MULTILINE)
    assert code is not None
    browser.get("/account/email/confirm")
    moved = browser.post("/account/email/confirm", {"code": code.group(1)})
    assert moved.status_code == 303
    assert "elsewhere@example.com" in browser.get(moved.headers["location"]).text


def test_the_account_is_deleted_from_its_page_and_the_visitor_signed_out(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    user, other = make_user(), make_user()
    browser.log_in(user.email.value)
    browser.get("/account/delete")
    wrong = browser.post("/account/delete", {"password": "not my password"})
    assert wrong.status_code == 422 and 'id="e-password"' in wrong.text
    gone = browser.post("/account/delete", {"password": PASSWORD})
    assert gone.status_code == 303 and gone.headers["location"] == "/"
    assert browser.get("/account/profile").status_code == 303  # to the login page
    assert platform.users.login(Login(other.email.value, PASSWORD)).token  # others stay


def test_an_archive_of_ones_data_downloads_once_from_the_link_shown(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    user = make_user()
    browser.log_in(user.email.value)
    browser.get("/account/export")
    asked = browser.post("/account/export")
    assert asked.status_code == 202 and asked.headers["cache-control"] == "no-store"
    found = re.search(r'href="(/api/v1/exports/[^"]+)" download', asked.text)
    assert found is not None
    settle_events(platform)
    got = browser.client.simulate_get(found.group(1))
    assert got.status_code == 200
    assert got.json["profile"]["email"] == user.email.value
    assert "attachment" in got.headers["content-disposition"]
    assert browser.client.simulate_get(found.group(1)).status_code == 404


def test_the_profile_keeps_a_bio_shown_on_the_channel_and_the_mail_choice(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    user = make_user()
    browser.log_in(user.email.value)
    page = browser.get("/account/profile")
    assert 'name="mail_on_processing" value="on" checked' in page.text
    saved = browser.post(
        "/account/profile",
        {"display_name": "Ada", "default_visibility": "public", "bio": "Boats & <sea>"},
    )
    assert saved.status_code == 303
    assert platform.users.me(Caller(user.id)).mail_on_processing is False  # unticked
    channel = browser.get(f"/channel/{user.id}")
    assert "Boats &amp; &lt;sea&gt;" in channel.text


def test_the_avatar_shows_on_the_profile_and_the_channel_and_is_removed(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    user = make_user()
    browser.log_in(user.email.value)
    page = browser.get("/account/profile")
    assert 'id="avatar-file" type="file"' in page.text and "/static/avatar." in page.text
    platform.users.set_avatar(Caller(user.id), io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 64))
    version = platform.users.me(Caller(user.id)).avatar
    shown = f'src="/api/v1/users/{user.id}/avatar?v={version}"'
    assert shown in browser.get("/account/profile").text
    assert shown in browser.get(f"/channel/{user.id}").text
    assert browser.post("/account/avatar/remove").status_code == 303
    assert platform.users.me(Caller(user.id)).avatar is None
