"""Moving an account to another address: asked with the password, confirmed by a code
mailed to the new address, and the old address told once it is done (the mail goes
out from :mod:`.mailing` after each commit)."""

from __future__ import annotations

from videoplatform.application.context import Caller, require_user
from videoplatform.application.users.base import UserServiceBase
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import Conflict, ValidationError
from videoplatform.domain.users import Email, TokenKind, User


class EmailChange(UserServiceBase):
    def request_email_change(self, caller: Caller, password: str, new_email: str) -> None:
        """Mail a code to ``new_email`` (after this returns) that moves the account
        there; the password again first (ValidationError on ``password``). Throttled
        like the other requests that mail (TooManyAttempts). Whether another account
        has the address is told to that address alone, never here."""
        address = self._mail_request("email_change", new_email, caller)
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_EMAIL_CHANGE_REQUEST, "user", None),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            self._check_password(caller, user, password)
            user.ask_email_change(Email(address), now)
            uow.users.save(user)
            self._audit.record(uow, caller, AuditAction.USER_EMAIL_CHANGE_REQUEST, "user", user.id)
            uow.commit()

    def confirm_email_change(self, code: str, caller: Caller | None = None) -> User:
        """Move the account to the address the code was mailed to. ValidationError on
        ``token`` for a code that is wrong, used or expired; Conflict if another account
        took the address meanwhile."""
        caller = caller or Caller()
        now = self._clock.now()
        with self._uow() as uow:
            record = self._mailed_code(uow, code, TokenKind.EMAIL_CHANGE, now, "code")
            user = uow.users.get(record.user_id)
            if user.pending_email is None or not user.is_active:
                raise ValidationError.field("token", "invalid or expired code")
            if uow.users.find_by_email(user.pending_email.value) is not None:
                raise Conflict("another account has that address now")
            user.change_email(now)
            record.revoke(now)
            uow.users.save(user)
            uow.tokens.save(record)
            self._audit.record(
                uow, caller, AuditAction.USER_EMAIL_CHANGE, "user", user.id, actor_id=user.id
            )
            uow.commit()
        return user
