"""Writing the audit trail from use cases.

Successful sensitive operations append their event inside the same unit of work as the
change. A refusal changes nothing, so its event is written in a unit of work of its own,
after the refused one has rolled back (see :meth:`Auditor.refusals`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from videoplatform.application.context import Caller, Hidden
from videoplatform.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from videoplatform.application.ports.system import Clock, IdGenerator
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import AuthenticationFailed, NotFound, PermissionDenied
from videoplatform.domain.ids import AuditEventId, UserId

PRIVILEGED = {"privileged": "true"}


class Auditor:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids

    def record(
        self,
        uow: UnitOfWork,
        caller: Caller,
        action: AuditAction,
        resource_type: str,
        resource_id: str | None,
        result: AuditResult = AuditResult.SUCCESS,
        metadata: Mapping[str, str] | None = None,
        actor_id: UserId | None = None,
    ) -> AuditEvent:
        """Append an event to ``uow``'s audit trail (it commits with the change); the
        event appended."""
        event = AuditEvent(
            id=AuditEventId(self._ids.new_id()),
            occurred_at=self._clock.now(),
            actor_id=actor_id if actor_id is not None else caller.user_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            result=result,
            ip=caller.ip,
            user_agent=caller.user_agent,
            metadata=metadata or {},
        )
        uow.audit.append(event)
        return event

    def record_alone(
        self,
        caller: Caller,
        action: AuditAction,
        resource_type: str,
        resource_id: str | None,
        result: AuditResult,
        metadata: Mapping[str, str] | None = None,
        actor_id: UserId | None = None,
    ) -> None:
        with self._uow_factory() as uow:
            self.record(uow, caller, action, resource_type, resource_id, result, metadata, actor_id)
            uow.commit()

    def privileged_read(
        self,
        uow: UnitOfWork,
        caller: Caller,
        action: AuditAction,
        resource_type: str,
        resource_id: str,
    ) -> None:
        """Record (and commit) that ``caller`` read what only their role let them see:
        someone else's file, a video the public may not see."""
        self.record(uow, caller, action, resource_type, resource_id, metadata=PRIVILEGED)
        uow.commit()

    @contextmanager
    def refusals(
        self, caller: Caller, action: AuditAction, resource_type: str, resource_id: str | None
    ) -> Iterator[None]:
        """Audit any refused access raised inside the block as ``denied``, then re-raise.

        Wrap it *around* the unit of work so the refusal is recorded after that unit of
        work has rolled back.
        """
        try:
            yield
        except (AuthenticationFailed, PermissionDenied, Hidden) as refused:
            self.record_alone(
                caller,
                action,
                resource_type,
                resource_id,
                AuditResult.DENIED,
                {"reason": refused.code},
            )
            if isinstance(refused, Hidden):
                # Indistinguishable from a missing resource, down to the exception type.
                raise NotFound(refused.message) from None
            raise
