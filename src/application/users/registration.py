"""Registration: creating accounts (quietly, for the public endpoint), the operator's
administrator, and verifying an address with the code it was mailed."""

from __future__ import annotations

from videoplatform.application.concurrency import retry_stale
from videoplatform.application.context import Caller
from videoplatform.application.users.base import UserServiceBase
from videoplatform.application.users.commands import RegisterUser
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import Conflict
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import (
    Email,
    Role,
    TokenKind,
    User,
    UserStatus,
    check_password_policy,
)


class Registration(UserServiceBase):
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
            # The owner is told by mail, after this commit (see users.mailing).
            retry_stale(3, lambda: self._note_attempt(address))

    def _note_attempt(self, address: str) -> None:
        with self._uow() as uow:
            owner = uow.users.find_by_email(address)
            if owner is not None:
                owner.note_registration_attempt(self._clock.now())
                uow.users.save(owner)
                uow.commit()

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
        with self._uow() as uow:
            if uow.users.find_by_email(email.value) is not None:
                raise Conflict("an account with this email already exists", code="email_taken")
            # A pending account is mailed its code after this commit (users.mailing).
            uow.users.add(user)
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
        return user

    def request_verification(self, email: str, caller: Caller | None = None) -> None:
        """Have a new verification code mailed if a pending account has this address
        (after this returns); it voids the code mailed before. The same answer whether
        or not there is such an account; throttled per address and per client address
        like reset requests (TooManyAttempts)."""
        caller = caller or Caller()
        address = self._mail_request("verification", email, caller)
        now = self._clock.now()
        with self._uow() as uow:
            user = uow.users.find_by_email(address)
            pending = user is not None and user.status is UserStatus.PENDING
            if user is not None and pending:
                user.request_verification(now)
                uow.users.save(user)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_VERIFY_REQUEST,
                "user",
                user.id if user is not None and pending else None,
                AuditResult.SUCCESS if pending else AuditResult.FAILURE,
                {} if pending else {"reason": "no_pending_account"},
            )
            uow.commit()

    def verify_email(self, token: str, caller: Caller | None = None) -> User:
        """Activate a pending account with the code it was mailed."""
        caller = caller or Caller()
        now = self._clock.now()
        with self._uow() as uow:
            record = self._mailed_code(
                uow, token, TokenKind.EMAIL_VERIFICATION, now, "verification code"
            )
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
