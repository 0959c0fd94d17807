"""Units of work: all or nothing, and audit events that commit with their change."""

from __future__ import annotations

import io

import pytest

from tests.unit.application.conftest import Trail
from tests.unit.conftest import MP4_HEAD, MakeUser
from videoplatform.adapters.memory.database import MemoryDatabase
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWork, MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.persistence import AuditQuery
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.categories import Category
from videoplatform.domain.errors import Conflict, PermissionDenied
from videoplatform.domain.ids import AuditEventId, CategoryId
from videoplatform.entrypoints.bootstrap import Platform


class DatabaseWentAway(RuntimeError):
    pass


class FlakyUnitOfWork(MemoryUnitOfWork):
    def __init__(self, db: MemoryDatabase, factory: FlakyUnitOfWorkFactory) -> None:
        super().__init__(db)
        self._factory = factory

    def commit(self) -> None:
        if self._factory.failing_commits > 0:
            self._factory.failing_commits -= 1
            raise DatabaseWentAway("connection lost during commit")
        super().commit()


class FlakyUnitOfWorkFactory(MemoryUnitOfWorkFactory):
    """Memory units of work whose next ``failing_commits`` commits fail."""

    failing_commits = 0

    def __call__(self) -> FlakyUnitOfWork:
        return FlakyUnitOfWork(self.db, self)


@pytest.fixture
def uow_factory() -> FlakyUnitOfWorkFactory:
    return FlakyUnitOfWorkFactory()


class Boom(Exception):
    pass


def category(name: str, clock: ManualClock) -> Category:
    return Category.create(id=CategoryId(f"cat-{name}"), name=name, now=clock.now())


def audit_event(clock: ManualClock, resource_id: str) -> AuditEvent:
    return AuditEvent(
        id=AuditEventId(f"evt-{resource_id}"),
        occurred_at=clock.now(),
        actor_id=None,
        action=AuditAction.CATEGORY_CREATE,
        resource_type="category",
        resource_id=resource_id,
        result=AuditResult.SUCCESS,
    )


def category_names(uow_factory: MemoryUnitOfWorkFactory) -> list[str]:
    with uow_factory() as uow:
        return [c.name for c in uow.categories.list_all()]


def test_an_exception_inside_a_unit_of_work_leaves_nothing(
    uow_factory: FlakyUnitOfWorkFactory, clock: ManualClock, trail: Trail
) -> None:
    with pytest.raises(Boom), uow_factory() as uow:
        uow.categories.add(category("Lost", clock))
        uow.audit.append(audit_event(clock, "cat-Lost"))
        raise Boom

    assert category_names(uow_factory) == []
    assert trail(AuditFilter(resource_id="cat-Lost")) == []


def test_leaving_without_commit_rolls_back(
    uow_factory: FlakyUnitOfWorkFactory, clock: ManualClock
) -> None:
    with uow_factory() as uow:
        uow.categories.add(category("Forgotten", clock))

    assert category_names(uow_factory) == []


def test_changes_and_their_audit_event_appear_together_at_commit(
    uow_factory: FlakyUnitOfWorkFactory, clock: ManualClock, trail: Trail
) -> None:
    with uow_factory() as writer:
        writer.categories.add(category("Pending", clock))
        writer.audit.append(audit_event(clock, "cat-Pending"))
        with uow_factory() as reader:
            assert reader.categories.list_all() == []
            assert reader.audit.search(AuditQuery(resource_id="cat-Pending"), 10) == []
        writer.commit()

    assert category_names(uow_factory) == ["Pending"]
    assert [e.id for e in trail(AuditFilter(resource_id="cat-Pending"))] == ["evt-cat-Pending"]


def test_a_stale_write_fails_at_commit_with_its_audit_event(
    uow_factory: FlakyUnitOfWorkFactory, clock: ManualClock, trail: Trail
) -> None:
    with uow_factory() as uow:
        uow.categories.add(category("Original", clock))
        uow.commit()

    with uow_factory() as first, uow_factory() as second:
        mine = first.categories.get(CategoryId("cat-Original"))
        theirs = second.categories.get(CategoryId("cat-Original"))
        mine.rename("First")
        theirs.rename("Second")
        first.categories.save(mine)
        first.commit()
        second.categories.save(theirs)
        second.audit.append(audit_event(clock, "cat-Original-second"))
        with pytest.raises(Conflict):
            second.commit()

    assert category_names(uow_factory) == ["First"]
    assert trail(AuditFilter(resource_id="cat-Original-second")) == []


def test_a_failed_commit_loses_both_the_change_and_its_audit_event(
    platform: Platform,
    admin: Caller,
    uow_factory: FlakyUnitOfWorkFactory,
    trail: Trail,
) -> None:
    uow_factory.failing_commits = 1

    with pytest.raises(DatabaseWentAway):
        platform.categories.create(admin, "Never")

    assert platform.categories.list() == []
    assert trail(AuditFilter(action=AuditAction.CATEGORY_CREATE)) == []

    created = platform.categories.create(admin, "Now")

    (event,) = trail(AuditFilter(action=AuditAction.CATEGORY_CREATE))
    assert event.resource_id == created.id
    assert [c.id for c in platform.categories.list()] == [created.id]


def test_a_failed_upload_commit_removes_the_stored_bytes(
    platform: Platform,
    make_user: MakeUser,
    uow_factory: FlakyUnitOfWorkFactory,
    storage: MemoryObjectStorage,
    trail: Trail,
) -> None:
    creator = make_user()
    uow_factory.failing_commits = 1

    with pytest.raises(DatabaseWentAway):
        platform.videos.upload(
            creator, UploadVideo(title="Lost", source=io.BytesIO(MP4_HEAD + b"bytes"))
        )

    assert storage.keys() == []
    assert platform.videos.list(creator).items == ()
    with uow_factory() as uow:
        assert uow.outbox.pending(10) == []
    assert trail(AuditFilter(action=AuditAction.VIDEO_UPLOAD)) == []


def test_a_failed_file_commit_removes_the_stored_bytes(
    platform: Platform,
    make_user: MakeUser,
    uow_factory: FlakyUnitOfWorkFactory,
    storage: MemoryObjectStorage,
) -> None:
    owner = make_user()
    uow_factory.failing_commits = 1

    with pytest.raises(DatabaseWentAway):
        platform.files.store(owner, StoreFile(name="lost.txt", content=io.BytesIO(b"bytes")))

    assert storage.keys() == []
    assert platform.files.list_folder(owner).files.items == ()


def test_a_refusal_is_audited_although_the_refused_work_rolled_back(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    creator = make_user()

    with pytest.raises(PermissionDenied):
        platform.categories.create(creator, "Sneaky")

    assert platform.categories.list() == []
    (event,) = trail(AuditFilter(action=AuditAction.CATEGORY_CREATE))
    assert event.result is AuditResult.DENIED
    assert event.actor_id == creator.user_id
