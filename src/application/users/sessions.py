"""Sessions and personal API tokens: login (throttled, timing-safe), authentication of a
bearer token, logout, and the tokens a user makes for scripts."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta

from videoplatform.application.concurrency import retry_stale
from videoplatform.application.context import (
    Caller,
    require_owner,
    require_user,
)
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.users.base import UserServiceBase
from videoplatform.application.users.commands import IssuedToken, Login, Principal
from videoplatform.application.users.second_factor import SecondFactorFailed, SecondFactorRequired
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.credentials import digest_token
from videoplatform.domain.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    ValidationError,
)
from videoplatform.domain.ids import TokenId, UserId
from videoplatform.domain.text import one_line
from videoplatform.domain.users import (
    ALL_SCOPES,
    ApiToken,
    Email,
    Scope,
    TokenKind,
    User,
    UserStatus,
    scopes_text,
)

MAX_TOKEN_NAME = 100
"""A personal API token's name, at most this many characters."""


class Sessions(UserServiceBase):
    def login(self, command: Login, caller: Caller | None = None) -> IssuedToken:
        """Exchange email and password for a session token.

        Every failure (unknown email, wrong password, pending or disabled account) raises
        the same AuthenticationFailed and is audited with its true reason. Repeated
        failures for one account or from one address raise TooManyAttempts until the
        window passes, whether or not the password is then right.
        """
        caller = caller or Caller()
        if command.code is not None:
            self._check_code_length(command.code)
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
        if user.two_factor_on and not (command.code or "").strip():
            # The attempt stays counted: each code tried comes with the password again.
            self._audit_login_refused(caller, user.id, email, "second_factor_required")
            raise SecondFactorRequired(
                "enter the code your authenticator app shows (or a recovery code)"
            )
        # Named after the client, so that a list of sessions tells them apart.
        agent = " ".join((caller.user_agent or "").split())[:MAX_TOKEN_NAME] or "session"
        # An account whose roles require two-factor login and that has none may only
        # turn it on: its session has no scope until then.
        enrolling = bool(user.roles & self._limits.two_factor_roles) and not user.two_factor_on
        issued, record = self._new_token(
            user.id,
            TokenKind.SESSION,
            agent,
            now + self._limits.session_ttl,
            now,
            frozenset() if enrolling else ALL_SCOPES,
        )
        base: dict[str, str] = {"two_factor_enrolment": "required"} if enrolling else {}

        def write() -> bool:
            """Issue the token; False when the second factor is wrong or spent."""
            metadata = dict(base)
            changed = False
            with self._uow() as uow:
                fresh = uow.users.get(user.id)
                if fresh.two_factor_on:
                    used = self.accept_second_factor(fresh, command.code or "", now)
                    if used is None:
                        return False
                    changed = True
                    metadata["second_factor"] = used
                    if used == "recovery_code":
                        held = fresh.second_factor
                        left = len(held.recovery_digests) if held else 0
                        metadata["recovery_codes_left"] = str(left)
                if self._hasher.needs_rehash(fresh.password_hash):
                    fresh.change_password_hash(self._hasher.hash(command.password), now)
                    changed = True
                # Only a change is written: logins of one account at once (two devices,
                # a script) must not collide on its version.
                if changed:
                    uow.users.save(fresh)
                uow.tokens.add(record)
                self._audit.record(
                    uow,
                    caller,
                    AuditAction.USER_LOGIN,
                    "user",
                    user.id,
                    metadata=metadata or None,
                    actor_id=user.id,
                )
                uow.commit()
            return True

        # A login that lost a race for the account's row (a code spent, a hash renewed)
        # reads it again: a second use of one code is then refused as spent.
        wrong_code = not retry_stale(3, write)
        if wrong_code:
            self._throttle.failed("login", caller.ip)
            self._audit_login_refused(caller, user.id, email, "wrong_second_factor")
            raise SecondFactorFailed("that code is not right, or was used already")
        self._throttle.succeeded("login", email)
        return issued

    def _login_failed(
        self, caller: Caller, user_id: UserId | None, email: str, reason: str
    ) -> IssuedToken:
        self._throttle.failed("login", caller.ip)
        self._audit_login_refused(caller, user_id, email, reason)
        raise AuthenticationFailed("invalid email or password")

    def _audit_login_refused(
        self, caller: Caller, user_id: UserId | None, email: str, reason: str
    ) -> None:
        """A refused login in the audit trail, with its true reason."""
        self._audit.record_alone(
            caller,
            AuditAction.USER_LOGIN,
            "user",
            user_id,
            AuditResult.FAILURE,
            {"reason": reason, "email": email},
            actor_id=user_id,
        )

    def _new_token(
        self,
        user_id: UserId,
        kind: TokenKind,
        name: str,
        expires_at: datetime | None,
        now: datetime,
        scopes: frozenset[Scope] = ALL_SCOPES,
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
            scopes=scopes,
        )
        return IssuedToken(secret, record.id, user_id, expires_at), record

    def authenticate(self, token: str, session_only: bool = False) -> Principal:
        """Resolve a bearer token (session or personal; a session alone where
        ``session_only``) to its user. AuthenticationFailed if unknown, expired, revoked,
        of another kind, or the user is not active."""
        return self.authenticate_user(token, session_only)[0]

    def authenticate_user(self, token: str, session_only: bool = False) -> tuple[Principal, User]:
        """:meth:`authenticate`, with the account itself (read in the same unit of
        work: a page shows who is signed in without reading them again)."""
        kinds = (TokenKind.SESSION,) if session_only else (TokenKind.SESSION, TokenKind.PERSONAL)
        now = self._clock.now()
        with self._uow() as uow:
            found = uow.tokens.find_with_user(digest_token(token))
        if found is None:
            raise AuthenticationFailed("invalid or expired token")
        record, user = found
        if record.kind not in kinds or not record.is_usable(now) or not user.is_active:
            raise AuthenticationFailed("invalid or expired token")
        return Principal(user.id, user.roles, record.id, record.scopes), user

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
        self,
        caller: Caller,
        name: str,
        expires_in: timedelta | None = None,
        scopes: frozenset[Scope] | None = None,
    ) -> IssuedToken:
        """A personal token for scripts, with ``scopes`` (by default every one the
        calling token has) and an expiry (at most the configured maximum).

        Called with a personal token (``caller.token_id``), the new token is its child:
        PermissionDenied for a scope the caller's token lacks, ValidationError for a life
        beyond its own (by default it lives as long), and it is revoked with it."""
        name = one_line(name, "name", MAX_TOKEN_NAME)
        longest = self._limits.personal_token_max_ttl
        if expires_in is not None and not timedelta(0) < expires_in <= longest:
            raise ValidationError.field("expires_in", f"must be positive and at most {longest}")
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.TOKEN_CREATE, "token", None),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            held = self._minting_token(uow, caller, now)
            wanted = scopes if scopes is not None else (held.scopes if held else ALL_SCOPES)
            expires_at = now + (longest if expires_in is None else expires_in)
            parent = held if held is not None and held.kind is TokenKind.PERSONAL else None
            if parent is not None:
                if not wanted <= parent.scopes:
                    raise PermissionDenied(
                        "a token cannot make a token with scopes it does not have"
                        f" (it has: {scopes_text(parent.scopes)})"
                    )
                limit = parent.expires_at or expires_at
                if expires_in is None:
                    expires_at = min(expires_at, limit)
                elif expires_at > limit:
                    raise ValidationError.field(
                        "expires_in",
                        "must not outlive the token that makes it"
                        f" (it expires at {limit.isoformat()})",
                    )
            issued, record = self._new_token(
                user.id, TokenKind.PERSONAL, name, expires_at, now, wanted
            )
            record.parent_id = parent.id if parent is not None else None
            uow.tokens.add(record)
            self._audit.record(
                uow,
                caller,
                AuditAction.TOKEN_CREATE,
                "token",
                record.id,
                metadata={"name": name, "scopes": scopes_text(wanted)},
            )
            uow.commit()
        return issued

    @staticmethod
    def _minting_token(uow: UnitOfWork, caller: Caller, now: datetime) -> ApiToken | None:
        """The token a call to make a token came with (None for a call without one: an
        embedder's, the site's); AuthenticationFailed where it no longer works."""
        if caller.token_id is None:
            return None
        try:
            record = uow.tokens.get(caller.token_id)
        except NotFound:
            raise AuthenticationFailed("invalid or expired token") from None
        if record.user_id != caller.user_id or not record.is_usable(now):
            raise AuthenticationFailed("invalid or expired token")
        return record

    def list_api_tokens(self, caller: Caller) -> builtins.list[ApiToken]:
        """The caller's personal tokens, newest first (hashes only; secrets are gone)."""
        with self._uow() as uow:
            user = require_user(uow, caller)
            return [t for t in uow.tokens.list_for_user(user.id) if t.kind is TokenKind.PERSONAL]

    def list_sessions(self, caller: Caller) -> builtins.list[ApiToken]:
        """The caller's sessions that still work, newest first, each named after the
        client that logged in."""
        now = self._clock.now()
        with self._uow() as uow:
            user = require_user(uow, caller)
            return [
                t
                for t in uow.tokens.list_for_user(user.id)
                if t.kind is TokenKind.SESSION and t.is_usable(now)
            ]

    def revoke_api_token(self, caller: Caller, token_id: TokenId) -> None:
        """Revoke one of the caller's tokens: a personal token, or a session (which
        logs that client out)."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.TOKEN_REVOKE, "token", token_id),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            record = uow.tokens.get(token_id)
            require_owner(user, record.user_id, "token")
            # With it go the tokens it minted, and theirs.
            owned = uow.tokens.list_for_user(record.user_id)
            going, found = [record], {record.id}
            while True:
                minted = [t for t in owned if t.parent_id in found and t.id not in found]
                if not minted:
                    break
                going += minted
                found.update(t.id for t in minted)
            for token in going:
                if token.revoked_at is None:
                    token.revoke(now)
                    uow.tokens.save(token)
            self._audit.record(
                uow,
                caller,
                AuditAction.TOKEN_REVOKE,
                "token",
                token_id,
                metadata={"with_minted": str(len(going) - 1)} if len(going) > 1 else None,
            )
            uow.commit()
