"""Two-factor login: enrolment with a first code, login with a code or a recovery code,
codes good once, throttled like passwords, audited, and required for some roles."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pyotp
import pytest

from tests.unit.application.conftest import Trail, only_event
from tests.unit.conftest import CHEAP_ARGON2, PASSWORD, MakeUser
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.adapters.security.sealing import FernetSecretBox
from videoplatform.application.context import Caller
from videoplatform.application.ports.persistence import AuditFilter
from videoplatform.application.users import (
    Login,
    SecondFactorFailed,
    SecondFactorRequired,
    TwoFactorEnrolment,
)
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import (
    InvalidTransition,
    PermissionDenied,
    TooManyAttempts,
    ValidationError,
)
from videoplatform.domain.users import ALL_SCOPES, Role
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import Settings

STEP = timedelta(seconds=30)


def code(enrolment: TwoFactorEnrolment, clock: ManualClock) -> str:
    """What the user's authenticator app shows now."""
    return pyotp.TOTP(enrolment.secret).at(clock.now())


def turn_on(
    platform: Platform, me: Caller, clock: ManualClock
) -> tuple[TwoFactorEnrolment, tuple[str, ...]]:
    enrolment = platform.users.begin_two_factor(me, PASSWORD)
    codes = platform.users.confirm_two_factor(me, code(enrolment, clock))
    clock.advance(STEP)  # the code just used is good no more
    return enrolment, codes


def logins_of(trail: Trail, me: Caller) -> list[AuditEvent]:
    """The audited logins of ``me``, newest first."""
    return trail(AuditFilter(action=AuditAction.USER_LOGIN, resource_id=me.user_id))


def email_of(platform: Platform, me: Caller) -> str:
    return platform.users.me(me).email.value


def test_enrolment_shows_the_secret_once_and_turns_on_with_a_first_code(
    platform: Platform, make_user: MakeUser, clock: ManualClock, trail: Trail
) -> None:
    me = make_user()

    enrolment = platform.users.begin_two_factor(me, PASSWORD)

    assert enrolment.uri.startswith("otpauth://totp/videoplatform:")
    assert f"secret={enrolment.secret}" in enrolment.uri
    assert enrolment.qr_svg.startswith("<svg")
    assert not platform.users.me(me).two_factor_on  # not before a code proves it
    with pytest.raises(ValidationError) as wrong:
        platform.users.confirm_two_factor(me, "000000")
    assert "code" in wrong.value.fields
    codes = platform.users.confirm_two_factor(me, code(enrolment, clock))
    assert platform.users.me(me).two_factor_on
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c.replace("-", "")) == 16 for c in codes)
    only_event(trail, AuditAction.USER_TWO_FACTOR_BEGIN, AuditResult.SUCCESS, me.user_id)
    only_event(trail, AuditAction.USER_TWO_FACTOR_ENABLE, AuditResult.SUCCESS, me.user_id)


