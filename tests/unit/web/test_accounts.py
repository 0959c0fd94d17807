"""Signing up, in and out through the site's forms: cookie sessions on the API's
session records, CSRF on every form, messages per field."""

from __future__ import annotations

import re

import falcon.testing

from tests.unit.conftest import PASSWORD
from tests.unit.web.conftest import Browser, MakeUser
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.web.account import local_target
from videoplatform.entrypoints.web.session import CSRF_COOKIE, SESSION_COOKIE
from videoplatform.entrypoints.worker import settle_events


def test_logging_in_sets_an_httponly_lax_session_cookie_and_goes_where_asked(
    browser: Browser, make_user: MakeUser
) -> None:
    user = make_user()
    browser.get("/login?next=/search%3Fq%3Dcats")
    result = browser.post(
        "/login", {"email": user.email.value, "password": PASSWORD, "next": "/search?q=cats"}
    )
    assert result.status_code == 303
    assert result.headers["location"] == "/search?q=cats"
    cookie = result.cookies[SESSION_COOKIE]
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.path == "/"
    home = browser.get("/")
    assert user.display_name in home.text
    assert "Log out" in home.text


def test_the_session_cookie_is_a_session_record_of_the_api(
    browser: Browser, make_user: MakeUser, site: falcon.testing.TestClient
) -> None:
    user = make_user()
    browser.log_in(user.email.value)
    token = browser.cookies[SESSION_COOKIE]
    me = site.simulate_get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["id"] == user.id


def test_logging_out_revokes_the_session_and_replaces_the_csrf_value(
    browser: Browser, make_user: MakeUser, site: falcon.testing.TestClient
) -> None:
    user = make_user()
    browser.log_in(user.email.value)
    token = browser.cookies[SESSION_COOKIE]
    before = browser.cookies[CSRF_COOKIE]
    browser.get("/")
    result = browser.post("/logout")
    assert result.status_code == 303
    assert SESSION_COOKIE not in browser.cookies
    assert browser.cookies[CSRF_COOKIE] != before
    revoked = site.simulate_get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401
    # The old cookie, replayed, is nobody.
    page = site.simulate_get("/", cookies={SESSION_COOKIE: token})
    assert "Log in" in page.text and user.display_name not in page.text


def test_a_login_gives_a_new_csrf_value(browser: Browser, make_user: MakeUser) -> None:
    user = make_user()
    browser.get("/login")
    planted = browser.cookies[CSRF_COOKIE]
    browser.post("/login", {"email": user.email.value, "password": PASSWORD})
    assert browser.cookies[CSRF_COOKIE] != planted


def test_a_form_without_its_csrf_token_is_refused(browser: Browser, make_user: MakeUser) -> None:
    user = make_user()
    browser.get("/login")
    missing = browser.post("/login", {"email": user.email.value, "password": PASSWORD}, csrf=False)
    assert missing.status_code == 403
    assert SESSION_COOKIE not in browser.cookies
    assert "expired" in missing.text
    wrong = browser.post(
        "/login", {"email": user.email.value, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert wrong.status_code == 403
    assert SESSION_COOKIE not in browser.cookies


def test_a_wrong_password_comes_back_with_a_message_and_the_email_but_not_the_password(
    browser: Browser, make_user: MakeUser
) -> None:
    user = make_user()
    browser.get("/login")
    result = browser.post("/login", {"email": user.email.value, "password": "not the password"})
    assert result.status_code == 401
    assert "do not match an active account" in result.text
    assert f'value="{user.email.value}"' in result.text
    assert "not the password" not in result.text
    assert SESSION_COOKIE not in browser.cookies


def test_repeated_failures_are_throttled_like_the_api(
    browser: Browser, make_user: MakeUser
) -> None:
    user = make_user()
    browser.get("/login")
    statuses = [
        browser.post("/login", {"email": user.email.value, "password": "wrong password!"})
        for _ in range(12)
    ]
    throttled = [r for r in statuses if r.status_code == 429]
    assert throttled, [r.status_code for r in statuses]
    assert int(throttled[0].headers["retry-after"]) > 0
    assert "Too many attempts" in throttled[0].text


def test_registering_shows_each_problem_beside_its_field_and_keeps_what_was_typed(
    browser: Browser,
) -> None:
    browser.get("/register")
    result = browser.post(
        "/register",
        {
            "email": "someone@example.com",
            "display_name": "Some One",
            "password": "short",
            "password_again": "short",
        },
    )
    assert result.status_code == 422
    assert 'id="e-password"' in result.text
    assert 'value="someone@example.com"' in result.text and 'value="Some One"' in result.text
    assert 'value="short"' not in result.text
    differ = browser.post(
        "/register",
        {
            "email": "someone@example.com",
            "display_name": "Some One",
            "password": PASSWORD,
            "password_again": PASSWORD + "!",
        },
    )
    assert differ.status_code == 422
    assert "The two passwords differ." in differ.text


def test_registering_then_logging_in(browser: Browser, platform: Platform) -> None:
    browser.get("/register")
    result = browser.post(
        "/register",
        {
            "email": "new@example.com",
            "display_name": "New Person",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert result.status_code == 303
    assert result.headers["location"] == "/login?done=registered"
    assert browser.log_in("new@example.com").status_code == 303
    assert "New Person" in browser.get("/").text


def test_registering_a_taken_address_looks_the_same_as_a_new_one(
    browser: Browser, make_user: MakeUser
) -> None:
    user = make_user()
    browser.get("/register")
    result = browser.post(
        "/register",
        {
            "email": user.email.value,
            "display_name": "Someone Else",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert result.status_code == 303
    assert result.headers["location"] == "/login?done=registered"


def test_a_signed_in_visitor_is_sent_on_from_the_login_page(
    browser: Browser, make_user: MakeUser
) -> None:
    user = make_user(Role.VIEWER)
    browser.log_in(user.email.value)
    result = browser.get("/login?next=/channel/x")
    assert result.status_code == 303
    assert result.headers["location"] == "/channel/x"


def test_where_to_go_after_logging_in_is_always_on_this_site() -> None:
    assert local_target("/watch/abc?t=1") == "/watch/abc?t=1"
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "", None):
        assert local_target(elsewhere) == "/"


def test_a_password_reset_through_the_forms_signs_every_session_out(
    browser: Browser,
    make_user: MakeUser,
    platform: Platform,
    site: falcon.testing.TestClient,
    mailer: MemoryMailer,
) -> None:
    user = make_user()
    other = Browser(site)
    other.log_in(user.email.value)
    old_token = other.cookies[SESSION_COOKIE]
    browser.get("/password/forgot")
    sent = browser.post("/password/forgot", {"email": user.email.value})
    assert sent.status_code == 200 and "on its way" in sent.text
    settle_events(platform)
    found = re.search(r"code \(valid for one hour\) is:\s+(\S+)", mailer.sent[-1].body)
    assert found is not None, mailer.sent[-1].body
    code = found.group(1)
    assert f'value="{code}"' in browser.get(f"/password/reset?code={code}").text
    new_password = PASSWORD + " renewed"
    wrong = browser.post(
        "/password/reset",
        {"code": "not-a-code", "password": new_password, "password_again": new_password},
    )
    assert wrong.status_code == 422 and "wrong or has expired" in wrong.text
    changed = browser.post(
        "/password/reset",
        {"code": code, "password": new_password, "password_again": new_password},
    )
    assert changed.status_code == 303, changed.text
    me = site.simulate_get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old_token}"})
    assert me.status_code == 401
    assert browser.log_in(user.email.value, new_password).status_code == 303
