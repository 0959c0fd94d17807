"""Writing the audit trail from use cases.

Successful sensitive operations append their event inside the same unit of work as the
change. A refused access changes nothing: it raises an :class:`AccessRefused` event,
which a handler records in a unit of work of its own after the caller was answered (see
:meth:`Auditor.refusals`), so that a refusal costs the caller no write, and a hidden
resource costs the same as a missing one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from videoplatform.application.context import Caller, Hidden
from videoplatform.application.events.deferred import DeferredEvents
from videoplatform.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from videoplatform.application.ports.system import Clock, IdGenerator
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import (
    AuthenticationFailed,
    DomainError,
    NotFound,
    PermissionDenied,
)
from videoplatform.domain.events import AccessRefused
from videoplatform.domain.ids import AuditEventId, UserId

PRIVILEGED = {"privileged": "true"}


class Auditor:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        refusals: DeferredEvents,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._refusals = refusals

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

        Refused: AuthenticationFailed, PermissionDenied, and NotFound for the audited
        resource, hidden (:class:`Hidden`) or missing alike: both are recorded the same
        way, with reason ``not_found``, and re-raised as the same plain NotFound, so
        neither the answer nor the work done before it tells them apart. The record is
        an :class:`AccessRefused` event, handled after the caller was answered
        (:meth:`record_refusal`); nothing is written here.
        """
        try:
            yield
        except (AuthenticationFailed, PermissionDenied, NotFound) as refused:
            if not _refuses(refused, resource_type, resource_id):
                raise
            self.refused(caller, action, resource_type, resource_id, refused.code)
            if isinstance(refused, NotFound):
                # Indistinguishable from a missing resource, down to the exception type.
                raise NotFound(refused.message) from None
            raise

    def refused(
        self,
        caller: Caller,
        action: AuditAction,
        resource_type: str,
        resource_id: str | None,
        reason: str,
    ) -> AccessRefused:
        """Raise the event that has ``caller``'s refused ``action`` recorded as ``denied``
        once the caller was answered; the event raised."""
        event = AccessRefused(
            occurred_at=self._clock.now(),
            audit_id=self._ids.new_id(),
            actor_id=caller.user_id,
            action=action.value,
            resource_type=resource_type,
            resource_id=resource_id,
            reason=reason,
            ip=caller.ip,
            user_agent=caller.user_agent,
        )
        self._refusals.publish(event)
        return event

    def record_refusal(self, event: AccessRefused) -> None:
        """The handler of :class:`AccessRefused`: append its ``denied`` event to the
        trail, in a unit of work of its own (chained like every append). The record takes
        the event's ``audit_id``, which the database keeps unique: another attempt after
        a commit that did happen (but reported failing) fails and adds nothing."""
        with self._uow_factory() as uow:
            uow.audit.append(
                AuditEvent(
                    id=AuditEventId(event.audit_id),
                    occurred_at=event.occurred_at,
                    actor_id=event.actor_id,
                    action=AuditAction(event.action),
                    resource_type=event.resource_type,
                    resource_id=event.resource_id,
                    result=AuditResult.DENIED,
                    ip=event.ip,
                    user_agent=event.user_agent,
                    metadata={"reason": event.reason},
                )
            )
            uow.commit()


def _refuses(error: DomainError, resource_type: str, resource_id: str | None) -> bool:
    """Whether ``error`` refuses the access audited: any refusal of the caller, a hidden
    resource, or the audited resource missing. A missing one is the NotFound its
    repository raises (``video not found``), the very message a hidden one carries; a
    NotFound of anything else met on the way (a category named in an update) is not a
    refused access."""
    if not isinstance(error, NotFound) or isinstance(error, Hidden):
        return True
    return (
        resource_id is not None
        and error.code == NotFound.code
        and error.message == f"{resource_type} not found"
    )
