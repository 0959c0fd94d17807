"""Accounts: registration, verification, login and tokens, roles, disabling."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime, timedelta

from attrs import frozen

from videoplatform.application.auditing import Auditor
from videoplatform.application.context import Caller, Hidden, require_permission, require_user
from videoplatform.application.limits import Limits
from videoplatform.application.pagination import Page, clamp_limit, encode_cursor, time_keyset
from videoplatform.application.ports.mail import Mailer, MailMessage
from videoplatform.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from videoplatform.application.ports.system import (
    Clock,
    IdGenerator,
    PasswordHasher,
    TokenGenerator,
)
from videoplatform.application.throttle import FailureThrottle
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.credentials import digest_token
from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    TooManyAttempts,
    ValidationError,
)
from videoplatform.domain.ids import TokenId, UserId
from videoplatform.domain.users import (
    ApiToken,
    Email,
    Permission,
    Role,
    TokenKind,
    User,
    UserStatus,
    check_password_policy,
    parse_roles,
)


@frozen
class RegisterUser:
    email: str
    password: str
    display_name: str


@frozen
class Login:
    email: str
    password: str


@frozen
class IssuedToken:
    """A freshly made bearer token. ``token`` is shown once and never stored."""

    token: str
    token_id: TokenId
    user_id: UserId
    expires_at: datetime | None


@frozen
class Principal:
    """The result of authenticating a bearer token."""

    user_id: UserId
    roles: frozenset[Role]
    token_id: TokenId


PASSWORD_RESET_TTL = timedelta(hours=1)


class UserService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        tokens: TokenGenerator,
        hasher: PasswordHasher,
        mailer: Mailer,
        auditor: Auditor,
        limits: Limits,
        throttle: FailureThrottle,
    ) -> None:
        self._throttle = throttle
        self._uow = uow_factory
        self._clock = clock
        self._ids = ids
        self._tokens = tokens
        self._hasher = hasher
        self._mailer = mailer
        self._audit = auditor
        self._limits = limits
        # A real hash to verify against when the account does not exist, so a failed
        # login costs the same whether or not the email is registered. Made by the first
        # login, not here: hashing costs a tenth of a second that a platform which never
        # logs anyone in (a worker, a script) need not pay.
        self._decoy: str | None = None

    def _decoy_hash(self) -> str:
        if self._decoy is None:
            # Two first logins at once may both hash; either result is a valid decoy.
            self._decoy = self._hasher.hash(self._tokens.new_token())
        return self._decoy

    # -- registration -------------------------------------------------------------------

    def register(self, command: RegisterUser, caller: Caller | None = None) -> User:
        """Create an account with the default role (creator).

        Raises ValidationError for a bad email, name or weak password and
        Conflict(code="email_taken") when the address already has an account.
        """
        return self._create(command, frozenset({Role.CREATOR}), caller or Caller())

    def register_quietly(self, command: RegisterUser, caller: Caller | None = None) -> None:
        """Register without revealing whether the address already has an account.

        For a taken address nothing is created; its owner is mailed a notice instead,
        and the refusal is audited. Validation errors (bad email, weak password) are
        still raised: they say nothing about other accounts.
        """
        caller = caller or Caller()
        try:
            self.register(command, caller)
        except Conflict as taken:
            if taken.code != "email_taken":
                raise
            address = Email.parse(command.email).value
            self._audit.record_alone(
                caller,
                AuditAction.USER_REGISTER,
                "user",
                None,
                AuditResult.FAILURE,
                {"reason": "email_taken"},
            )
            self._mailer.send(
                MailMessage(
                    to=address,
                    subject="Someone tried to register with your address",
                    body=(
                        "An account already exists for this address, so nothing was "
                        "created. If this was you, log in, or reset your password."
                    ),
                )
            )

    def create_admin(self, command: RegisterUser, caller: Caller | None = None) -> User:
        """Operator path (CLI, embedders): an active administrator, no verification."""
        return self._create(command, frozenset({Role.ADMIN}), caller or Caller(), verified=True)

    def _create(
        self,
        command: RegisterUser,
        roles: frozenset[Role],
        caller: Caller,
        *,
        verified: bool | None = None,
    ) -> User:
        email = Email.parse(command.email)
        check_password_policy(command.password)
        if verified is None:
            verified = not self._limits.require_email_verification
        now = self._clock.now()
        user = User.register(
            id=UserId(self._ids.new_id()),
            email=email,
            display_name=command.display_name,
            password_hash=self._hasher.hash(command.password),
            roles=roles,
            now=now,
            verified=verified,
        )
        verification: str | None = None
        with self._uow() as uow:
            if uow.users.find_by_email(email.value) is not None:
                raise Conflict("an account with this email already exists", code="email_taken")
            uow.users.add(user)
            if not verified:
                verification = self._tokens.new_token()
                uow.tokens.add(
                    ApiToken(
                        id=TokenId(self._ids.new_id()),
                        user_id=user.id,
                        kind=TokenKind.EMAIL_VERIFICATION,
                        name="email verification",
                        token_hash=digest_token(verification),
                        created_at=now,
                        expires_at=now + self._limits.email_verification_ttl,
                    )
                )
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_REGISTER,
                "user",
                user.id,
                metadata={"roles": ",".join(sorted(r.value for r in roles))},
                actor_id=user.id,
            )
            uow.commit()
        if verification is not None:
            self._mailer.send(
                MailMessage(
                    to=email.value,
                    subject="Confirm your email address",
                    body=f"Your verification code is:\n\n{verification}\n",
                )
            )
        return user

    def verify_email(self, token: str, caller: Caller | None = None) -> User:
        """Activate a pending account with the code it was mailed."""
        caller = caller or Caller()
        now = self._clock.now()
        with self._uow() as uow:
            record = uow.tokens.find_by_hash(digest_token(token))
            if (
                record is None
                or record.kind is not TokenKind.EMAIL_VERIFICATION
                or not record.is_usable(now)
            ):
                raise ValidationError.field("token", "invalid or expired verification code")
            user = uow.users.get(record.user_id)
            user.activate(now)
            record.revoke(now)
            uow.users.save(user)
            uow.tokens.save(record)
            self._audit.record(
                uow, caller, AuditAction.USER_VERIFY, "user", user.id, actor_id=user.id
            )
            uow.commit()
        return user

    # -- password reset -----------------------------------------------------------------

    def request_password_reset(self, email: str, caller: Caller | None = None) -> None:
        """Mail a one-hour reset code if an active account has this address.

        Answers the same way (returns None, raises nothing) whether or not the account
        exists, so the endpoint cannot be used to discover accounts.
        """
        caller = caller or Caller()
        try:
            address = Email.parse(email).value
        except ValidationError:
            return
        now = self._clock.now()
        secret = self._tokens.new_token()
        with self._uow() as uow:
            user = uow.users.find_by_email(address)
            if user is None or not user.is_active:
                self._audit.record(
                    uow,
                    caller,
                    AuditAction.USER_PASSWORD_RESET_REQUEST,
                    "user",
                    None,
                    AuditResult.FAILURE,
                    {"reason": "no_active_account"},
                )
                uow.commit()
                return
            uow.tokens.add(
                ApiToken(
                    id=TokenId(self._ids.new_id()),
                    user_id=user.id,
                    kind=TokenKind.PASSWORD_RESET,
                    name="password reset",
                    token_hash=digest_token(secret),
                    created_at=now,
                    expires_at=now + PASSWORD_RESET_TTL,
                )
            )
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_PASSWORD_RESET_REQUEST,
                "user",
                user.id,
                actor_id=user.id,
            )
            uow.commit()
        self._mailer.send(
            MailMessage(
                to=address,
                subject="Reset your password",
                body=f"Your password reset code (valid for one hour) is:\n\n{secret}\n",
            )
        )

    def reset_password(self, token: str, new_password: str, caller: Caller | None = None) -> None:
        """Set a new password with a mailed reset code. Every session and personal token
        of the account is revoked: whoever knew the old password is logged out."""
        caller = caller or Caller()
        check_password_policy(new_password)
        new_hash = self._hasher.hash(new_password)
        now = self._clock.now()
        with self._uow() as uow:
            record = uow.tokens.find_by_hash(digest_token(token))
            if (
                record is None
                or record.kind is not TokenKind.PASSWORD_RESET
                or not record.is_usable(now)
            ):
                raise ValidationError.field("token", "invalid or expired reset code")
            user = uow.users.get(record.user_id)
            user.change_password_hash(new_hash, now)
            uow.users.save(user)
            revoked = 0
            for other in uow.tokens.list_for_user(user.id):
                if other.revoked_at is None:
                    other.revoke(now)
                    uow.tokens.save(other)
                    revoked += other.kind is not TokenKind.PASSWORD_RESET
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_PASSWORD_RESET,
                "user",
                user.id,
                metadata={"tokens_revoked": str(revoked)},
                actor_id=user.id,
            )
            uow.commit()

    # -- sessions and tokens ------------------------------------------------------------

    def login(self, command: Login, caller: Caller | None = None) -> IssuedToken:
        """Exchange email and password for a session token.

        Every failure (unknown email, wrong password, pending or disabled account) raises
        the same AuthenticationFailed and is audited with its true reason. Repeated
        failures for one account or from one address raise TooManyAttempts until the
        window passes, whether or not the password is then right.
        """
        caller = caller or Caller()
        try:
            email = Email.parse(command.email).value
        except ValidationError:
            # Not an address: possibly a password typed in the wrong field; never store it.
            email = "<not an email address>"
        try:
            self._throttle.attempt("login", email, caller.ip)
        except TooManyAttempts:
            self._audit.record_alone(
                caller,
                AuditAction.USER_LOGIN,
                "user",
                None,
                AuditResult.FAILURE,
                {"reason": "too_many_attempts", "email": email},
            )
            raise
        # Before the lookup, so the first login pays for the decoy whatever the email.
        decoy = self._decoy_hash()
        with self._uow() as uow:
            user = uow.users.find_by_email(email)
        if user is None:
            self._hasher.verify(command.password[:1024], decoy)
            return self._login_failed(caller, None, email, "unknown_email")
        if not self._hasher.verify(command.password[:1024], user.password_hash):
            return self._login_failed(caller, user.id, email, "wrong_password")
        if user.status is not UserStatus.ACTIVE:
            return self._login_failed(caller, user.id, email, f"account_{user.status.value}")
        now = self._clock.now()
        issued, record = self._new_token(
            user.id, TokenKind.SESSION, "session", now + self._limits.session_ttl, now
        )
        with self._uow() as uow:
            fresh = uow.users.get(user.id)
            if self._hasher.needs_rehash(fresh.password_hash):
                fresh.change_password_hash(self._hasher.hash(command.password), now)
                uow.users.save(fresh)
            uow.tokens.add(record)
            self._audit.record(
                uow, caller, AuditAction.USER_LOGIN, "user", user.id, actor_id=user.id
            )
            uow.commit()
        self._throttle.succeeded("login", email)
        return issued

    def _login_failed(
        self, caller: Caller, user_id: UserId | None, email: str, reason: str
    ) -> IssuedToken:
        self._throttle.failed("login", caller.ip)
        self._audit.record_alone(
            caller,
            AuditAction.USER_LOGIN,
            "user",
            user_id,
            AuditResult.FAILURE,
            {"reason": reason, "email": email},
            actor_id=user_id,
        )
        raise AuthenticationFailed("invalid email or password")

    def _new_token(
        self,
        user_id: UserId,
        kind: TokenKind,
        name: str,
        expires_at: datetime | None,
        now: datetime,
    ) -> tuple[IssuedToken, ApiToken]:
        secret = self._tokens.new_token()
        record = ApiToken(
            id=TokenId(self._ids.new_id()),
            user_id=user_id,
            kind=kind,
            name=name,
            token_hash=digest_token(secret),
            created_at=now,
            expires_at=expires_at,
        )
        return IssuedToken(secret, record.id, user_id, expires_at), record

    def authenticate(self, token: str) -> Principal:
        """Resolve a bearer token (session or personal) to its user.
        AuthenticationFailed if unknown, expired, revoked, or the user is not active."""
        now = self._clock.now()
        with self._uow() as uow:
            record = uow.tokens.find_by_hash(digest_token(token))
            if (
                record is None
                or record.kind not in (TokenKind.SESSION, TokenKind.PERSONAL)
                or not record.is_usable(now)
            ):
                raise AuthenticationFailed("invalid or expired token")
            try:
                user = uow.users.get(record.user_id)
            except NotFound:
                raise AuthenticationFailed("invalid or expired token") from None
            if not user.is_active:
                raise AuthenticationFailed("invalid or expired token")
            return Principal(user.id, user.roles, record.id)

    def logout(self, token: str, caller: Caller | None = None) -> None:
        """Revoke the session token; unknown tokens are ignored (logging out is idempotent)."""
        caller = caller or Caller()
        now = self._clock.now()
        with self._uow() as uow:
            record = uow.tokens.find_by_hash(digest_token(token))
            if record is None or record.revoked_at is not None:
                return
            record.revoke(now)
            uow.tokens.save(record)
            self._audit.record(
                uow, caller, AuditAction.USER_LOGOUT, "token", record.id, actor_id=record.user_id
            )
            uow.commit()

    def create_api_token(
        self, caller: Caller, name: str, expires_in: timedelta | None = None
    ) -> IssuedToken:
        """A personal token for scripts; it expires (at most the configured maximum)."""
        name = " ".join(name.split())
        if not 1 <= len(name) <= 100:
            raise ValidationError.field("name", "must be 1 to 100 characters")
        ttl = self._limits.personal_token_max_ttl if expires_in is None else expires_in
        if ttl <= timedelta(0) or ttl > self._limits.personal_token_max_ttl:
            raise ValidationError.field(
                "expires_in", f"must be positive and at most {self._limits.personal_token_max_ttl}"
            )
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.TOKEN_CREATE, "token", None),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            issued, record = self._new_token(user.id, TokenKind.PERSONAL, name, now + ttl, now)
            uow.tokens.add(record)
            self._audit.record(
                uow,
                caller,
                AuditAction.TOKEN_CREATE,
                "token",
                record.id,
                metadata={"name": name},
            )
            uow.commit()
        return issued

    def list_api_tokens(self, caller: Caller) -> builtins.list[ApiToken]:
        """The caller's personal tokens, newest first (hashes only; secrets are gone)."""
        with self._uow() as uow:
            user = require_user(uow, caller)
            return [t for t in uow.tokens.list_for_user(user.id) if t.kind is TokenKind.PERSONAL]

    def revoke_api_token(self, caller: Caller, token_id: TokenId) -> None:
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.TOKEN_REVOKE, "token", token_id),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            record = uow.tokens.get(token_id)
            if record.user_id != user.id and not user.can(Permission.USER_MANAGE):
                raise Hidden("token not found")
            record.revoke(now)
            uow.tokens.save(record)
            self._audit.record(uow, caller, AuditAction.TOKEN_REVOKE, "token", token_id)
            uow.commit()

    # -- administration -----------------------------------------------------------------

    def get(self, caller: Caller, user_id: UserId) -> User:
        """Users see themselves; administrators see anyone."""
        with (
            self._audit.refusals(caller, AuditAction.USER_LIST, "user", user_id),
            self._uow() as uow,
        ):
            me = require_user(uow, caller)
            if me.id != user_id and not me.can(Permission.USER_MANAGE):
                raise Hidden("user not found")
            return uow.users.get(user_id)

    def me(self, caller: Caller) -> User:
        with self._uow() as uow:
            return require_user(uow, caller)

    def list(
        self, caller: Caller, cursor: str | None = None, limit: int | None = None
    ) -> Page[User]:
        size = clamp_limit(limit)
        after = None
        if cursor:
            after = time_keyset("users", cursor)
        with self._audit.refusals(caller, AuditAction.USER_LIST, "user", None), self._uow() as uow:
            require_permission(uow, caller, Permission.USER_MANAGE)
            rows = uow.users.list_page(after, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        nxt = (
            encode_cursor("users", [rows[-1].created_at.isoformat(), rows[-1].id]) if more else None
        )
        return Page(tuple(rows), nxt)

    def change_roles(self, caller: Caller, user_id: UserId, roles: Iterable[str]) -> User:
        """Replace a user's roles. The last active administrator cannot lose the role."""
        wanted = parse_roles(roles)
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_ROLES_CHANGE, "user", user_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.USER_MANAGE)
            user = uow.users.get(user_id)
            before = ",".join(sorted(r.value for r in user.roles))
            self._keep_an_admin(uow, user, wanted, now)
            user.change_roles(wanted, now)
            uow.users.save(user)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_ROLES_CHANGE,
                "user",
                user_id,
                metadata={"from": before, "to": ",".join(sorted(r.value for r in wanted))},
            )
            uow.commit()
        return user

    @staticmethod
    def _keep_an_admin(
        uow: UnitOfWork, user: User, wanted: frozenset[Role] | None, now: datetime
    ) -> None:
        """Refuse to leave the platform without an active administrator.

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
            raise Conflict("the last active administrator must keep the role", code="last_admin")
        for other in others:
            other.touch(now)
            uow.users.save(other)

    def disable(self, caller: Caller, user_id: UserId) -> User:
        """Disable an account, in one transaction: every token it holds is revoked, and
        everything it owns disappears for everyone but moderators (its videos from
        lists, reads and playback; its share links stop working). Nothing is deleted:
        :meth:`enable` brings the content and the links back."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_DISABLE, "user", user_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.USER_MANAGE)
            user = uow.users.get(user_id)
            self._keep_an_admin(uow, user, None, now)
            user.disable(now)
            uow.users.save(user)
            revoked = 0
            for token in uow.tokens.list_for_user(user.id):
                if token.revoked_at is None:
                    token.revoke(now)
                    uow.tokens.save(token)
                    revoked += 1
            uow.videos.set_owner_disabled(user.id, True)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_DISABLE,
                "user",
                user_id,
                metadata={"tokens_revoked": str(revoked)},
            )
            uow.commit()
        return user

    def enable(self, caller: Caller, user_id: UserId) -> User:
        """Re-enable a disabled account: it may log in again (its old tokens stay
        revoked), and its videos and share links are back as they were."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_ENABLE, "user", user_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.USER_MANAGE)
            user = uow.users.get(user_id)
            user.enable(now)
            uow.users.save(user)
            uow.videos.set_owner_disabled(user.id, False)
            self._audit.record(uow, caller, AuditAction.USER_ENABLE, "user", user_id)
            uow.commit()
        return user