def test_the_secret_and_the_recovery_codes_are_not_kept_in_the_clear(
    platform: Platform,
    make_user: MakeUser,
    clock: ManualClock,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    me = make_user()
    enrolment, codes = turn_on(platform, me, clock)

    with uow_factory() as uow:
        held = uow.users.get(platform.users.me(me).id).second_factor
    assert held is not None
    kept = repr(attrs.asdict(held))
    assert enrolment.secret not in kept
    assert not any(c in kept or c.replace("-", "") in kept for c in codes)
    with pytest.raises(ValueError):
        FernetSecretBox(b"another key of at least thirty-two bytes").open(held.sealed_secret)


def test_enrolment_asks_for_the_password_again(platform: Platform, make_user: MakeUser) -> None:
    with pytest.raises(ValidationError) as wrong:
        platform.users.begin_two_factor(make_user(), "not my password at all")
    assert "password" in wrong.value.fields


def test_login_then_asks_for_a_code_good_once(
    platform: Platform, make_user: MakeUser, clock: ManualClock, trail: Trail
) -> None:
    me = make_user()
    enrolment, _ = turn_on(platform, me, clock)
    email = email_of(platform, me)

    with pytest.raises(SecondFactorRequired):
        platform.users.login(Login(email, PASSWORD))
    with pytest.raises(SecondFactorFailed):
        platform.users.login(Login(email, PASSWORD, "123456"))
    now = code(enrolment, clock)
    session = platform.users.login(Login(email, PASSWORD, now))
    assert platform.users.authenticate(session.token).user_id == me.user_id
    with pytest.raises(SecondFactorFailed):  # the same code again
        platform.users.login(Login(email, PASSWORD, now))
    logins = logins_of(trail, me)[:4]  # newest first
    assert [
        (e.result, e.metadata.get("reason") or e.metadata.get("second_factor")) for e in logins
    ] == [
        (AuditResult.FAILURE, "wrong_second_factor"),
        (AuditResult.SUCCESS, "totp"),
        (AuditResult.FAILURE, "wrong_second_factor"),
        (AuditResult.FAILURE, "second_factor_required"),
    ]


def test_a_recovery_code_logs_in_once(
    platform: Platform, make_user: MakeUser, clock: ManualClock, trail: Trail
) -> None:
    me = make_user()
    _, codes = turn_on(platform, me, clock)
    email = email_of(platform, me)

    typed = codes[3].upper().replace("-", " ")  # as people type them
    session = platform.users.login(Login(email, PASSWORD, typed))
    assert platform.users.authenticate(session.token).user_id == me.user_id
    with pytest.raises(SecondFactorFailed):
        platform.users.login(Login(email, PASSWORD, codes[3]))
    login = logins_of(trail, me)[1]
    assert login.metadata["second_factor"] == "recovery_code"
    assert login.metadata["recovery_codes_left"] == "9"
    assert not any(c in repr(login.metadata) for c in codes)


def test_codes_are_throttled_like_passwords(
    platform: Platform, make_user: MakeUser, clock: ManualClock
) -> None:
    me = make_user()
    enrolment, _ = turn_on(platform, me, clock)
    email = email_of(platform, me)
    for _ in range(5):
        with pytest.raises(SecondFactorFailed):
            platform.users.login(Login(email, PASSWORD, "000000"))

    with pytest.raises(TooManyAttempts):  # the right code does not pass either
        platform.users.login(Login(email, PASSWORD, code(enrolment, clock)))


def test_turning_it_off_needs_the_password_and_a_code(
    platform: Platform, make_user: MakeUser, clock: ManualClock, trail: Trail
) -> None:
    me = make_user()
    enrolment, codes = turn_on(platform, me, clock)
    email = email_of(platform, me)

    with pytest.raises(ValidationError) as no_code:
        platform.users.disable_two_factor(me, PASSWORD, "000000")
    assert "code" in no_code.value.fields
    with pytest.raises(ValidationError) as no_password:
        platform.users.disable_two_factor(me, "wrong password!!", code(enrolment, clock))
    assert "password" in no_password.value.fields
    platform.users.disable_two_factor(me, PASSWORD, codes[0])

    assert not platform.users.me(me).two_factor_on
    assert platform.users.login(Login(email, PASSWORD)).token
    only_event(trail, AuditAction.USER_TWO_FACTOR_DISABLE, AuditResult.SUCCESS, me.user_id)


def test_new_recovery_codes_replace_the_old_ones(
    platform: Platform, make_user: MakeUser, clock: ManualClock
) -> None:
    me = make_user()
    _, old = turn_on(platform, me, clock)
    email = email_of(platform, me)

    new = platform.users.new_recovery_codes(me, PASSWORD)

    assert not set(old) & set(new)
    with pytest.raises(SecondFactorFailed):
        platform.users.login(Login(email, PASSWORD, old[0]))
    assert platform.users.login(Login(email, PASSWORD, new[0])).token


def test_a_second_enrolment_waits_until_it_is_off(
    platform: Platform, make_user: MakeUser, clock: ManualClock
) -> None:
    me = make_user()
    turn_on(platform, me, clock)

    with pytest.raises(InvalidTransition):
        platform.users.begin_two_factor(me, PASSWORD)
    with pytest.raises(InvalidTransition):
        platform.users.confirm_two_factor(me, "123456")


def test_an_administrator_turns_it_off_for_someone_who_lost_their_phone(
    platform: Platform, make_user: MakeUser, clock: ManualClock, admin: Caller
) -> None:
    me, other = make_user(), make_user()
    turn_on(platform, me, clock)
    mine = platform.users.me(me).id

    with pytest.raises(PermissionDenied):
        platform.users.reset_two_factor(other, mine)
    platform.users.reset_two_factor(admin, mine)

    assert platform.users.login(Login(email_of(platform, me), PASSWORD)).token


@pytest.fixture
def strict(
    clock: ManualClock, uow_factory: MemoryUnitOfWorkFactory, platform: Platform
) -> Platform:
    """The platform with two-factor login required of moderators and administrators."""
    from videoplatform.application.ports.persistence import UnitOfWorkFactory
    from videoplatform.application.ports.system import Clock

    settings: Settings = attrs.evolve(CHEAP_ARGON2, require_two_factor="moderator, admin")
    return create_platform(settings, overrides={Clock: clock, UnitOfWorkFactory: uow_factory})


def test_a_role_that_requires_it_may_only_turn_it_on_until_it_does(
    strict: Platform, make_user: MakeUser, clock: ManualClock, trail: Trail
) -> None:
    moderator = make_user(Role.MODERATOR)
    email = email_of(strict, moderator)

    session = strict.users.login(Login(email, PASSWORD))
    principal = strict.users.authenticate(session.token)
    assert principal.scopes == frozenset()  # good for enrolment alone
    with_session = attrs.evolve(moderator, token_id=session.token_id)
    enrolment = strict.users.begin_two_factor(with_session, PASSWORD)
    strict.users.confirm_two_factor(with_session, code(enrolment, clock))

    assert strict.users.authenticate(session.token).scopes == ALL_SCOPES
    with pytest.raises(PermissionDenied):
        strict.users.disable_two_factor(with_session, PASSWORD, "000000")
    login = logins_of(trail, moderator)[0]
    assert login.metadata["two_factor_enrolment"] == "required"
    # A creator is not asked.
    creator = make_user()
    assert (
        strict.users.authenticate(
            strict.users.login(Login(email_of(strict, creator), PASSWORD)).token
        ).scopes
        == ALL_SCOPES
    )
