"""A forgotten password: a mailed one-hour code, and the reset that logs every session
out."""

from __future__ import annotations

from videoplatform.application.context import Caller
from videoplatform.application.users.base import UserServiceBase
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.users import TokenKind, check_password_policy


class PasswordRecovery(UserServiceBase):
    def request_password_reset(self, email: str, caller: Caller | None = None) -> None:
        """Have a one-hour reset code mailed if an active account has this address (by
        the durable account-mail handler, after this returns); it voids any code mailed
        before.

        Answers the same way (returns None) whether or not the account exists, so the
        endpoint cannot be used to discover accounts. Requests are throttled per address
        and per client address alike for every address (TooManyAttempts)."""
        caller = caller or Caller()
        address = self._mail_request("password-reset", email, caller)
        now = self._clock.now()
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
            # The code is made and mailed after this commit (users.mailing).
            user.request_password_reset(now)
            uow.users.save(user)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_PASSWORD_RESET_REQUEST,
                "user",
                user.id,
                actor_id=user.id,
            )
            uow.commit()

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
            revoked = sum(
                t.kind is not TokenKind.PASSWORD_RESET
                for t in self._revoke_all_tokens(uow, user.id, now)
            )
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
