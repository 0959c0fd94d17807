"""A forgotten password: a mailed one-hour code, and the reset that logs every session
out."""

from __future__ import annotations

from videoplatform.application.context import Caller
from videoplatform.application.users import messages
from videoplatform.application.users.base import UserServiceBase
from videoplatform.application.users.commands import PASSWORD_RESET_TTL
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.credentials import digest_token
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import TokenId
from videoplatform.domain.users import ApiToken, Email, TokenKind, check_password_policy


class PasswordRecovery(UserServiceBase):
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
        self._mailer.send(messages.password_reset_code(address, secret))

    def reset_password(self, token: str, new_password: str, caller: Caller | None = None) -> None:
        """Set a new password with a mailed reset code. Every session and personal token
        of the account is revoked: whoever knew the old password is logged out."""
        caller = caller or Caller()
        check_password_policy(new_password)
        new_hash = self._hasher.hash(new_password)
        now = self._clock.now()
        with self._uow() as uow:
            record = self._mailed_code(uow, token, TokenKind.PASSWORD_RESET, now, "reset code")
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
