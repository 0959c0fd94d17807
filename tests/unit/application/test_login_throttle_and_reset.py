"""Password guessing is throttled; a forgotten password is reset by a mailed code."""

from __future__ import annotations

import re

import attrs
import pytest

from tests.unit.application.conftest import Trail
from tests.unit.conftest import CHEAP_ARGON2, PASSWORD
from videoplatform.adapters.memory.cache import MemoryCache
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.ports.cache import Cache
from videoplatform.application.ports.mail import Mailer
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.users import Login, RegisterUser
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import AuthenticationFailed, TooManyAttempts, ValidationError
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.worker import settle_events

FROM = Caller(ip="198.51.100.7")


def register(platform: Platform, email: str = "dana@example.com") -> None:
    platform.users.register(RegisterUser(email, PASSWORD, "Dana"))


def test_five_failures_lock_the_account_even_for_the_right_password(
    platform: Platform, trail: Trail
) -> None:
    register(platform)
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            platform.users.login(Login("dana@example.com", "wrong guess!!"), FROM)

    with pytest.raises(TooManyAttempts) as throttled:
        platform.users.login(Login("dana@example.com", PASSWORD), FROM)

    assert throttled.value.retry_after == 15 * 60
    reasons = [
        e.metadata["reason"] for e in trail_for_logins(trail) if e.result is AuditResult.FAILURE
    ]
    assert reasons.count("wrong_password") == 5
    assert reasons.count("too_many_attempts") == 1


def trail_for_logins(trail: Trail) -> list[AuditEvent]:
    return trail(AuditFilter(action=AuditAction.USER_LOGIN))


def test_one_address_guessing_many_accounts_is_throttled(platform: Platform) -> None:
    with pytest.raises(TooManyAttempts):
        for n in range(40):
            with pytest.raises(AuthenticationFailed):
                platform.users.login(Login(f"user{n}@example.com", "guess guess"), FROM)


def test_a_successful_login_clears_the_account_counter(platform: Platform) -> None:
    register(platform)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            platform.users.login(Login("dana@example.com", "wrong guess!!"), FROM)
    platform.users.login(Login("dana@example.com", PASSWORD), FROM)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            platform.users.login(Login("dana@example.com", "wrong guess!!"), FROM)
    assert platform.users.login(Login("dana@example.com", PASSWORD), FROM).token


def _code(platform: Platform, mailer: MemoryMailer) -> str:
    """The code in the last mail, once the account-mail handler has run (the request
    itself sends nothing)."""
    settle_events(platform)
    match = re.search(r"code \(valid for one hour\) is:\s+(\S+)", mailer.sent[-1].body)
    assert match is not None, mailer.sent[-1].body
    return match.group(1)


def test_a_mailed_code_resets_the_password_and_logs_every_session_out(
    platform: Platform, mailer: MemoryMailer
) -> None:
    register(platform)
    old_session = platform.users.login(Login("dana@example.com", PASSWORD))

    platform.users.request_password_reset("Dana@Example.com")
    platform.users.reset_password(_code(platform, mailer), "a brand new passphrase")

    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(old_session.token)
    with pytest.raises(AuthenticationFailed):
        platform.users.login(Login("dana@example.com", PASSWORD))
    assert platform.users.login(Login("dana@example.com", "a brand new passphrase")).token


def test_a_reset_code_works_once_and_is_not_a_login_token(
    platform: Platform, mailer: MemoryMailer
) -> None:
    register(platform)
    platform.users.request_password_reset("dana@example.com")
    code = _code(platform, mailer)
    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(code)
    platform.users.reset_password(code, "a brand new passphrase")
    with pytest.raises(ValidationError):
        platform.users.reset_password(code, "yet another passphrase")


def test_asking_for_a_reset_reveals_nothing_about_the_address(
    platform: Platform, mailer: MemoryMailer, trail: Trail
) -> None:
    register(platform)
    platform.users.request_password_reset("nobody@example.com")
    with pytest.raises(ValidationError) as refused:  # its form says nothing of accounts
        platform.users.request_password_reset("not an address")
    assert refused.value.fields == {"email": "not a valid email address"}
    settle_events(platform)
    assert mailer.sent == []
    platform.users.request_password_reset("dana@example.com")
    assert mailer.sent == []  # asking does not wait on a mail server
    settle_events(platform)
    assert [m.to for m in mailer.sent] == ["dana@example.com"]
    results = [e.result for e in trail(AuditFilter(action=AuditAction.USER_PASSWORD_RESET_REQUEST))]
    assert sorted(r.value for r in results) == ["failure", "success"]


