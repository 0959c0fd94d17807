"""What every part of the account use cases shares."""

from __future__ import annotations

from videoplatform.application.audit_recording import Auditor
from videoplatform.application.limits import Limits
from videoplatform.application.ports.mail import Mailer
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.system import (
    Clock,
    IdGenerator,
    PasswordHasher,
    TokenGenerator,
)
from videoplatform.application.throttle import FailureThrottle


class UserServiceBase:
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
