"""What every part of the account use cases shares."""

from __future__ import annotations

from datetime import datetime

from videoplatform.application.context import Caller
from videoplatform.application.essentials import Essentials, UseCases
from videoplatform.application.limits import Limits
from videoplatform.application.ports.media import AvatarMaker
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import (
    OneTimePasswords,
    PasswordHasher,
    SecretBox,
    TokenGenerator,
)
from videoplatform.application.throttle import FailureThrottle
from videoplatform.domain.credentials import digest_token, recovery_digest
from videoplatform.domain.errors import Conflict, ValidationError
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import (
    MAX_CODE_LENGTH,
    MAX_EMAIL,
    MAX_PASSWORD_LENGTH,
    ApiToken,
    Email,
    Role,
    TokenKind,
    User,
)


class UserServiceBase(UseCases):
    def __init__(
        self,
        essentials: Essentials,
        tokens: TokenGenerator,
        hasher: PasswordHasher,
        limits: Limits,
        throttle: FailureThrottle,
        one_time: OneTimePasswords,
        box: SecretBox,
        storage: ObjectStorage,
        avatar_maker: AvatarMaker,
    ) -> None:
        super().__init__(essentials)
        self._storage = storage
        self._avatar_maker = avatar_maker
        self._throttle = throttle
        self._one_time = one_time
        self._box = box
        self._tokens = tokens
        self._hasher = hasher
        self._limits = limits
        # A real hash to verify against when the account does not exist, so a failed
        # login costs the same whether or not the email is registered. Made by the first
        # login, not here: hashing costs a tenth of a second that a platform which never
        # logs anyone in (a worker, a script) need not pay.
        self._decoy: str | None = None

    def _mail_request(self, scope: str, email: str, caller: Caller) -> str:
        """A request to mail ``email`` (a code): counted against the address and the
        client's address alike whatever it names (TooManyAttempts past the limits);
        the normalized address. One that is not an address is counted too, then refused
        (ValidationError): its form says nothing about any account."""
        try:
            address: str | None = Email.parse(email).value
        except ValidationError:
            address = None
        counted = address or " ".join(email.split()).lower()[:MAX_EMAIL] or "-"
        self._throttle.requested(scope, counted, caller.ip)
        if address is None:
            raise ValidationError.field("email", "not a valid email address")
        return address

    def _decoy_hash(self) -> str:
        if self._decoy is None:
            # Two first logins at once may both hash; either result is a valid decoy.
            self._decoy = self._hasher.hash(self._tokens.new_token())
        return self._decoy

    @staticmethod
    def _mailed_code(
        uow: UnitOfWork, code: str, kind: TokenKind, now: datetime, what: str
    ) -> ApiToken:
        """The live record of a code mailed for ``kind``; ValidationError on the field
        ``token`` for anything else (unknown, used, expired, of another kind)."""
        record = uow.tokens.find_by_hash(digest_token(code))
        if record is None or record.kind is not kind or not record.is_usable(now):
            raise ValidationError.field("token", f"invalid or expired {what}")
        return record

    @staticmethod
    def _revoke_all_tokens(uow: UnitOfWork, user_id: UserId, now: datetime) -> list[ApiToken]:
        """Revoke every live token of the account (sessions, personal tokens, codes);
        the ones this revoked."""
        revoked = [t for t in uow.tokens.list_for_user(user_id) if t.revoked_at is None]
        for token in revoked:
            token.revoke(now)
            uow.tokens.save(token)
        return revoked

    @staticmethod
    def _check_code_length(code: str) -> None:
        """ValidationError on ``code`` for one longer than any code or recovery code."""
        if len(code) > MAX_CODE_LENGTH:
            raise ValidationError.field("code", f"must be at most {MAX_CODE_LENGTH} characters")

    def accept_second_factor(self, user: User, code: str, now: datetime) -> str | None:
        """Spend ``code`` for ``user`` (whose two-factor login is on): ``"totp"`` for a
        code of their authenticator not used before, ``"recovery_code"`` for a recovery
        code left (it is gone then), None for anything else. The caller saves the user."""
        held = user.second_factor
        if held is None or held.confirmed_at is None:
            return None
        step = self._one_time.matching_step(self._box.open(held.sealed_secret), code, now)
        if step is not None:
            return "totp" if user.accept_code(step, now) else None
        return "recovery_code" if user.use_recovery_code(recovery_digest(code), now) else None

    def _check_password(self, caller: Caller, user: User, password: str) -> None:
        """The account's password, asked again before a change to how it logs in:
        throttled like a login; ValidationError on the field ``password``."""
        if len(password) > MAX_PASSWORD_LENGTH:
            raise ValidationError.field(
                "password", f"must be at most {MAX_PASSWORD_LENGTH} characters"
            )
        self._throttle.attempt("reauthenticate", user.id, caller.ip)
        if not self._hasher.verify(password, user.password_hash):
            self._throttle.failed("reauthenticate", caller.ip)
            raise ValidationError.field("password", "that is not your password")
        self._throttle.succeeded("reauthenticate", user.id)

    @staticmethod
    def _keep_an_admin(
        uow: UnitOfWork,
        user: User,
        wanted: frozenset[Role] | None,
        now: datetime,
        refusal: str = "the last active administrator must keep the role",
    ) -> None:
        """Refuse (Conflict ``last_admin``, saying ``refusal``) to leave the platform
        without an active administrator: ``user`` keeps only the roles ``wanted`` (None:
        none at all, the account going).

        The other admins are saved unchanged: their version bump makes two concurrent
        demotions of the last two admins collide (one gets Conflict) instead of both
        passing a count that each read before the other committed.
        """
        losing = (
            user.is_active
            and Role.ADMIN in user.roles
            and (wanted is None or Role.ADMIN not in wanted)
        )
        if not losing:
            return
        others = [a for a in uow.users.list_active_with_role(Role.ADMIN.value) if a.id != user.id]
        if not others:
            raise Conflict(refusal, code="last_admin")
        for other in others:
            other.touch(now)
            uow.users.save(other)

    def _check_second_factor(self, caller: Caller, user: User, code: str, now: datetime) -> None:
        """A code of ``user``'s two-factor login (or a recovery code), asked again before
        a change to the account, throttled like one at login; ValidationError on the
        field ``code``."""
        self._throttle.attempt("two_factor", user.id, caller.ip)
        if self.accept_second_factor(user, code, now) is None:
            self._throttle.failed("two_factor", caller.ip)
            raise ValidationError.field("code", "that code is not right")
        self._throttle.succeeded("two_factor", user.id)