def test_a_weak_new_password_is_refused_before_the_code_is_used(
    platform: Platform, mailer: MemoryMailer
) -> None:
    register(platform)
    platform.users.request_password_reset("dana@example.com")
    code = _code(platform, mailer)
    with pytest.raises(ValidationError):
        platform.users.reset_password(code, "short")
    platform.users.reset_password(code, "a brand new passphrase")


def test_the_throttle_counts_in_the_cache_the_platform_is_given() -> None:
    # Two platforms sharing one cache (as API nodes share Redis) share the counts.
    shared = MemoryCache()
    first, second = (
        create_platform(CHEAP_ARGON2, overrides={Cache: shared, UnitOfWorkFactory: database})
        for database in (MemoryUnitOfWorkFactory(), MemoryUnitOfWorkFactory())
    )
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            first.users.login(Login("erin@example.com", "wrong guess!!"), FROM)
    with pytest.raises(TooManyAttempts):
        second.users.login(Login("erin@example.com", "wrong guess!!"), FROM)


def test_a_new_reset_code_voids_the_one_mailed_before(
    platform: Platform, mailer: MemoryMailer
) -> None:
    register(platform)
    platform.users.request_password_reset("dana@example.com")
    first = _code(platform, mailer)
    platform.users.request_password_reset("dana@example.com")
    second = _code(platform, mailer)
    assert first != second
    with pytest.raises(ValidationError):
        platform.users.reset_password(first, "a brand new passphrase")
    platform.users.reset_password(second, "a brand new passphrase")


def test_reset_requests_are_throttled_per_address_and_per_client_address(
    platform: Platform, mailer: MemoryMailer
) -> None:
    register(platform)
    for _ in range(3):
        platform.users.request_password_reset("dana@example.com", FROM)
    with pytest.raises(TooManyAttempts) as caught:
        platform.users.request_password_reset("Dana@example.com", Caller(ip="203.0.113.9"))
    assert caught.value.retry_after == 15 * 60
    # An address with no account is refused the same way: the refusal tells nothing.
    for _ in range(3):
        platform.users.request_password_reset("nobody@example.com", Caller(ip="203.0.113.10"))
    with pytest.raises(TooManyAttempts):
        platform.users.request_password_reset("nobody@example.com", Caller(ip="203.0.113.11"))
    # One client asking for many addresses.
    crawler = Caller(ip="192.0.2.99")
    for n in range(20):
        platform.users.request_password_reset(f"user{n}@example.com", crawler)
    with pytest.raises(TooManyAttempts):
        platform.users.request_password_reset("someone-else@example.com", crawler)
    settle_events(platform)
    assert [m.to for m in mailer.sent] == ["dana@example.com"] * 3


def test_a_pending_account_asks_for_a_new_verification_code(mailer: MemoryMailer) -> None:
    settings = attrs.evolve(CHEAP_ARGON2, require_email_verification=True)
    with create_platform(settings, overrides={Mailer: mailer}) as platform:
        register(platform)
        settle_events(platform)
        first = VERIFICATION.search(mailer.sent[-1].body)
        platform.users.request_verification("DANA@example.com", FROM)
        platform.users.request_verification("nobody@example.com", FROM)  # the same answer
        settle_events(platform)
        assert [m.to for m in mailer.sent] == ["dana@example.com", "dana@example.com"]
        second = VERIFICATION.search(mailer.sent[-1].body)
        assert first is not None and second is not None, mailer.sent[-1].body
        with pytest.raises(ValidationError):
            platform.users.verify_email(first.group(1))  # voided by the new one
        assert platform.users.verify_email(second.group(1)).is_active
        platform.users.request_verification("dana@example.com", FROM)  # verified: no mail
        settle_events(platform)
        assert len(mailer.sent) == 2
        platform.users.request_verification("dana@example.com", FROM)  # the third this window
        with pytest.raises(TooManyAttempts):
            platform.users.request_verification("dana@example.com", FROM)


VERIFICATION = re.compile(r"verification code is:\s+(\S+)")
