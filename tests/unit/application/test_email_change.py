"""Moving an account to another address: the password first, a code to the new address,
the old address told, and nothing learned of another account's address."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.unit.application.conftest import Trail, only_event
from tests.unit.conftest import PASSWORD, MakeUser
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.application.context import Caller
from videoplatform.application.users import Login
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import AuthenticationFailed, Conflict, ValidationError
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.worker import settle_events


def mailed(platform: Platform, mailer: MemoryMailer, address: str) -> list[str]:
    """The bodies of the mail ``address`` received, once the handlers ran."""
    settle_events(platform)
    return [m.body for m in mailer.sent if m.to == address]


def code_in(body: str) -> str:
    match = re.search(r"^([A-Za-z0-9_-]{22,})$", body, re.MULTILINE)
    assert match is not None, body
    return match.group(1)


def test_the_code_mailed_to_the_new_address_moves_the_account_and_the_old_one_is_told(
    platform: Platform, make_user: MakeUser, mailer: MemoryMailer, trail: Trail
) -> None:
    me = make_user()
    old = platform.users.me(me).email.value

    platform.users.request_email_change(me, PASSWORD, "  New@Example.COM ")

    assert platform.users.me(me).email.value == old  # nothing moves before the code
    [body] = mailed(platform, mailer, "new@example.com")
    moved = platform.users.confirm_email_change(code_in(body))
    assert moved.email.value == "new@example.com"
    [notice] = mailed(platform, mailer, old)
    assert "new@example.com" in notice
    assert platform.users.login(Login("new@example.com", PASSWORD)).token
    with pytest.raises(AuthenticationFailed):
        platform.users.login(Login(old, PASSWORD))
    with pytest.raises(ValidationError):  # a code is good once
        platform.users.confirm_email_change(code_in(body))
    only_event(trail, AuditAction.USER_EMAIL_CHANGE, AuditResult.SUCCESS, me.user_id)


def test_the_password_comes_first(platform: Platform, make_user: MakeUser) -> None:
    with pytest.raises(ValidationError) as wrong:
        platform.users.request_email_change(make_user(), "not the password", "x@example.com")
    assert "password" in wrong.value.fields


def test_an_address_another_account_has_is_told_to_that_address_alone(
    platform: Platform, make_user: MakeUser, mailer: MemoryMailer
) -> None:
    me, other = make_user(), make_user()
    theirs = platform.users.me(other).email.value

    platform.users.request_email_change(me, PASSWORD, theirs)  # answers the same

    [notice] = mailed(platform, mailer, theirs)
    assert "already exists" in notice
    assert not re.search(r"^[A-Za-z0-9_-]{22,}$", notice, re.MULTILINE)  # no code


def test_an_address_taken_meanwhile_is_a_conflict(
    platform: Platform, make_user: MakeUser, mailer: MemoryMailer
) -> None:
    me = make_user()
    platform.users.request_email_change(me, PASSWORD, "wanted@example.com")
    [body] = mailed(platform, mailer, "wanted@example.com")
    make_user(email="wanted@example.com")

    with pytest.raises(Conflict):
        platform.users.confirm_email_change(code_in(body))


def test_a_new_request_voids_the_code_mailed_before_and_codes_expire(
    platform: Platform, make_user: MakeUser, mailer: MemoryMailer, clock: ManualClock
) -> None:
    me = make_user()
    platform.users.request_email_change(me, PASSWORD, "first@example.com")
    [first] = mailed(platform, mailer, "first@example.com")
    platform.users.request_email_change(me, PASSWORD, "second@example.com")
    [second] = mailed(platform, mailer, "second@example.com")

    with pytest.raises(ValidationError):
        platform.users.confirm_email_change(code_in(first))
    clock.advance(timedelta(days=1))
    with pytest.raises(ValidationError):
        platform.users.confirm_email_change(code_in(second))


def test_the_same_address_is_refused(platform: Platform, make_user: MakeUser) -> None:
    me = make_user()
    with pytest.raises(ValidationError):
        platform.users.request_email_change(me, PASSWORD, platform.users.me(me).email.value)


def test_someone_signed_out_cannot_ask(platform: Platform) -> None:
    with pytest.raises(AuthenticationFailed):
        platform.users.request_email_change(Caller.anonymous(), PASSWORD, "x@example.com")
