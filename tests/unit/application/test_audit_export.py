"""Exporting the audit trail: one permission check and one audit event up front, then
the whole filtered range, newest first, read lazily a page per unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.application.conftest import Trail, only_event
from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.audit_recording import Auditor
from videoplatform.application.audit_trail import AuditFilter, AuditService
from videoplatform.application.context import Caller
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import AuthenticationFailed, PermissionDenied, ValidationError
from videoplatform.domain.ids import AuditEventId, UserId
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform


def gadget_events(
    uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock, count: int, start: int = 0
) -> list[AuditEvent]:
    """``count`` events on ``gadget`` resources, a second apart, newest first."""
    events = [
        AuditEvent(
            id=AuditEventId(f"gadget{n:05d}"),
            occurred_at=clock.now() - timedelta(seconds=n + 1),
            actor_id=UserId("someone"),
            action=AuditAction.FILE_READ if n % 2 else AuditAction.FILE_DELETE,
            resource_type="gadget",
            resource_id=f"g{n}",
            result=AuditResult.SUCCESS,
        )
        for n in range(start, start + count)
    ]
    with uow_factory() as uow:
        for event in events:
            uow.audit.append(event)
        uow.commit()
    return events


class CountingFactory:
    """A unit-of-work factory that counts the units of work it opens."""

    def __init__(self, inner: MemoryUnitOfWorkFactory) -> None:
        self.inner = inner
        self.opened = 0

    def __call__(self) -> UnitOfWork:
        self.opened += 1
        return self.inner()


GADGETS = AuditFilter(resource_type="gadget")


@pytest.mark.parametrize("count", [0, 1, 4, 5, 11])
def test_export_yields_the_whole_range_newest_first(
    platform: Platform,
    admin: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
    count: int,
) -> None:
    events = gadget_events(uow_factory, clock, count)
    platform.audit.export_page_size = 4

    assert list(platform.audit.export(admin, GADGETS)) == events


def test_export_applies_the_filters(
    platform: Platform, admin: Caller, uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock
) -> None:
    events = gadget_events(uow_factory, clock, 10)
    filters = AuditFilter(
        resource_type="gadget",
        action=AuditAction.FILE_READ,
        since=clock.now() - timedelta(seconds=8),
    )

    exported = list(platform.audit.export(admin, filters))

    assert [e.id for e in exported] == [
        e.id for e in events[:8] if e.action is AuditAction.FILE_READ
    ]


def test_export_reads_one_page_per_unit_of_work_as_it_is_consumed(
    platform: Platform, admin: Caller, uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock
) -> None:
    gadget_events(uow_factory, clock, 5)
    counting = CountingFactory(uow_factory)
    service = AuditService(counting, platform.resolve(Auditor))
    service.export_page_size = 2

    exported = service.export(admin, GADGETS)
    assert counting.opened == 1  # the permission check and the export's own audit event
    next(exported)
    assert counting.opened == 2
    next(exported)
    assert counting.opened == 2
    rest = list(exported)

    assert len(rest) == 3
    assert counting.opened == 4


def test_permission_is_checked_before_anything_is_read_and_refusals_are_audited(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    creator = make_user(Role.CREATOR)

    # Refused on the call itself, not on the first read of the iterator.
    with pytest.raises(PermissionDenied):
        platform.audit.export(creator)
    with pytest.raises(AuthenticationFailed):
        platform.audit.export(Caller.anonymous())

    denied = trail(AuditFilter(action=AuditAction.AUDIT_SEARCH, result=AuditResult.DENIED))
    assert [e.actor_id for e in denied] == [None, creator.user_id]


def test_the_export_is_audited_once_before_it_is_read(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    moderator = make_user(Role.MODERATOR)

    platform.audit.export(moderator)

    event = only_event(
        trail, AuditAction.AUDIT_SEARCH, AuditResult.SUCCESS, None, moderator.user_id
    )
    assert dict(event.metadata) == {"export": "true"}
    assert event.resource_type == "audit"


def test_the_export_covers_the_trail_as_it_stood_when_it_began(
    platform: Platform, admin: Caller, uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock
) -> None:
    before = gadget_events(uow_factory, clock, 5)
    platform.audit.export_page_size = 2
    exported = platform.audit.export(admin, AuditFilter(action=AuditAction.AUDIT_SEARCH))
    everything = platform.audit.export(admin, GADGETS)
    clock.advance(timedelta(minutes=10))
    later = gadget_events(uow_factory, clock, 3, start=100)
    assert all(e.occurred_at > before[0].occurred_at for e in later)

    # Written after the export began but before it was read: still left out.
    assert list(everything) == before
    # Its own audit event is not part of it either.
    assert list(exported) == []


def test_since_must_be_before_until(platform: Platform, admin: Caller, clock: ManualClock) -> None:
    with pytest.raises(ValidationError):
        platform.audit.export(admin, AuditFilter(since=clock.now(), until=clock.now()))
