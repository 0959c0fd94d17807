"""Failed logins stay in the audit trail, but only administrators learn from it which
addresses have accounts: moderators read them without the account they name and with
one reason for every refused password."""

from __future__ import annotations

import pytest

from tests.unit.conftest import MakeUser
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.users import Login
from videoplatform.domain.audit import WITHHELD_REASON, AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import AuthenticationFailed
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform

FAILED_LOGINS = AuditFilter(action=AuditAction.USER_LOGIN, result=AuditResult.FAILURE)


def fail_logins(platform: Platform, make_user: MakeUser) -> Caller:
    """A wrong password for an account, then an address with none; the account."""
    member = make_user(Role.CREATOR, email="member@example.com")
    for email in ("member@example.com", "nobody@example.com"):
        with pytest.raises(AuthenticationFailed):
            platform.users.login(Login(email, "a wrong guess!!"), Caller(ip="192.0.2.7"))
    return member


def shown(events: tuple[AuditEvent, ...] | list[AuditEvent]) -> list[tuple[object, ...]]:
    return [
        (e.metadata["email"], e.metadata["reason"], e.actor_id, e.resource_id, e.ip) for e in events
    ]


def test_an_administrator_reads_which_failed_login_named_an_account(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    member = fail_logins(platform, make_user)
    page = platform.audit.search(admin, FAILED_LOGINS)
    assert shown(page.items) == [
        ("nobody@example.com", "unknown_email", None, None, "192.0.2.7"),
        ("member@example.com", "wrong_password", member.user_id, member.user_id, "192.0.2.7"),
    ]


def test_a_moderator_reads_both_failures_alike(platform: Platform, make_user: MakeUser) -> None:
    fail_logins(platform, make_user)
    moderator = make_user(Role.MODERATOR)
    page = platform.audit.search(moderator, FAILED_LOGINS)
    assert shown(page.items) == [
        ("nobody@example.com", WITHHELD_REASON, None, None, "192.0.2.7"),
        ("member@example.com", WITHHELD_REASON, None, None, "192.0.2.7"),
    ]
    exported = [e for e in platform.audit.export(moderator, FAILED_LOGINS)]
    assert shown(exported) == shown(page.items)


def test_a_moderator_cannot_find_them_by_the_account_they_named(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    member = fail_logins(platform, make_user)
    moderator = make_user(Role.MODERATOR)
    assert member.user_id is not None
    for named in (AuditFilter(actor_id=member.user_id), AuditFilter(resource_id=member.user_id)):
        read = platform.audit.search(moderator, named).items
        assert not any(e.action is AuditAction.USER_LOGIN for e in read)
        assert any(
            e.action is AuditAction.USER_LOGIN and e.result is AuditResult.FAILURE
            for e in platform.audit.search(admin, named).items
        )
