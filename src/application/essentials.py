"""What nearly every use case needs, handed to the application services as one value."""

from __future__ import annotations

from attrs import frozen

from videoplatform.application.audit_recording import Auditor
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.system import Clock, IdGenerator


@frozen
class Essentials:
    """A unit of work per transaction, the time, new ids and the audit trail."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    audit: Auditor


class UseCases:
    """Base of the application services that change things: it keeps the essentials
    where every use case finds them (``self._uow()``, ``self._clock.now()``...)."""

    def __init__(self, essentials: Essentials) -> None:
        self._uow = essentials.uow
        self._clock = essentials.clock
        self._ids = essentials.ids
        self._audit = essentials.audit
