"""A refused access is recorded through the ``AccessRefused`` event, after the caller was
answered: the refused call writes nothing itself, and a hidden resource is recorded
exactly like a missing one."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import attrs
import pytest

from tests.unit.application.conftest import Studio
from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.database import MemoryDatabase
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWork, MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.events.deferred import DeferredEvents
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.persistence import CommitHooks
from videoplatform.application.video_commands import UpdateVideo
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import NotFound, PermissionDenied
from videoplatform.domain.events import AccessRefused, UserEnabled
from videoplatform.domain.ids import AuditEventId, CategoryId, FileId, UserId, VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform

MISSING_VIDEO = VideoId("01NOSUCHVIDEO0000000000000")
MISSING_FILE = FileId("01NOSUCHFILE00000000000000")
DELIVERY_THREAD = "deferred-events"


class WatchedUnit(MemoryUnitOfWork):
    def __init__(self, db: MemoryDatabase, hooks: CommitHooks | None, units: WatchedUnits) -> None:
        super().__init__(db, hooks)
        self._units = units

    def commit(self) -> None:
        thread = threading.current_thread().name
        if thread == DELIVERY_THREAD and self._units.failing_deliveries:
            self._units.failing_deliveries -= 1
            raise RuntimeError("the database went away")
        super().commit()
        self._units.commits.append(thread)


class WatchedUnits(MemoryUnitOfWorkFactory):
    """The memory database, noting the thread of every commit; the next
    ``failing_deliveries`` commits of the delivery thread fail."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[str] = []
        self.failing_deliveries = 0

    def __call__(self) -> MemoryUnitOfWork:
        return WatchedUnit(self.db, self.hooks, self)


@pytest.fixture
def uow_factory() -> WatchedUnits:
    return WatchedUnits()


@contextmanager
def deliveries_held(platform: Platform) -> Iterator[DeferredEvents]:
    """The platform's deferred events, with their delivery thread kept busy (by an event
    only this gate handles) until the block ends."""
    events = platform.resolve(DeferredEvents)
    entered, release = threading.Event(), threading.Event()

    def gate(_: UserEnabled) -> None:
        entered.set()
        release.wait(10)

    events.subscribe(UserEnabled, gate)
    events.publish(UserEnabled(occurred_at=datetime.now(UTC), user_id=UserId("gate")))
    assert entered.wait(5)
    try:
        yield events
    finally:
        release.set()
        assert events.settle(5)


def denied_rows(db: MemoryDatabase) -> list[AuditEvent]:
    """What the database holds, read without going through the platform (which would
    wait for the pending refusals first)."""
    with db.lock:
        return [e for e in db.audit if e.result is AuditResult.DENIED]


def captured(platform: Platform) -> list[AccessRefused]:
    seen: list[AccessRefused] = []
    platform.resolve(DeferredEvents).subscribe(AccessRefused, seen.append)
    return seen


def same_but_ids(a: AuditEvent, b: AuditEvent) -> bool:
    blank = AuditEventId("x")
    return attrs.evolve(a, id=blank, resource_id="x") == attrs.evolve(b, id=blank, resource_id="x")


def test_a_hidden_and_a_missing_video_are_recorded_alike_after_the_answer(
    platform: Platform, make_user: MakeUser, studio: Studio, uow_factory: WatchedUnits
) -> None:
    owner, stranger = make_user(), make_user()
    video = studio.publish(owner, visibility=Visibility.PRIVATE)
    raised = captured(platform)
    committed = len(uow_factory.commits)

    with deliveries_held(platform) as events:
        with pytest.raises(NotFound) as hidden:
            platform.videos.get(stranger, video.id)
        with pytest.raises(NotFound) as missing:
            platform.videos.get(stranger, MISSING_VIDEO)
        # Both calls are answered while nothing could record them yet: they wrote nothing.
        assert uow_factory.commits[committed:] == []
        assert denied_rows(uow_factory.db) == []
        assert events.pending == 3  # the gate's event, and the two refusals

    assert type(hidden.value) is type(missing.value) is NotFound
    assert (str(hidden.value), hidden.value.code) == (str(missing.value), missing.value.code)
    assert [e.resource_id for e in raised] == [video.id, MISSING_VIDEO]
    assert attrs.evolve(raised[0], audit_id="x", resource_id="x") == attrs.evolve(
        raised[1], audit_id="x", resource_id="x"
    )
    # Recorded by the delivery thread, one unit of work each.
    assert uow_factory.commits[committed:] == [DELIVERY_THREAD, DELIVERY_THREAD]
    hidden_row, missing_row = sorted(denied_rows(uow_factory.db), key=lambda e: e.id)
    assert (hidden_row.id, missing_row.id) == (raised[0].audit_id, raised[1].audit_id)
    assert same_but_ids(hidden_row, missing_row)
    assert (hidden_row.resource_id, missing_row.resource_id) == (video.id, MISSING_VIDEO)
    assert hidden_row.action is AuditAction.VIDEO_READ
    assert hidden_row.resource_type == "video"
    assert hidden_row.actor_id == stranger.user_id
    assert hidden_row.metadata == {"reason": "not_found"}


