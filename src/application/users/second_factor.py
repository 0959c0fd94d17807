"""Two-factor login with time-based one-time passwords (TOTP): enrolment (a secret shown
once as an ``otpauth://`` URI and a QR code, confirmed by a first code), ten recovery
codes kept as digests, and turning it off. Login asks for a code in :mod:`.sessions`.

Every step is audited and throttled like a password; a code is good once (the time step
of the last one accepted is kept), and the secret is kept sealed (:class:`SecretBox`)."""

from __future__ import annotations

import secrets

from attrs import frozen

from videoplatform.application.context import Caller, require_permission, require_user
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.users.base import UserServiceBase
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.credentials import recovery_digest
from videoplatform.domain.errors import (
    AuthenticationFailed,
    InvalidTransition,
    PermissionDenied,
    ValidationError,
)
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import ALL_SCOPES, RECOVERY_CODES, Permission, TokenKind

ISSUER = "videoplatform"
"""The name authenticator apps show beside the account."""

_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_RECOVERY_GROUPS = 4
_RECOVERY_GROUP = 4  # 16 characters of 31: 79 bits


@frozen
class TwoFactorEnrolment:
    """What an authenticator app needs, shown once: the secret as text, the
    ``otpauth://`` URI, and the URI as a QR code (an SVG document)."""

    secret: str
    uri: str
    qr_svg: str


def new_recovery_code() -> str:
    """A recovery code, such as ``k7qm-3xrt-9pwd-hn2c``: about 79 bits from a CSPRNG,
    in letters and digits that are not mistaken for one another."""
    return "-".join(
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP))
        for _ in range(_RECOVERY_GROUPS)
    )


class SecondFactorRequired(AuthenticationFailed):
    """The password was right; the account's two-factor login needs a code too."""

    code = "second_factor_required"


class SecondFactorFailed(AuthenticationFailed):
    """The password was right; the code sent with it is not (or was used already)."""

    code = "second_factor_failed"


class SecondFactorSteps(UserServiceBase):
    """Turning two-factor login on and off; see the module."""

    def begin_two_factor(self, caller: Caller, password: str) -> TwoFactorEnrolment:
        """A new secret for the caller's authenticator, held until
        :meth:`confirm_two_factor`; the password again first (ValidationError on the
        field ``password``). InvalidTransition while two-factor login is on."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_TWO_FACTOR_BEGIN, "user", None),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            self._check_password(caller, user, password)
            secret = self._one_time.new_secret()
            user.begin_two_factor(self._box.seal(secret), now)
            uow.users.save(user)
            self._audit.record(uow, caller, AuditAction.USER_TWO_FACTOR_BEGIN, "user", user.id)
            uow.commit()
        uri = self._one_time.provisioning_uri(secret, user.email.value, ISSUER)
        return TwoFactorEnrolment(secret, uri, self._one_time.qr_svg(uri))

    def confirm_two_factor(self, caller: Caller, code: str) -> tuple[str, ...]:
        """Turn two-factor login on with a first code of the secret begun; the recovery
        codes, shown this once. ValidationError on the field ``code`` for a wrong one;
        InvalidTransition if none was begun."""
        self._check_code_length(code)
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_TWO_FACTOR_ENABLE, "user", None),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            held = user.second_factor
            if held is None or held.confirmed_at is not None:
                raise InvalidTransition("begin two-factor login first")
            self._throttle.attempt("two_factor", user.id, caller.ip)
            step = self._one_time.matching_step(self._box.open(held.sealed_secret), code, now)
            if step is None:
                self._throttle.failed("two_factor", caller.ip)
                raise ValidationError.field("code", "that is not the code your app shows now")
            codes = tuple(new_recovery_code() for _ in range(RECOVERY_CODES))
            user.confirm_two_factor(step, (recovery_digest(c) for c in codes), now)
            uow.users.save(user)
            self._upgrade_session(uow, caller)
            self._audit.record(uow, caller, AuditAction.USER_TWO_FACTOR_ENABLE, "user", user.id)
            uow.commit()
        self._throttle.succeeded("two_factor", user.id)
        return codes

    def disable_two_factor(self, caller: Caller, password: str, code: str) -> None:
        """Turn two-factor login off: the password and a code (or a recovery code)
        again. Nothing happens where it is off. Refused (PermissionDenied) where the
        caller's roles require it."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_TWO_FACTOR_DISABLE, "user", None),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            if user.roles & self._limits.two_factor_roles and user.two_factor_on:
                raise PermissionDenied("your role requires two-factor login")
            self._check_code_length(code)
            self._check_password(caller, user, password)
            if user.second_factor is None:
                return
            if user.two_factor_on:
                self._check_second_factor(caller, user, code, now)
            user.end_two_factor(now)
            uow.users.save(user)
            self._audit.record(uow, caller, AuditAction.USER_TWO_FACTOR_DISABLE, "user", user.id)
            uow.commit()

    def new_recovery_codes(self, caller: Caller, password: str) -> tuple[str, ...]:
        """Ten new recovery codes in place of those left (shown this once); the
        password again. InvalidTransition where two-factor login is off."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_RECOVERY_CODES, "user", None),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            self._check_password(caller, user, password)
            codes = tuple(new_recovery_code() for _ in range(RECOVERY_CODES))
            user.replace_recovery_codes((recovery_digest(c) for c in codes), now)
            uow.users.save(user)
            self._audit.record(uow, caller, AuditAction.USER_RECOVERY_CODES, "user", user.id)
            uow.commit()
        return codes

    def reset_two_factor(self, caller: Caller, user_id: UserId) -> None:
        """An administrator turns another account's two-factor login off (a lost
        phone and no recovery code left): its next login asks for none, or, where its
        roles require it, for a new enrolment."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_TWO_FACTOR_DISABLE, "user", user_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.USER_MANAGE)
            user = uow.users.get(user_id)
            user.end_two_factor(now)
            uow.users.save(user)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_TWO_FACTOR_DISABLE,
                "user",
                user_id,
                metadata={"by": "administrator"},
            )
            uow.commit()

    @staticmethod
    def _upgrade_session(uow: UnitOfWork, caller: Caller) -> None:
        """The session that turned two-factor login on where its roles require it: it
        was good for that alone (no scope), and may now do everything."""
        if caller.token_id is None:
            return
        token = uow.tokens.get(caller.token_id)
        if token.kind is TokenKind.SESSION and token.scopes != ALL_SCOPES:
            token.scopes = ALL_SCOPES
            uow.tokens.save(token)