def test_a_hidden_and_a_missing_file_are_recorded_alike(
    platform: Platform, make_user: MakeUser, uow_factory: WatchedUnits
) -> None:
    owner, stranger = make_user(), make_user()
    stored = platform.files.store(owner, StoreFile(name="a.txt", content=io.BytesIO(b"a")))
    committed = len(uow_factory.commits)

    with deliveries_held(platform):
        for file_id in (stored.id, MISSING_FILE):
            with pytest.raises(NotFound, match=r"^file not found$"):
                platform.files.get(stranger, file_id)
        assert uow_factory.commits[committed:] == []

    hidden_row, missing_row = sorted(denied_rows(uow_factory.db), key=lambda e: e.id)
    assert same_but_ids(hidden_row, missing_row)
    assert (hidden_row.resource_id, missing_row.resource_id) == (stored.id, MISSING_FILE)
    assert (hidden_row.action, hidden_row.metadata) == (
        AuditAction.FILE_READ,
        {"reason": "not_found"},
    )


def test_a_reader_of_the_trail_sees_the_refusals_made_before(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    stranger = make_user()
    for _ in range(3):
        with pytest.raises(NotFound):
            platform.videos.get(stranger, MISSING_VIDEO)

    found = platform.audit.search(admin, AuditFilter(result=AuditResult.DENIED)).items
    assert [(e.resource_id, e.actor_id) for e in found] == [(MISSING_VIDEO, stranger.user_id)] * 3


def test_a_permission_refusal_is_recorded_the_same_way(
    platform: Platform, make_user: MakeUser, uow_factory: WatchedUnits
) -> None:
    viewer = make_user(Role.VIEWER)
    committed = len(uow_factory.commits)

    with deliveries_held(platform):
        with pytest.raises(PermissionDenied):
            platform.files.store(viewer, StoreFile(name="x", content=io.BytesIO(b"x")))
        assert uow_factory.commits[committed:] == []

    (row,) = denied_rows(uow_factory.db)
    assert (row.action, row.resource_id, row.actor_id) == (
        AuditAction.FILE_UPLOAD,
        None,
        viewer.user_id,
    )
    assert row.metadata == {"reason": "permission_denied"}


def test_something_else_missing_on_the_way_is_not_a_refused_access(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner = make_user()
    video = studio.publish(owner)
    raised = captured(platform)

    with pytest.raises(NotFound, match=r"^category not found$"):
        platform.videos.update(
            owner, video.id, UpdateVideo(category_id=CategoryId("01NOSUCHCATEGORY0000000000"))
        )

    assert platform.resolve(DeferredEvents).settle(5)
    assert raised == []


def test_a_record_that_failed_is_tried_again_and_written_once(
    platform: Platform, make_user: MakeUser, uow_factory: WatchedUnits, admin: Caller
) -> None:
    stranger = make_user()
    uow_factory.failing_deliveries = 1

    with pytest.raises(NotFound):
        platform.videos.get(stranger, MISSING_VIDEO)

    found = platform.audit.search(admin, AuditFilter(result=AuditResult.DENIED)).items
    assert [e.resource_id for e in found] == [MISSING_VIDEO]
    assert uow_factory.failing_deliveries == 0
