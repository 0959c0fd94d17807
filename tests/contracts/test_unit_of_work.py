"""The unit of work and its repositories keep the persistence port's contract.

See application/ports/persistence.py: atomic commit and rollback, isolation of
uncommitted changes, optimistic concurrency, uniqueness, copies out, total orderings
with keyset bounds, the outbox, and domain events collected once after commit.

Referenced rows (owners, categories) are always stored first, so adapters with foreign
keys run the same scenarios.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs
import pytest

from videoplatform.application.ports.persistence import (
    AuditQuery,
    EventReceipts,
    Outbox,
    OutboxMessage,
    UnitOfWork,
    UnitOfWorkFactory,
    VideoListQuery,
    VideoSort,
)
from videoplatform.application.video_documents import video_document
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.categories import Category
from videoplatform.domain.errors import Conflict, NotFound
from videoplatform.domain.events import DomainEvent, VideoProcessingStarted, VideoUploaded
from videoplatform.domain.files import FolderPath, StoredFile
from videoplatform.domain.ids import (
    AuditEventId,
    CategoryId,
    FileId,
    ShareId,
    TokenId,
    UserId,
    VideoId,
)
from videoplatform.domain.shares import Share, ShareTarget, ShareTargetKind
from videoplatform.domain.uploads import (
    ResumableUpload,
    UploadId,
    UploadKind,
    UploadPart,
    UploadResult,
)
from videoplatform.domain.users import ApiToken, Email, Role, TokenKind, User, UserStatus
from videoplatform.domain.videos import Video, VideoStatus, Visibility

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

T = TypeVar("T")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- builders --------------------------------------------------------------------------


def a_user(
    name: str,
    *,
    created_at: datetime = T0,
    email: str | None = None,
    roles: frozenset[Role] = frozenset({Role.CREATOR}),
    status: UserStatus = UserStatus.ACTIVE,
) -> User:
    return User(
        id=UserId(name),
        email=Email.parse(email or f"{name}@example.com"),
        display_name=f"User {name}",
        password_hash="$argon2id$placeholder",
        roles=roles,
        status=status,
        created_at=created_at,
        updated_at=created_at,
    )


def a_video(
    video_id: str,
    owner: str,
    *,
    created_at: datetime = T0,
    visibility: Visibility = Visibility.PUBLIC,
    status: VideoStatus = VideoStatus.READY,
    category: str | None = None,
    tags: tuple[str, ...] = (),
    title: str | None = None,
) -> Video:
    return Video(
        id=VideoId(video_id),
        owner_id=UserId(owner),
        title=title or f"Video {video_id}",
        category_id=CategoryId(category) if category else None,
        tags=tags,
        visibility=visibility,
        status=status,
        source_key=f"sources/{video_id}",
        created_at=created_at,
        updated_at=created_at,
    )


def a_file(file_id: str, owner: str, name: str, folder: str = "/", size: int = 10) -> StoredFile:
    return StoredFile(
        id=FileId(file_id),
        owner_id=UserId(owner),
        name=name,
        folder=FolderPath.parse(folder),
        size=size,
        content_type="application/octet-stream",
        sha256="0" * 64,
        storage_key=f"files/{file_id}",
        created_at=T0,
        updated_at=T0,
    )


def a_share(
    share_id: str,
    owner: str,
    *,
    created_at: datetime = T0,
    target: ShareTarget | None = None,
) -> Share:
    return Share(
        id=ShareId(share_id),
        owner_id=UserId(owner),
        target=target or ShareTarget(ShareTargetKind.FILE, "f-shared"),
        token_hash=f"share-hash-{share_id}",
        created_at=created_at,
    )


def a_token(token_id: str, user: str, *, created_at: datetime = T0) -> ApiToken:
    return ApiToken(
        id=TokenId(token_id),
        user_id=UserId(user),
        kind=TokenKind.PERSONAL,
        name=f"token {token_id}",
        token_hash=f"token-hash-{token_id}",
        created_at=created_at,
        expires_at=None,
    )


def a_category(category_id: str, name: str) -> Category:
    return Category.create(id=CategoryId(category_id), name=name, now=T0)


def an_audit_event(
    event_id: str,
    occurred_at: datetime,
    *,
    actor: str | None = "u1",
    action: AuditAction = AuditAction.VIDEO_READ,
    resource_type: str = "video",
    resource_id: str | None = "v1",
    result: AuditResult = AuditResult.SUCCESS,
) -> AuditEvent:
    return AuditEvent(
        id=AuditEventId(event_id),
        occurred_at=occurred_at,
        actor_id=UserId(actor) if actor else None,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        result=result,
    )


def a_message(message_id: str, created_at: datetime, topic: str = "video.process") -> OutboxMessage:
    return OutboxMessage(
        id=message_id, topic=topic, payload={"video_id": message_id}, created_at=created_at
    )


Stored = User | Video | StoredFile | Share | ApiToken | Category | AuditEvent | OutboxMessage


def add(uow: UnitOfWork, *items: Stored) -> None:
    for item in items:
        match item:
            case User():
                uow.users.add(item)
            case Video():
                uow.videos.add(item)
            case StoredFile():
                uow.files.add(item)
            case Share():
                uow.shares.add(item)
            case ApiToken():
                uow.tokens.add(item)
            case Category():
                uow.categories.add(item)
            case AuditEvent():
                uow.audit.append(item)
            case OutboxMessage():
                uow.outbox.add(item)


def store(factory: UnitOfWorkFactory, *items: Stored) -> None:
    """Add ``items`` in one unit of work and commit."""
    with factory() as uow:
        add(uow, *items)
        uow.commit()


def read(factory: UnitOfWorkFactory, query: Callable[[UnitOfWork], T]) -> T:
    """Run ``query`` in a fresh unit of work that is then rolled back."""
    with factory() as uow:
        return query(uow)


def ids(rows: Sequence[Video | StoredFile | Share | User | ApiToken | Category]) -> list[str]:
    return [row.identity for row in rows]


def event_ids(events: Sequence[AuditEvent]) -> list[str]:
    return [e.id for e in events]


def everything(uow: UnitOfWork) -> dict[str, object]:
    """What one unit of work can see of the rows the atomicity tests write."""
    return {
        "user": uow.users.find_by_email("writer@example.com"),
        "token": uow.tokens.find_by_hash("token-hash-t1"),
        "videos": ids(uow.videos.list_page(VideoListQuery(viewer_id=None, see_all=True), 10)),
        "files": ids(uow.files.list_folder(UserId("u1"), FolderPath.root(), None, 10)),
        "share": uow.shares.find_by_token_hash("share-hash-s1"),
        "categories": ids(uow.categories.list_all()),
        "audit": event_ids(uow.audit.search(AuditQuery(), 10)),
        "outbox": [m.id for m in uow.outbox.pending(10)],
    }


def write_one_of_each(uow: UnitOfWork) -> None:
    add(
        uow,
        a_user("writer"),
        a_token("t1", "u1"),
        a_category("c1", "Music"),
        a_video("v1", "u1", category="c1"),
        a_file("f1", "u1", "notes.txt"),
        a_share("s1", "u1"),
        an_audit_event("e1", T0),
        a_message("m1", T0),
    )


NOTHING: dict[str, object] = {
    "user": None,
    "token": None,
    "videos": [],
    "files": [],
    "share": None,
    "categories": [],
    "audit": [],
    "outbox": [],
}


@pytest.fixture
def u1(uow_factory: UnitOfWorkFactory) -> UserId:
    """A stored user that owns things in most scenarios."""
    store(uow_factory, a_user("u1"))
    return UserId("u1")


# -- atomicity and isolation -----------------------------------------------------------


def test_commit_makes_the_changes_of_every_repository_visible_together(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    with uow_factory() as writer:
        write_one_of_each(writer)
        assert read(uow_factory, everything) == NOTHING
        writer.commit()

    seen = read(uow_factory, everything)
    assert seen["user"] is not None
    assert seen["token"] is not None
    assert seen["share"] is not None
    assert {k: v for k, v in seen.items() if k not in ("user", "token", "share")} == {
        "videos": ["v1"],
        "files": ["f1"],
        "categories": ["c1"],
        "audit": ["e1"],
        "outbox": ["m1"],
    }


def test_leaving_the_block_without_commit_rolls_everything_back(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    with uow_factory() as uow:
        write_one_of_each(uow)
    assert read(uow_factory, everything) == NOTHING


def test_an_exception_inside_the_block_discards_everything_and_propagates(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), uow_factory() as uow:
        write_one_of_each(uow)
        raise Boom
    assert read(uow_factory, everything) == NOTHING


def test_rollback_discards_what_came_before_and_the_unit_of_work_goes_on(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    with uow_factory() as uow:
        add(uow, a_video("discarded", "u1"))
        uow.rollback()
        add(uow, a_video("kept", "u1"))
        uow.commit()
    listed = read(uow_factory, lambda u: u.videos.list_page(VideoListQuery(None, see_all=True), 10))
    assert ids(listed) == ["kept"]


def test_a_unit_of_work_reads_its_own_uncommitted_writes(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    with uow_factory() as uow:
        write_one_of_each(uow)
        seen = everything(uow)
        assert seen["user"] is not None
        assert seen["token"] is not None
        assert seen["share"] is not None
        assert seen["videos"] == ["v1"]
        assert seen["files"] == ["f1"]
        assert seen["categories"] == ["c1"]
        assert seen["audit"] == ["e1"]
        assert seen["outbox"] == ["m1"]
        assert uow.videos.get(VideoId("v1")).title == "Video v1"
        assert uow.users.get(UserId("writer")).display_name == "User writer"
        assert uow.files.usage(UserId("u1")) == (1, 10)


def test_other_units_of_work_do_not_see_uncommitted_writes(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    with uow_factory() as writer, uow_factory() as other:
        write_one_of_each(writer)
        assert everything(other) == NOTHING
        with pytest.raises(NotFound):
            other.videos.get(VideoId("v1"))
        with pytest.raises(NotFound):
            other.users.get(UserId("writer"))
        assert other.files.usage(UserId("u1")) == (0, 0)


def test_a_deletion_stays_invisible_to_others_until_commit(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1"))
    with uow_factory() as deleter:
        deleter.videos.delete(VideoId("v1"))
        assert read(uow_factory, lambda u: u.videos.get(VideoId("v1"))).id == "v1"
        deleter.commit()
    with pytest.raises(NotFound):
        read(uow_factory, lambda u: u.videos.get(VideoId("v1")))


# -- optimistic concurrency and versions -----------------------------------------------


def test_first_commit_wins_and_the_stale_one_conflicts_without_applying_anything(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1", title="Original"))
    with uow_factory() as first, uow_factory() as second:
        mine = first.videos.get(VideoId("v1"))
        theirs = second.videos.get(VideoId("v1"))
        mine.update_metadata(now=at(1), title="First")
        theirs.update_metadata(now=at(1), title="Second")
        first.videos.save(mine)
        second.videos.save(theirs)
        add(second, a_category("c-second", "From second"), a_message("m-second", T0))
        first.commit()
        with pytest.raises(Conflict):
            second.commit()

    with uow_factory() as uow:
        video = uow.videos.get(VideoId("v1"))
        assert video.title == "First"
        assert video.version == mine.version
        assert uow.categories.list_all() == []
        assert uow.outbox.pending(10) == []


def test_saving_a_copy_loaded_before_someone_elses_commit_conflicts(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1", title="Original"))
    with uow_factory() as slow:
        stale = slow.videos.get(VideoId("v1"))
        with uow_factory() as fast:
            fresh = fast.videos.get(VideoId("v1"))
            fresh.update_metadata(now=at(1), title="Fast")
            fast.videos.save(fresh)
            fast.commit()
        stale.update_metadata(now=at(2), title="Slow")
        # The contract allows the Conflict at save or, at the latest, at commit.
        with pytest.raises(Conflict):
            slow.videos.save(stale)
            slow.commit()
    assert read(uow_factory, lambda u: u.videos.get(VideoId("v1"))).title == "Fast"


def test_the_version_is_bumped_by_each_commit_and_saving_again_later_works(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    video = a_video("v1", "u1")
    store(uow_factory, video)
    stored = read(uow_factory, lambda u: u.videos.get(VideoId("v1")))
    assert video.version == stored.version

    with uow_factory() as uow:
        loaded = uow.videos.get(VideoId("v1"))
        loaded.update_metadata(now=at(1), title="Once")
        uow.videos.save(loaded)
        uow.commit()
    assert loaded.version == stored.version + 1

    with uow_factory() as uow:
        loaded.update_metadata(now=at(2), title="Twice")
        uow.videos.save(loaded)
        uow.commit()
    assert loaded.version == stored.version + 2
    again = read(uow_factory, lambda u: u.videos.get(VideoId("v1")))
    assert (again.title, again.version) == ("Twice", stored.version + 2)


def test_an_added_aggregate_can_be_saved_in_a_later_unit_of_work(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    video = a_video("v1", "u1")
    store(uow_factory, video)
    with uow_factory() as uow:
        video.update_metadata(now=at(1), title="Edited")
        uow.videos.save(video)
        uow.commit()
    assert read(uow_factory, lambda u: u.videos.get(VideoId("v1"))).title == "Edited"


def test_a_failed_commit_leaves_the_stored_version_untouched(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1"))
    before = read(uow_factory, lambda u: u.videos.get(VideoId("v1"))).version
    with uow_factory() as first, uow_factory() as second:
        a = first.videos.get(VideoId("v1"))
        b = second.videos.get(VideoId("v1"))
        first.videos.save(a)
        second.videos.save(b)
        first.commit()
        with pytest.raises(Conflict):
            second.commit()
    assert read(uow_factory, lambda u: u.videos.get(VideoId("v1"))).version == before + 1


def test_saving_an_aggregate_twice_in_one_unit_of_work_bumps_its_version_once(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1"))
    before = read(uow_factory, lambda u: u.videos.get(VideoId("v1")).version)
    with uow_factory() as uow:
        video = uow.videos.get(VideoId("v1"))
        video.update_metadata(now=at(1), title="Once")
        uow.videos.save(video)
        video.update_metadata(now=at(2), title="Twice")
        uow.videos.save(video)
        again = uow.videos.get(VideoId("v1"))
        again.update_metadata(now=at(3), description="A copy loaded after the saves")
        uow.videos.save(again)
        uow.commit()
    stored = read(uow_factory, lambda u: u.videos.get(VideoId("v1")))
    assert (stored.title, stored.description) == ("Twice", "A copy loaded after the saves")
    assert stored.version == video.version == again.version == before + 1


def test_an_aggregate_added_then_saved_in_one_unit_of_work_is_stored_once(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    video = a_video("v1", "u1")
    with uow_factory() as uow:
        uow.videos.add(video)
        video.update_metadata(now=at(1), title="Edited before commit")
        uow.videos.save(video)
        uow.commit()
    stored = read(uow_factory, lambda u: u.videos.get(VideoId("v1")))
    assert stored.title == "Edited before commit"
    assert stored.version == video.version
    with uow_factory() as uow:
        video.update_metadata(now=at(2), title="Edited later")
        uow.videos.save(video)
        uow.commit()
    assert read(uow_factory, lambda u: u.videos.get(VideoId("v1"))).title == "Edited later"


# -- uniqueness ------------------------------------------------------------------------


def conflict_code(action: Callable[[], None], uow: UnitOfWork) -> str:
    """Run ``action`` then commit; the Conflict may come from either (the contract says
    "at the latest when the unit of work commits"). Returns its code."""
    with pytest.raises(Conflict) as caught:
        action()
        uow.commit()
    return caught.value.code


def test_a_taken_email_is_refused_with_email_taken(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    with uow_factory() as uow:
        duplicate = a_user("u2", email="U1@Example.com")
        assert conflict_code(lambda: uow.users.add(duplicate), uow) == "email_taken"
    with pytest.raises(NotFound):
        read(uow_factory, lambda u: u.users.get(UserId("u2")))


def test_changing_an_email_to_a_taken_one_is_refused_with_email_taken(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_user("u2"))
    with uow_factory() as uow:
        user = uow.users.get(UserId("u2"))
        user.email = Email.parse("u1@example.com")
        assert conflict_code(lambda: uow.users.save(user), uow) == "email_taken"
    assert read(uow_factory, lambda u: u.users.get(UserId("u2"))).email.value == "u2@example.com"


def test_two_units_of_work_inserting_one_email_the_second_commit_fails(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with uow_factory() as first, uow_factory() as second:
        first.users.add(a_user("first", email="same@example.com"))
        second.users.add(a_user("second", email="same@example.com"))
        add(second, a_message("m-second", T0))
        first.commit()
        with pytest.raises(Conflict) as caught:
            second.commit()
    assert caught.value.code == "email_taken"
    with uow_factory() as uow:
        found = uow.users.find_by_email("same@example.com")
        assert found is not None
        assert found.id == "first"
        assert uow.outbox.pending(10) == []


def test_a_taken_category_slug_is_refused_with_category_exists(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_category("c1", "Live Music"))
    with uow_factory() as uow:
        same_slug = a_category("c2", "live  music!")
        assert conflict_code(lambda: uow.categories.add(same_slug), uow) == "category_exists"
    store(uow_factory, a_category("c3", "Sports"))
    with uow_factory() as uow:
        renamed = uow.categories.get(CategoryId("c3"))
        renamed.rename("LIVE music")
        assert conflict_code(lambda: uow.categories.save(renamed), uow) == "category_exists"
    names = read(uow_factory, lambda u: [c.name for c in u.categories.list_all()])
    assert names == ["Live Music", "Sports"]


def test_a_file_name_is_unique_per_owner_and_folder(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_user("u2"), a_file("f1", "u1", "a.txt", "/docs"))
    # Same name elsewhere, or for someone else, is fine.
    store(uow_factory, a_file("f2", "u1", "a.txt", "/"), a_file("f3", "u2", "a.txt", "/docs"))
    with uow_factory() as uow:
        clash = a_file("f4", "u1", "a.txt", "/docs/")
        assert conflict_code(lambda: uow.files.add(clash), uow) == "file_exists"
    assert read(uow_factory, lambda u: u.files.usage(UserId("u1"))) == (2, 20)


def test_moving_a_file_onto_an_existing_name_is_refused_with_file_exists(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_file("f1", "u1", "a.txt", "/docs"), a_file("f2", "u1", "b.txt", "/"))
    with uow_factory() as uow:
        moving = uow.files.get(FileId("f2"))
        moving.move(folder=FolderPath.parse("/docs"), name="a.txt", now=at(1))
        assert conflict_code(lambda: uow.files.save(moving), uow) == "file_exists"
    unmoved = read(uow_factory, lambda u: u.files.get(FileId("f2")))
    assert (unmoved.folder.value, unmoved.name) == ("/", "b.txt")


def test_a_deleted_files_name_can_be_reused_in_the_same_unit_of_work(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_file("old", "u1", "a.txt"))
    with uow_factory() as uow:
        uow.files.delete(FileId("old"))
        uow.files.add(a_file("new", "u1", "a.txt"))
        uow.commit()
    listed = read(
        uow_factory, lambda u: u.files.list_folder(UserId("u1"), FolderPath.root(), None, 10)
    )
    assert ids(listed) == ["new"]


def test_a_commit_after_a_conflict_never_claims_writes_it_did_not_make(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """A Conflict may surface at the clashing call or later (at the latest at commit).
    Whatever the caller then does, ``commit`` either raises, or makes the unit of work's
    other writes visible: it never returns as if it had committed what it threw away."""
    store(uow_factory, a_category("c1", "Original"))
    with uow_factory() as uow:
        uow.categories.add(a_category("c2", "Other"))
        with pytest.raises(Conflict):
            uow.categories.add(a_category("c3", "original"))
            uow.categories.list_all()  # a read: the latest point the clash must show at
        try:
            uow.commit()
        except Conflict:
            committed = False
        else:
            committed = True
    names = read(uow_factory, lambda u: [c.name for c in u.categories.list_all()])
    assert names == (["Original", "Other"] if committed else ["Original"])


# -- copies, missing rows, deletion ----------------------------------------------------


def test_returned_aggregates_are_copies_that_change_nothing_unless_saved(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1", title="Original"))
    with uow_factory() as uow:
        got = uow.videos.get(VideoId("v1"))
        got.update_metadata(now=at(1), title="Changed by get")
        assert uow.videos.get(VideoId("v1")).title == "Original"
        (from_list,) = uow.videos.list_page(VideoListQuery(None, see_all=True), 10)
        from_list.update_metadata(now=at(1), title="Changed by list")
        assert uow.videos.get(VideoId("v1")).title == "Original"
        user = uow.users.get(u1)
        user.change_profile(at(1), display_name="Someone Else")
        uow.commit()
    with uow_factory() as uow:
        assert uow.videos.get(VideoId("v1")).title == "Original"
        assert uow.users.get(u1).display_name == "User u1"


def test_get_of_a_missing_row_raises_not_found_and_find_returns_none(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        for get in (
            lambda: uow.users.get(UserId("nope")),
            lambda: uow.tokens.get(TokenId("nope")),
            lambda: uow.videos.get(VideoId("nope")),
            lambda: uow.files.get(FileId("nope")),
            lambda: uow.shares.get(ShareId("nope")),
            lambda: uow.categories.get(CategoryId("nope")),
        ):
            with pytest.raises(NotFound):
                get()
        assert uow.users.find_by_email("nobody@example.com") is None
        assert uow.tokens.find_by_hash("no-such-hash") is None
        assert uow.shares.find_by_token_hash("no-such-hash") is None


def test_find_by_email_finds_the_user_whatever_the_case(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    found = read(uow_factory, lambda u: u.users.find_by_email("U1@EXAMPLE.com"))
    assert found is not None
    assert found.id == "u1"


def test_deleted_rows_are_gone_at_once_and_after_commit(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1"), a_file("f1", "u1", "a.txt"), a_category("c1", "Cats"))
    with uow_factory() as uow:
        uow.videos.delete(VideoId("v1"))
        uow.files.delete(FileId("f1"))
        uow.categories.delete(CategoryId("c1"))
        with pytest.raises(NotFound):
            uow.videos.get(VideoId("v1"))
        with pytest.raises(NotFound):
            uow.files.get(FileId("f1"))
        with pytest.raises(NotFound):
            uow.categories.get(CategoryId("c1"))
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(NotFound):
            uow.videos.get(VideoId("v1"))
        with pytest.raises(NotFound):
            uow.files.get(FileId("f1"))
        with pytest.raises(NotFound):
            uow.categories.get(CategoryId("c1"))


def test_deleting_a_missing_video_raises_not_found(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.videos.delete(VideoId("nope"))


def test_a_rolled_back_delete_leaves_the_row(uow_factory: UnitOfWorkFactory, u1: UserId) -> None:
    store(uow_factory, a_video("v1", "u1"))
    with uow_factory() as uow:
        uow.videos.delete(VideoId("v1"))
    assert read(uow_factory, lambda u: u.videos.get(VideoId("v1"))).id == "v1"


# -- domain events ---------------------------------------------------------------------


def register(name: str) -> User:
    return User.register(
        id=UserId(name),
        email=Email.parse(f"{name}@example.com"),
        display_name=name,
        password_hash="$argon2id$placeholder",
        roles=frozenset({Role.CREATOR}),
        now=T0,
        verified=True,
    )


def upload(video_id: str, owner: User) -> Video:
    return Video.upload(
        id=VideoId(video_id),
        owner=owner,
        title="Clip",
        description="",
        category_id=None,
        tags=(),
        visibility=Visibility.PUBLIC,
        source_key=f"sources/{video_id}",
        source_size=1,
        source_sha256="0" * 64,
        now=T0,
    )


def by_type(events: Sequence[DomainEvent]) -> list[tuple[str, str]]:
    """(event name, aggregate id) pairs, sorted: aggregates may come in any order."""
    pairs: list[tuple[str, str]] = []
    for event in events:
        subject = getattr(event, "video_id", None) or getattr(event, "user_id", "")
        pairs.append((event.name, str(subject)))
    return sorted(pairs)


def test_collect_events_returns_the_committed_events_exactly_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    uow = uow_factory()
    with uow:
        owner = register("owner")
        video = upload("v1", owner)
        video.start_processing(at(1))
        uow.users.add(owner)
        uow.videos.add(video)
        uow.commit()
    events = uow.collect_events()
    assert by_type(events) == [
        ("UserRegistered", "owner"),
        ("VideoProcessingStarted", "v1"),
        ("VideoUploaded", "v1"),
    ]
    video_events = [e for e in events if isinstance(e, VideoUploaded | VideoProcessingStarted)]
    assert [type(e) for e in video_events] == [VideoUploaded, VideoProcessingStarted]
    assert uow.collect_events() == []


def test_collect_events_is_empty_after_a_rollback(uow_factory: UnitOfWorkFactory) -> None:
    uow = uow_factory()
    with uow:
        uow.users.add(register("owner"))
    assert uow.collect_events() == []

    abandoned = uow_factory()
    with pytest.raises(RuntimeError), abandoned:
        abandoned.users.add(register("other"))
        raise RuntimeError("abandoned")
    assert abandoned.collect_events() == []


def test_collect_events_is_empty_after_a_failed_commit(uow_factory: UnitOfWorkFactory) -> None:
    store(uow_factory, a_user("taken", email="owner@example.com"))
    uow = uow_factory()
    with uow, pytest.raises(Conflict):
        uow.users.add(register("owner"))
        uow.commit()
    assert uow.collect_events() == []


def test_a_loaded_aggregate_yields_only_the_events_recorded_since_loading(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = register("owner")
    store(uow_factory, owner, upload("v1", owner))
    uow = uow_factory()
    with uow:
        video = uow.videos.get(VideoId("v1"))
        video.start_processing(at(1))
        uow.videos.save(video)
        uow.commit()
    assert by_type(uow.collect_events()) == [("VideoProcessingStarted", "v1")]


def test_events_of_aggregates_that_were_not_saved_are_not_collected(
    uow_factory: UnitOfWorkFactory,
) -> None:
    owner = register("owner")
    store(uow_factory, owner, upload("saved", owner), upload("unsaved", owner))
    uow = uow_factory()
    with uow:
        saved = uow.videos.get(VideoId("saved"))
        unsaved = uow.videos.get(VideoId("unsaved"))
        saved.start_processing(at(1))
        unsaved.start_processing(at(1))
        uow.videos.save(saved)
        uow.commit()
    assert by_type(uow.collect_events()) == [("VideoProcessingStarted", "saved")]
    assert read(uow_factory, lambda u: u.videos.get(VideoId("unsaved"))).status is (
        VideoStatus.UPLOADED
    )


# -- view counts -----------------------------------------------------------------------


def views(factory: UnitOfWorkFactory, video_id: str = "v1") -> int:
    return read(factory, lambda u: u.videos.get(VideoId(video_id)).view_count)


def test_increments_survive_a_later_save_of_a_copy_loaded_before_them(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1", title="Original"))
    with uow_factory() as editor:
        stale = editor.videos.get(VideoId("v1"))
        with uow_factory() as viewer:
            viewer.videos.increment_views(VideoId("v1"), by=3)
            viewer.commit()
        stale.update_metadata(now=at(1), title="Edited")
        editor.videos.save(stale)
        editor.commit()
    video = read(uow_factory, lambda u: u.videos.get(VideoId("v1")))
    assert (video.title, video.view_count) == ("Edited", 3)


def test_increment_views_does_not_bump_the_version(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1"))
    before = read(uow_factory, lambda u: u.videos.get(VideoId("v1")).version)
    with uow_factory() as uow:
        uow.videos.increment_views(VideoId("v1"))
        uow.commit()
    video = read(uow_factory, lambda u: u.videos.get(VideoId("v1")))
    assert (video.view_count, video.version) == (1, before)


def test_save_never_writes_the_view_count(uow_factory: UnitOfWorkFactory, u1: UserId) -> None:
    store(uow_factory, a_video("v1", "u1"))
    with uow_factory() as uow:
        uow.videos.increment_views(VideoId("v1"), by=2)
        uow.commit()
    with uow_factory() as uow:
        video = uow.videos.get(VideoId("v1"))
        video.view_count = 1_000
        uow.videos.save(video)
        uow.commit()
    assert views(uow_factory) == 2


def test_concurrent_increments_are_all_counted(uow_factory: UnitOfWorkFactory, u1: UserId) -> None:
    store(uow_factory, a_video("v1", "u1"))
    threads, rounds = 8, 25
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def viewer() -> None:
        try:
            start.wait()
            for _ in range(rounds):
                with uow_factory() as uow:
                    uow.videos.increment_views(VideoId("v1"), by=2)
                    uow.commit()
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    workers = [threading.Thread(target=viewer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert errors == []
    assert views(uow_factory) == threads * rounds * 2


def test_a_unit_of_work_reads_its_own_increments(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1"), a_video("v2", "u1"))
    with uow_factory() as uow:
        uow.videos.increment_views(VideoId("v1"), by=3)
        assert uow.videos.get(VideoId("v1")).view_count == 3
        popular = VideoListQuery(viewer_id=None, sort=VideoSort.MOST_VIEWED)
        assert ids(uow.videos.list_page(popular, 10)) == ["v1", "v2"]


def test_saving_a_copy_that_shows_own_increments_counts_each_view_once(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    with uow_factory() as uow:
        uow.videos.add(a_video("v1", "u1"))
        uow.videos.increment_views(VideoId("v1"), by=2)
        loaded = uow.videos.get(VideoId("v1"))
        loaded.title = "renamed"
        uow.videos.save(loaded)
        uow.commit()
    saved = read(uow_factory, lambda uow: uow.videos.get(VideoId("v1")))
    assert (saved.title, saved.view_count) == ("renamed", 2)


def test_concurrent_edits_with_retries_lose_no_update_and_no_view(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    """Read-modify-write under optimistic concurrency: whoever conflicts reloads and
    retries, so every edit lands; views counted meanwhile are all kept."""
    store(uow_factory, a_video("v1", "u1"))
    editors, edits_each, viewers, views_each = 5, 6, 3, 40
    errors: list[BaseException] = []
    start = threading.Barrier(editors + viewers)

    def edit(editor: int) -> None:
        try:
            start.wait()
            for n in range(edits_each):
                while True:
                    try:
                        with uow_factory() as uow:
                            video = uow.videos.get(VideoId("v1"))
                            video.update_metadata(now=at(1), tags=(*video.tags, f"e{editor}-{n}"))
                            uow.videos.save(video)
                            uow.commit()
                        break
                    except Conflict:
                        continue  # someone saved first: reload and retry
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    def view() -> None:
        try:
            start.wait()
            for _ in range(views_each):
                with uow_factory() as uow:
                    uow.videos.increment_views(VideoId("v1"))
                    uow.commit()
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    workers = [threading.Thread(target=edit, args=(e,)) for e in range(editors)]
    workers += [threading.Thread(target=view) for _ in range(viewers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert errors == []
    video = read(uow_factory, lambda u: u.videos.get(VideoId("v1")))
    assert sorted(video.tags) == sorted(
        f"e{e}-{n}" for e in range(editors) for n in range(edits_each)
    )
    assert video.view_count == viewers * views_each


def test_increment_views_of_a_missing_video_raises_not_found(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.videos.increment_views(VideoId("nope"))


def test_a_rolled_back_increment_is_not_counted(uow_factory: UnitOfWorkFactory, u1: UserId) -> None:
    store(uow_factory, a_video("v1", "u1"))
    with uow_factory() as uow:
        uow.videos.increment_views(VideoId("v1"), by=5)
    assert views(uow_factory) == 0


# -- video lists -----------------------------------------------------------------------


def listed_both_ways(uow: UnitOfWork, query: VideoListQuery, limit: int) -> list[Video]:
    """The page of ``query`` as videos, checked against the same page as the videos'
    stored documents: the same videos in the same order, each document what the
    video's would be."""
    page = uow.videos.list_page(query, limit)
    documents = uow.videos.list_documents(query, limit)
    assert [d.id for d in documents] == ids(page)
    for video, listed_video in zip(page, documents, strict=True):
        assert (listed_video.created_at, listed_video.view_count) == (
            video.created_at,
            video.view_count,
        )
        assert json.loads(listed_video.json) == {
            **video_document(video),
            "view_count": video.view_count,
        }
    return page


def walk_videos(factory: UnitOfWorkFactory, query: VideoListQuery, limit: int) -> list[str]:
    """Every page of ``query``, following the keyset bound of each page's last item."""
    seen: list[str] = []
    while True:
        with factory() as uow:
            page = listed_both_ways(uow, query, limit)
        assert len(page) <= limit
        seen.extend(ids(page))
        if len(page) < limit:
            return seen
        last = page[-1]
        bound = last.view_count if query.sort is VideoSort.MOST_VIEWED else last.created_at
        query = attrs.evolve(query, after=(bound, last.id))


def test_newest_videos_come_first_with_ties_broken_by_id_descending(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(
        uow_factory,
        a_video("v-a", "u1", created_at=at(1)),
        a_video("v-c", "u1", created_at=at(3)),
        a_video("v-b1", "u1", created_at=at(2)),
        a_video("v-b3", "u1", created_at=at(2)),
        a_video("v-b2", "u1", created_at=at(2)),
    )
    expected = ["v-c", "v-b3", "v-b2", "v-b1", "v-a"]
    everyone = VideoListQuery(viewer_id=None)
    assert ids(read(uow_factory, lambda u: u.videos.list_page(everyone, 10))) == expected
    for limit in (1, 2, 3):
        assert walk_videos(uow_factory, everyone, limit) == expected
    after_tie = VideoListQuery(viewer_id=None, after=(at(2), "v-b2"))
    assert ids(read(uow_factory, lambda u: u.videos.list_page(after_tie, 10))) == ["v-b1", "v-a"]


def test_most_viewed_videos_come_first_with_ties_broken_by_id_descending(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, *(a_video(v, "u1", created_at=at(i)) for i, v in enumerate("pqrst")))
    with uow_factory() as uow:
        for video_id, count in {"p": 5, "q": 9, "r": 5, "s": 0, "t": 5}.items():
            if count:
                uow.videos.increment_views(VideoId(video_id), by=count)
        uow.commit()
    expected = ["q", "t", "r", "p", "s"]
    popular = VideoListQuery(viewer_id=None, sort=VideoSort.MOST_VIEWED)
    assert ids(read(uow_factory, lambda u: u.videos.list_page(popular, 10))) == expected
    for limit in (1, 2, 4):
        assert walk_videos(uow_factory, popular, limit) == expected
    after_tie = VideoListQuery(viewer_id=None, sort=VideoSort.MOST_VIEWED, after=(5, "r"))
    assert ids(read(uow_factory, lambda u: u.videos.list_page(after_tie, 10))) == ["p", "s"]


@pytest.fixture
def catalogue(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Two owners' videos in many visibilities and states, each created at its own time."""
    store(
        uow_factory,
        a_user("alice"),
        a_user("bob"),
        a_category("music", "Music"),
        a_category("news", "News"),
    )
    store(
        uow_factory,
        a_video("a-pub-ready", "alice", created_at=at(9), category="music", tags=("jazz",)),
        a_video("a-pub-uploaded", "alice", created_at=at(8), status=VideoStatus.UPLOADED),
        a_video(
            "a-priv-ready", "alice", created_at=at(7), visibility=Visibility.PRIVATE, tags=("jazz",)
        ),
        a_video("a-unl-ready", "alice", created_at=at(6), visibility=Visibility.UNLISTED),
        a_video("a-pub-failed", "alice", created_at=at(5), status=VideoStatus.FAILED),
        a_video("b-pub-ready", "bob", created_at=at(4), category="news", tags=("jazz", "live")),
        a_video(
            "b-priv-processing",
            "bob",
            created_at=at(3),
            visibility=Visibility.PRIVATE,
            status=VideoStatus.PROCESSING,
            category="music",
        ),
        a_video("b-unl-ready", "bob", created_at=at(2), visibility=Visibility.UNLISTED),
        a_video("b-pub-ready-2", "bob", created_at=at(1), category="music"),
    )
    return uow_factory


def listed(factory: UnitOfWorkFactory, query: VideoListQuery, limit: int = 100) -> list[str]:
    return ids(read(factory, lambda u: listed_both_ways(u, query, limit)))


ALL_VIDEOS = [
    "a-pub-ready",
    "a-pub-uploaded",
    "a-priv-ready",
    "a-unl-ready",
    "a-pub-failed",
    "b-pub-ready",
    "b-priv-processing",
    "b-unl-ready",
    "b-pub-ready-2",
]


def test_anonymous_viewers_see_only_public_ready_videos(catalogue: UnitOfWorkFactory) -> None:
    assert listed(catalogue, VideoListQuery(viewer_id=None)) == [
        "a-pub-ready",
        "b-pub-ready",
        "b-pub-ready-2",
    ]


def test_a_viewer_sees_their_own_videos_in_any_state_and_others_public_ready_ones(
    catalogue: UnitOfWorkFactory,
) -> None:
    assert listed(catalogue, VideoListQuery(viewer_id=UserId("bob"))) == [
        "a-pub-ready",
        "b-pub-ready",
        "b-priv-processing",
        "b-unl-ready",
        "b-pub-ready-2",
    ]


def test_an_owner_walks_their_own_videos_in_any_state_page_by_page(
    catalogue: UnitOfWorkFactory,
) -> None:
    own = VideoListQuery(viewer_id=UserId("alice"), owner_id=UserId("alice"))
    everything = ["a-pub-ready", "a-pub-uploaded", "a-priv-ready", "a-unl-ready", "a-pub-failed"]
    assert walk_videos(catalogue, own, 2) == everything
    most_viewed = VideoListQuery(
        viewer_id=UserId("alice"), owner_id=UserId("alice"), sort=VideoSort.MOST_VIEWED
    )
    assert sorted(walk_videos(catalogue, most_viewed, 2)) == sorted(everything)


def test_see_all_lists_every_video(catalogue: UnitOfWorkFactory) -> None:
    assert listed(catalogue, VideoListQuery(viewer_id=None, see_all=True)) == ALL_VIDEOS


def test_pages_are_full_even_when_hidden_videos_lie_between(catalogue: UnitOfWorkFactory) -> None:
    anonymous = VideoListQuery(viewer_id=None)
    assert listed(catalogue, anonymous, limit=2) == ["a-pub-ready", "b-pub-ready"]
    assert walk_videos(catalogue, anonymous, 2) == ["a-pub-ready", "b-pub-ready", "b-pub-ready-2"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            VideoListQuery(viewer_id=None, see_all=True, owner_id=UserId("bob")),
            ["b-pub-ready", "b-priv-processing", "b-unl-ready", "b-pub-ready-2"],
            id="owner-see-all",
        ),
        pytest.param(
            VideoListQuery(viewer_id=None, owner_id=UserId("alice")),
            ["a-pub-ready"],
            id="owner-anonymous",
        ),
        pytest.param(
            VideoListQuery(viewer_id=UserId("alice"), owner_id=UserId("alice")),
            ["a-pub-ready", "a-pub-uploaded", "a-priv-ready", "a-unl-ready", "a-pub-failed"],
            id="owner-self",
        ),
        pytest.param(
            VideoListQuery(viewer_id=None, see_all=True, category_id=CategoryId("music")),
            ["a-pub-ready", "b-priv-processing", "b-pub-ready-2"],
            id="category-see-all",
        ),
        pytest.param(
            VideoListQuery(viewer_id=None, category_id=CategoryId("music")),
            ["a-pub-ready", "b-pub-ready-2"],
            id="category-anonymous",
        ),
        pytest.param(
            VideoListQuery(viewer_id=None, see_all=True, tag="jazz"),
            ["a-pub-ready", "a-priv-ready", "b-pub-ready"],
            id="tag-see-all",
        ),
        pytest.param(
            VideoListQuery(viewer_id=UserId("bob"), tag="jazz"),
            ["a-pub-ready", "b-pub-ready"],
            id="tag-viewer",
        ),
        pytest.param(
            VideoListQuery(viewer_id=None, see_all=True, tag="live"),
            ["b-pub-ready"],
            id="tag-second-of-two",
        ),
        pytest.param(
            VideoListQuery(viewer_id=None, see_all=True, visibility=Visibility.UNLISTED),
            ["a-unl-ready", "b-unl-ready"],
            id="visibility-see-all",
        ),
        pytest.param(
            VideoListQuery(viewer_id=None, visibility=Visibility.PRIVATE),
            [],
            id="visibility-private-anonymous",
        ),
        pytest.param(
            VideoListQuery(viewer_id=UserId("alice"), visibility=Visibility.PRIVATE),
            ["a-priv-ready"],
            id="visibility-private-owner",
        ),
        pytest.param(
            VideoListQuery(viewer_id=None, see_all=True, status=VideoStatus.READY),
            [
                "a-pub-ready",
                "a-priv-ready",
                "a-unl-ready",
                "b-pub-ready",
                "b-unl-ready",
                "b-pub-ready-2",
            ],
            id="status-see-all",
        ),
        pytest.param(
            VideoListQuery(viewer_id=None, status=VideoStatus.UPLOADED),
            [],
            id="status-uploaded-anonymous",
        ),
        pytest.param(
            VideoListQuery(viewer_id=UserId("alice"), status=VideoStatus.FAILED),
            ["a-pub-failed"],
            id="status-failed-owner",
        ),
        pytest.param(
            VideoListQuery(
                viewer_id=None,
                see_all=True,
                owner_id=UserId("bob"),
                category_id=CategoryId("music"),
                status=VideoStatus.READY,
            ),
            ["b-pub-ready-2"],
            id="filters-combine",
        ),
    ],
)
def test_each_filter_narrows_within_the_visibility_rule(
    catalogue: UnitOfWorkFactory, query: VideoListQuery, expected: list[str]
) -> None:
    assert listed(catalogue, query) == expected


def test_list_by_category_names_every_video_in_it(catalogue: UnitOfWorkFactory) -> None:
    in_music = read(catalogue, lambda u: u.videos.list_by_category(CategoryId("music")))
    assert sorted(in_music) == ["a-pub-ready", "b-priv-processing", "b-pub-ready-2"]


def test_every_video_is_read_in_id_order_page_by_page(catalogue: UnitOfWorkFactory) -> None:
    every = read(catalogue, lambda u: u.videos.all_ids())
    pages: list[list[str]] = []
    after: VideoId | None = None

    def next_page(uow: UnitOfWork) -> list[Video]:
        return uow.videos.page_by_id(after, 4)

    while page := read(catalogue, next_page):
        pages.append([v.id for v in page])
        after = page[-1].id
    assert [len(p) for p in pages] == [4, 4, 1]
    assert [video_id for p in pages for video_id in p] == every == sorted(every)


def test_videos_are_counted_by_status(catalogue: UnitOfWorkFactory) -> None:
    counts = read(catalogue, lambda u: u.videos.count_by_status())
    assert counts == {
        VideoStatus.READY: 6,
        VideoStatus.UPLOADED: 1,
        VideoStatus.FAILED: 1,
        VideoStatus.PROCESSING: 1,
    }


def test_reprocessing_videos_are_found_by_their_flag(catalogue: UnitOfWorkFactory) -> None:
    with catalogue() as uow:
        video = uow.videos.get(VideoId("b-pub-ready"))
        video.request_reprocessing(at(10))
        uow.videos.save(video)
        uow.commit()
    query = VideoListQuery(viewer_id=None, see_all=True, reprocessing=True)
    assert listed(catalogue, query) == ["b-pub-ready"]
    again = read(catalogue, lambda u: u.videos.get(VideoId("b-pub-ready")))
    assert (again.reprocessing, again.status) == (True, VideoStatus.READY)


# -- files -----------------------------------------------------------------------------


def test_a_folder_lists_its_own_files_by_name_then_id_with_keyset_bounds(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(
        uow_factory,
        a_user("u2"),
        a_file("f-c", "u1", "c.txt", "/docs"),
        a_file("f-a", "u1", "a.txt", "/docs"),
        a_file("f-b", "u1", "b.txt", "/docs"),
        a_file("f-deeper", "u1", "0.txt", "/docs/old"),
        a_file("f-root", "u1", "0.txt", "/"),
        a_file("f-other", "u2", "0.txt", "/docs"),
    )
    docs = FolderPath.parse("/docs")

    def page(after: tuple[str, str] | None, limit: int) -> list[str]:
        return ids(read(uow_factory, lambda u: u.files.list_folder(u1, docs, after, limit)))

    assert page(None, 10) == ["f-a", "f-b", "f-c"]
    assert page(None, 2) == ["f-a", "f-b"]
    assert page(("b.txt", "f-b"), 2) == ["f-c"]
    assert page(("a.txt", "f-zzz"), 10) == ["f-b", "f-c"]
    assert page(("c.txt", "f-c"), 10) == []


def test_file_names_and_ids_are_ordered_by_code_point(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    """Python's order, whatever a database's default collation would say (a linguistic
    one folds case and weighs punctuation differently)."""
    names = ["b.txt", "B.txt", "a-b", "ab", "a b", "A", "é", "z", "Z-1", "z1"]
    store(uow_factory, *(a_file(f"f{i:02}", "u1", name) for i, name in enumerate(names)))

    def page(after: tuple[str, str] | None, limit: int) -> list[str]:
        rows = read(uow_factory, lambda u: u.files.list_folder(u1, FolderPath.root(), after, limit))
        return [f.name for f in rows]

    expected = sorted(names)
    assert page(None, 100) == expected
    assert page((expected[3], "f99"), 3) == expected[4:7]

    user_ids = ["xa", "x-1", "X-2", "x1", "X1"]
    store(
        uow_factory,
        *(
            a_user(user_id, created_at=at(1), email=f"user{i}@example.com")
            for i, user_id in enumerate(user_ids)
        ),
    )
    same_time = read(uow_factory, lambda u: u.users.list_page((at(0), "~"), 100))
    assert ids(same_time) == sorted(user_ids)


def test_names_of_an_owners_files_come_by_folder_and_name(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(
        uow_factory,
        a_user("u2"),
        a_file("f1", "u1", "b.txt", "/work"),
        a_file("f2", "u1", "a.txt", "/work"),
        a_file("f3", "u1", "z.txt", "/"),
        a_file("f4", "u2", "theirs.txt", "/"),
    )
    names = read(uow_factory, lambda u: u.files.names(u1, 10))
    assert names == [("f3", "/", "z.txt"), ("f2", "/work", "a.txt"), ("f1", "/work", "b.txt")]
    assert read(uow_factory, lambda u: u.files.names(u1, 2)) == names[:2]


def test_subfolders_lists_only_immediate_children_holding_files(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(
        uow_factory,
        a_user("u2"),
        a_file("f1", "u1", "x", "/projects/2026/q1"),
        a_file("f2", "u1", "x", "/music"),
        a_file("f3", "u1", "x", "/projects"),
        a_file("f4", "u1", "x", "/archive/deep/deeper"),
        a_file("f5", "u1", "x", "/"),
        a_file("f6", "u2", "x", "/secret"),
        a_file("f7", "u2", "x", "/projects/theirs"),
    )

    def sub(folder: str) -> list[str]:
        return read(uow_factory, lambda u: u.files.subfolders(u1, FolderPath.parse(folder)))

    assert sub("/") == ["archive", "music", "projects"]
    assert sub("/projects") == ["2026"]
    assert sub("/archive") == ["deep"]
    assert sub("/music") == []
    assert sub("/nowhere") == []


def test_usage_sums_the_owners_files_in_every_folder(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(
        uow_factory,
        a_user("u2"),
        a_user("u3"),
        a_file("f1", "u1", "a", "/", size=100),
        a_file("f2", "u1", "b", "/x/y", size=2_500),
        a_file("f3", "u1", "c", "/x", size=0),
        a_file("f4", "u2", "a", "/", size=7),
    )
    assert read(uow_factory, lambda u: u.files.usage(u1)) == (3, 2_600)
    assert read(uow_factory, lambda u: u.files.usage(UserId("u2"))) == (1, 7)
    assert read(uow_factory, lambda u: u.files.usage(UserId("u3"))) == (0, 0)


# -- users, tokens, shares, categories -------------------------------------------------


def test_users_are_listed_by_creation_then_id_with_keyset_bounds(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(
        uow_factory,
        a_user("u-late", created_at=at(5)),
        a_user("u-b", created_at=at(1)),
        a_user("u-c", created_at=at(1)),
        a_user("u-a", created_at=at(1)),
        a_user("u-early", created_at=at(0)),
    )

    def page(after: tuple[datetime, str] | None, limit: int) -> list[str]:
        return ids(read(uow_factory, lambda u: u.users.list_page(after, limit)))

    assert page(None, 10) == ["u-early", "u-a", "u-b", "u-c", "u-late"]
    assert page(None, 2) == ["u-early", "u-a"]
    assert page((at(1), "u-a"), 2) == ["u-b", "u-c"]
    assert page((at(1), "u-c"), 2) == ["u-late"]
    assert page((at(5), "u-late"), 2) == []


def test_list_active_with_role_lists_only_active_holders(
    uow_factory: UnitOfWorkFactory,
) -> None:
    admin = frozenset({Role.ADMIN})
    store(
        uow_factory,
        a_user("root", roles=admin),
        a_user("second", roles=frozenset({Role.ADMIN, Role.CREATOR})),
        a_user("gone", roles=admin, status=UserStatus.DISABLED),
        a_user("waiting", roles=admin, status=UserStatus.PENDING),
        a_user("creator"),
    )
    assert len(read(uow_factory, lambda u: u.users.list_active_with_role("admin"))) == 2
    assert len(read(uow_factory, lambda u: u.users.list_active_with_role("creator"))) == 2
    assert read(uow_factory, lambda u: u.users.list_active_with_role("moderator")) == []


def test_user_search_finds_the_text_in_addresses_and_names_newest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(
        uow_factory,
        a_user("ada", created_at=at(0), email="ada.king@example.com"),
        a_user("grace", created_at=at(1), email="grace@navy.example"),
        a_user("kingfisher", created_at=at(2), status=UserStatus.DISABLED),
        a_user("percent", created_at=at(3), email="fifty%off@example.com"),
    )

    def found(text: str, limit: int = 10) -> list[str]:
        return [u.id for u in read(uow_factory, lambda u: u.users.search(text, limit))]

    assert found("KING") == ["kingfisher", "ada"]  # address or name, any state, newest first
    assert found("navy") == ["grace"]
    assert found("%") == ["percent"]  # the text is matched as it is, never as a pattern
    assert found("_") == []
    assert found("example", 2) == ["percent", "kingfisher"]
    assert found("nobody") == []


def test_a_users_tokens_are_listed_newest_first(uow_factory: UnitOfWorkFactory, u1: UserId) -> None:
    store(
        uow_factory,
        a_user("u2"),
        a_token("t-old", "u1", created_at=at(0)),
        a_token("t-x", "u1", created_at=at(1)),
        a_token("t-y", "u1", created_at=at(1)),
        a_token("t-new", "u1", created_at=at(2)),
        a_token("t-theirs", "u2", created_at=at(3)),
    )
    listed_tokens = read(uow_factory, lambda u: u.tokens.list_for_user(u1))
    assert ids(listed_tokens) == ["t-new", "t-y", "t-x", "t-old"]


def test_an_owners_shares_are_listed_newest_first_with_keyset_bounds(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(
        uow_factory,
        a_user("u2"),
        a_share("s-old", "u1", created_at=at(0)),
        a_share("s-b", "u1", created_at=at(1)),
        a_share("s-a", "u1", created_at=at(1)),
        a_share("s-c", "u1", created_at=at(1)),
        a_share("s-new", "u1", created_at=at(2)),
        a_share("s-theirs", "u2", created_at=at(1)),
    )

    def page(after: tuple[datetime, str] | None, limit: int) -> list[str]:
        return ids(read(uow_factory, lambda u: u.shares.list_for_owner(u1, after, limit)))

    assert page(None, 10) == ["s-new", "s-c", "s-b", "s-a", "s-old"]
    assert page(None, 2) == ["s-new", "s-c"]
    assert page((at(1), "s-c"), 2) == ["s-b", "s-a"]
    assert page((at(1), "s-a"), 2) == ["s-old"]
    assert page((at(0), "s-old"), 2) == []


def test_shares_of_a_target_are_found_by_target(uow_factory: UnitOfWorkFactory, u1: UserId) -> None:
    video = ShareTarget(ShareTargetKind.VIDEO, "v1")
    file_with_same_id = ShareTarget(ShareTargetKind.FILE, "v1")
    store(
        uow_factory,
        a_share("s1", "u1", target=video),
        a_share("s2", "u1", target=file_with_same_id),
        a_share("s3", "u1", target=video, created_at=at(1)),
    )
    found = read(uow_factory, lambda u: u.shares.list_for_target(video))
    assert sorted(ids(found)) == ["s1", "s3"]


def test_categories_are_listed_by_slug(uow_factory: UnitOfWorkFactory) -> None:
    # Chosen so that the order of the slugs is not the order of the names.
    store(
        uow_factory,
        a_category("c1", "Travel"),
        a_category("c2", "Éclairs"),  # slug "eclairs", name after "Z…" by code point
        a_category("c3", "Rock Pop"),  # slug "rock-pop"
        a_category("c4", "rock-a-billy"),  # slug "rock-a-billy"
        a_category("c5", "music"),
    )
    slugs = read(uow_factory, lambda u: [c.slug for c in u.categories.list_all()])
    assert slugs == ["eclairs", "music", "rock-a-billy", "rock-pop", "travel"]


# -- audit -----------------------------------------------------------------------------


@pytest.fixture
def audit_trail(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    store(
        uow_factory,
        an_audit_event("e1", at(0), actor="alice", action=AuditAction.USER_LOGIN),
        an_audit_event("e2", at(1), actor="bob", resource_id="v2"),
        an_audit_event("e3b", at(2), actor="alice", result=AuditResult.DENIED),
        an_audit_event("e3a", at(2), actor="bob", resource_type="file", resource_id="f1"),
        an_audit_event("e3c", at(2), actor=None, resource_id=None),
        an_audit_event("e4", at(3), actor="alice", action=AuditAction.VIDEO_DELETE),
    )
    return uow_factory


def audit(factory: UnitOfWorkFactory, query: AuditQuery, limit: int = 100) -> list[str]:
    return event_ids(read(factory, lambda u: u.audit.search(query, limit)))


def test_audit_search_runs_newest_first_with_ties_broken_by_id_descending(
    audit_trail: UnitOfWorkFactory,
) -> None:
    assert audit(audit_trail, AuditQuery()) == ["e4", "e3c", "e3b", "e3a", "e2", "e1"]
    assert audit(audit_trail, AuditQuery(), limit=2) == ["e4", "e3c"]


def test_audit_since_is_inclusive_and_until_exclusive(audit_trail: UnitOfWorkFactory) -> None:
    assert audit(audit_trail, AuditQuery(since=at(1), until=at(3))) == ["e3c", "e3b", "e3a", "e2"]
    assert audit(audit_trail, AuditQuery(since=at(2))) == ["e4", "e3c", "e3b", "e3a"]
    assert audit(audit_trail, AuditQuery(until=at(2))) == ["e2", "e1"]


def test_audit_after_bound_returns_events_strictly_before_it(
    audit_trail: UnitOfWorkFactory,
) -> None:
    assert audit(audit_trail, AuditQuery(after=(at(2), "e3b"))) == ["e3a", "e2", "e1"]
    assert audit(audit_trail, AuditQuery(after=(at(3), "e4")), limit=2) == ["e3c", "e3b"]
    assert audit(audit_trail, AuditQuery(after=(at(0), "e1"))) == []


def test_keyset_bounds_are_instants_in_any_time_zone(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    elsewhere = timezone(timedelta(hours=-5))
    store(
        uow_factory,
        *(a_user(f"u-{m}", created_at=at(m)) for m in (60, 120, 180)),
        *(a_video(f"v-{m}", "u1", created_at=at(m)) for m in (60, 120, 180)),
        *(a_share(f"s-{m}", "u1", created_at=at(m)) for m in (60, 120, 180)),
        *(an_audit_event(f"e-{m}", at(m)) for m in (60, 120, 180)),
    )
    bound = at(120).astimezone(elsewhere)
    users = read(uow_factory, lambda u: u.users.list_page((bound, "u-120"), 10))
    assert ids(users) == ["u-180"]
    newest = VideoListQuery(viewer_id=None, after=(bound, "v-120"))
    assert ids(read(uow_factory, lambda u: u.videos.list_page(newest, 10))) == ["v-60"]
    shares = read(uow_factory, lambda u: u.shares.list_for_owner(u1, (bound, "s-120"), 10))
    assert ids(shares) == ["s-60"]
    assert audit(uow_factory, AuditQuery(after=(bound, "e-120"))) == ["e-60"]
    assert audit(uow_factory, AuditQuery(since=bound)) == ["e-180", "e-120"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(AuditQuery(actor_id=UserId("alice")), ["e4", "e3b", "e1"], id="actor"),
        pytest.param(AuditQuery(action=AuditAction.VIDEO_DELETE), ["e4"], id="action"),
        pytest.param(AuditQuery(resource_type="file"), ["e3a"], id="resource-type"),
        pytest.param(AuditQuery(resource_id="v2"), ["e2"], id="resource-id"),
        pytest.param(AuditQuery(result=AuditResult.DENIED), ["e3b"], id="result"),
        pytest.param(
            AuditQuery(actor_id=UserId("bob"), resource_type="video"), ["e2"], id="combined"
        ),
    ],
)
def test_audit_filters(
    audit_trail: UnitOfWorkFactory, query: AuditQuery, expected: list[str]
) -> None:
    assert audit(audit_trail, query) == expected


def test_a_rolled_back_audit_event_never_appears(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.audit.append(an_audit_event("e1", T0))
    assert audit(uow_factory, AuditQuery()) == []


# -- outbox ----------------------------------------------------------------------------


def pending(factory: UnitOfWorkFactory, limit: int = 100) -> list[str]:
    return [m.id for m in read(factory, lambda u: u.outbox.pending(limit))]


def test_outbox_messages_are_pending_in_the_order_written_until_marked_sent(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # The order of writing (commits, then adds within one), whatever created_at says.
    store(uow_factory, a_message("m2", at(2)), a_message("m1", at(1)))
    store(uow_factory, a_message("m3", at(0)))
    assert pending(uow_factory) == ["m2", "m1", "m3"]
    assert pending(uow_factory, limit=2) == ["m2", "m1"]
    messages = read(uow_factory, lambda u: u.outbox.pending(3))
    assert attrs.evolve(messages[0], seq=0) == a_message("m2", at(2))
    assert 0 < messages[0].seq < messages[1].seq < messages[2].seq

    with uow_factory() as uow:
        uow.outbox.mark_sent(["m1", "m3"])
        uow.commit()
    assert pending(uow_factory) == ["m2"]


def test_the_outbox_backlog_counts_unsent_messages_and_dates_the_oldest(
    uow_factory: UnitOfWorkFactory,
) -> None:
    assert read(uow_factory, lambda u: u.outbox.backlog()) == (0, None)
    store(uow_factory, a_message("m2", at(2)), a_message("m1", at(1)), a_message("m3", at(3)))
    assert read(uow_factory, lambda u: u.outbox.backlog()) == (3, at(1))
    with uow_factory() as uow:
        uow.outbox.mark_sent(["m1"])
        uow.commit()
    assert read(uow_factory, lambda u: u.outbox.backlog()) == (2, at(2))


def test_an_outbox_message_keeps_the_trace_context_it_was_written_with(
    uow_factory: UnitOfWorkFactory,
) -> None:
    context = {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "vendor=value",
    }
    store(
        uow_factory,
        attrs.evolve(a_message("m1", at(1)), trace=context),
        a_message("m2", at(2)),
    )
    traces = {m.id: dict(m.trace) for m in read(uow_factory, lambda u: u.outbox.pending(10))}
    assert traces == {"m1": context, "m2": {}}
    with uow_factory() as uow:
        claimed = {m.id: dict(m.trace) for m in uow.outbox.claim(10, at(3), LEASE)}
        uow.commit()
    assert claimed == traces


def test_outbox_messages_of_a_rolled_back_unit_of_work_never_appear(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        uow.outbox.add(a_message("m1", at(1)))
    with pytest.raises(RuntimeError), uow_factory() as uow:
        uow.outbox.add(a_message("m2", at(2)))
        raise RuntimeError("abandoned")
    assert pending(uow_factory) == []


def test_marking_sent_in_a_rolled_back_unit_of_work_leaves_the_message_pending(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_message("m1", at(1)))
    with uow_factory() as uow:
        uow.outbox.mark_sent(["m1"])
        assert [m.id for m in uow.outbox.pending(10)] == []
    assert pending(uow_factory) == ["m1"]


LEASE = timedelta(minutes=5)


def claim(factory: UnitOfWorkFactory, now: datetime, limit: int = 100) -> list[str]:
    with factory() as uow:
        claimed = uow.outbox.claim(limit, now, LEASE)
        uow.commit()
    return [m.id for m in claimed]


def test_a_claim_takes_the_oldest_unsent_messages_and_holds_them_for_the_lease(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_message("m1", at(3)), a_message("m2", at(1)), a_message("m3", at(2)))
    store(uow_factory, a_message("m4", at(4)))
    with uow_factory() as uow:
        uow.outbox.mark_sent(["m4"])
        uow.commit()
    assert claim(uow_factory, at(10), limit=2) == ["m1", "m2"]
    assert claim(uow_factory, at(11)) == ["m3"]
    assert claim(uow_factory, at(12)) == []
    # Claimed is still pending: nothing is sent until the queue confirms it.
    assert pending(uow_factory) == ["m1", "m2", "m3"]
    # The claimer died: once the lease runs out, the messages are claimed again.
    assert claim(uow_factory, at(10) + LEASE) == ["m1", "m2"]


def test_a_claimed_message_marked_sent_is_never_claimed_again(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_message("m1", at(1)))
    assert claim(uow_factory, at(10)) == ["m1"]
    with uow_factory() as uow:
        uow.outbox.mark_sent(["m1"])
        uow.commit()
    assert claim(uow_factory, at(10) + 2 * LEASE) == []
    assert pending(uow_factory) == []


def test_a_released_message_counts_the_attempt_and_waits_until_its_retry_time(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_message("m1", at(1)))
    assert claim(uow_factory, at(10)) == ["m1"]
    with uow_factory() as uow:
        uow.outbox.release(["m1"], at(12))
        uow.commit()
    assert claim(uow_factory, at(11)) == []
    with uow_factory() as uow:
        again = uow.outbox.claim(10, at(12), LEASE)
        uow.commit()
    assert [(m.id, m.attempts) for m in again] == [("m1", 1)]


def test_a_claim_rolled_back_leaves_the_messages_claimable(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_message("m1", at(1)))
    with uow_factory() as uow:
        assert [m.id for m in uow.outbox.claim(10, at(10), LEASE)] == ["m1"]
    assert claim(uow_factory, at(10)) == ["m1"]


def test_concurrent_claims_never_hand_out_a_message_twice(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, *(a_message(f"m{n:02}", at(n)) for n in range(40)))
    claimed: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def relay() -> None:
        try:
            start.wait()
            for _ in range(20):
                try:
                    claimed.append(claim(uow_factory, at(100), limit=3))
                except Conflict:
                    continue  # another claimer committed the same rows first
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    every = [i for batch in claimed for i in batch]
    assert sorted(every) == [f"m{n:02}" for n in range(40)]


def test_a_user_lock_makes_a_second_locker_wait_for_the_first_to_end(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_user("u1"))
    order: list[str] = []
    first_holds = threading.Event()

    def first() -> None:
        with uow_factory() as uow:
            uow.users.lock(UserId("u1"))
            first_holds.set()
            time.sleep(0.3)
            order.append("first commits")
            uow.commit()

    def second() -> None:
        assert first_holds.wait(5)
        with uow_factory() as uow:
            uow.users.lock(UserId("u1"))
            order.append("second holds")
            uow.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert order == ["first commits", "second holds"]
    # A rolled-back holder lets go too.
    with uow_factory() as uow:
        uow.users.lock(UserId("u1"))
    with uow_factory() as uow:
        uow.users.lock(UserId("u1"))
        uow.commit()


def test_sent_messages_are_pruned_oldest_first_and_unsent_ones_never(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_message("m1", at(1)), a_message("m2", at(2)), a_message("m3", at(3)))
    with uow_factory() as uow:
        uow.outbox.mark_sent(["m1", "m2"])
        uow.commit()
    with uow_factory() as uow:  # sent_at is the database's clock: not yet "before" it
        assert uow.outbox.prune(datetime.now(UTC) - timedelta(minutes=5), 10) == 0
        uow.commit()
    later = datetime.now(UTC) + timedelta(seconds=5)
    with uow_factory() as uow:
        assert uow.outbox.prune(later, 1) == 1
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.prune(later, 10) == 1
        uow.commit()
    assert pending(uow_factory) == ["m3"]
    assert claim(uow_factory, at(10)) == ["m3"]


def keyed(message_id: str, key: str) -> OutboxMessage:
    return attrs.evolve(a_message(message_id, at(1)), key=key)


def test_a_key_held_by_a_claim_or_a_backoff_keeps_its_later_messages_back(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, keyed("a1", "video:a"), keyed("b1", "video:b"), keyed("a2", "video:a"))
    store(uow_factory, keyed("a3", "video:a"), a_message("free", at(1)))
    # One message per batch: a1 is claimed, so no other claimer may take a2 or a3.
    assert claim(uow_factory, at(10), limit=1) == ["a1"]
    assert claim(uow_factory, at(10)) == ["b1", "free"]
    with uow_factory() as uow:  # publishing a1 failed: it backs off, a2 and a3 wait too
        uow.outbox.release(["a1"], at(20))
        uow.commit()
    assert claim(uow_factory, at(12)) == []
    # Every lease and backoff is over: all of them, in the order written.
    assert claim(uow_factory, at(20)) == ["a1", "b1", "a2", "a3", "free"]


def test_concurrent_claims_never_hold_one_key_in_two_claims(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, *(keyed(f"m{n:02}", f"k{n % 3}") for n in range(30)))
    holders: list[tuple[str, list[str]]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def relay(name: str) -> None:
        try:
            start.wait()
            for _ in range(10):
                try:
                    with uow_factory() as uow:
                        got = uow.outbox.claim(4, at(100), LEASE)
                        uow.commit()
                except Conflict:
                    continue
                holders.append((name, [m.key or "" for m in got]))
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=relay, args=(f"r{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    owners: dict[str, set[str]] = {}
    for name, keys in holders:
        for key in keys:
            owners.setdefault(key, set()).add(name)
    # Nothing was marked sent and no lease ran out: each key stayed with its first claimer.
    assert owners and all(len(names) == 1 for names in owners.values())


# -- event receipts ----------------------------------------------------------------------


def test_receipts_say_what_was_handled_and_what_is_held(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.receipts.hold("search", "e1", "video:a", 5, at(1))
        uow.receipts.done("search", "e0", "video:a", 4, at(1))
        uow.commit()

    def check(query: Callable[[EventReceipts], bool]) -> bool:
        return read(uow_factory, lambda u: query(u.receipts))

    assert check(lambda r: r.handled("search", "e0"))
    assert not check(lambda r: r.handled("search", "e1"))
    assert not check(lambda r: r.handled("mail", "e0"))  # per subscription
    assert check(lambda r: r.held_before("search", "video:a", 6, at(0)))
    assert not check(lambda r: r.held_before("search", "video:a", 5, at(0)))  # itself
    assert not check(lambda r: r.held_before("search", "video:b", 6, at(0)))
    assert not check(lambda r: r.held_before("mail", "video:a", 6, at(0)))
    assert not check(lambda r: r.held_before("search", "video:a", 6, at(2)))  # too old

    with uow_factory() as uow:
        uow.receipts.done("search", "e1", "video:a", 5, at(3))  # the retry worked
        uow.commit()
    assert check(lambda r: r.handled("search", "e1"))
    assert not check(lambda r: r.held_before("search", "video:a", 6, at(0)))

    with uow_factory() as uow:
        uow.receipts.hold("search", "e2", "video:a", 6, at(4))
        uow.receipts.give_up("search", "e2")
        uow.receipts.give_up("search", "e1")  # handled already: that stays known
        uow.commit()
    assert not check(lambda r: r.held_before("search", "video:a", 7, at(0)))
    assert check(lambda r: r.handled("search", "e1"))
    with uow_factory() as uow:
        uow.receipts.hold("search", "e9", "video:z", 9, at(1))  # an old, forgotten hold
        uow.commit()
    with uow_factory() as uow:
        # e0 (handled at 1) and e9 (held since 1) go; e1 was handled at 3.
        assert uow.receipts.prune(at(2)) == 2
        uow.commit()
    assert not check(lambda r: r.handled("search", "e0"))
    assert check(lambda r: r.handled("search", "e1"))
    assert not check(lambda r: r.held_before("search", "video:z", 10, at(0)))


def test_a_commit_hands_the_events_it_persists_to_its_hooks(
    uow_factory: UnitOfWorkFactory,
) -> None:
    seen: list[tuple[str, list[str]]] = []

    class Hooks:
        def before_commit(self, events: Sequence[DomainEvent], outbox: Outbox) -> None:
            seen.append(("before", [e.name for e in events]))
            outbox.add(a_message("written-with-the-change", at(1)))

        def after_commit(self, events: Sequence[DomainEvent]) -> None:
            seen.append(("after", [e.name for e in events]))

    setattr(uow_factory, "hooks", Hooks())  # noqa: B010 - the adapters' factories take hooks
    user = a_user("u1")
    user.disable(at(1))  # records UserDisabled
    with uow_factory() as uow:
        uow.users.add(user)
        uow.commit()
    assert seen == [("before", ["UserDisabled"]), ("after", ["UserDisabled"])]
    assert pending(uow_factory) == ["written-with-the-change"]

    seen.clear()
    with pytest.raises(RuntimeError), uow_factory() as uow:
        again = uow.users.get(UserId("u1"))
        again.enable(at(2))
        uow.users.save(again)
        raise RuntimeError("abandoned")  # rolled back: no hook runs
    assert seen == []


def test_a_folder_listing_bound_just_before_a_name_includes_that_name(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    # How the file service probes for a taken name before storing any bytes.
    store(uow_factory, a_file("f1", "u1", "report.txt"), a_file("f2", "u1", "zeta.txt"))
    found = read(
        uow_factory,
        lambda uow: uow.files.list_folder(u1, FolderPath("/"), ("report.txt", ""), 1),
    )
    assert ids(found) == ["f1"]


# -- resumable uploads and video usage -------------------------------------------------


def an_upload(upload_id: str, owner: str, *, expires_at: datetime | None = None) -> ResumableUpload:
    return ResumableUpload(
        id=UploadId(upload_id),
        owner_id=UserId(owner),
        kind=UploadKind.FILE,
        metadata={"filename": "ünïcode.bin", "folder": "/a/b"},
        length=1_000,
        created_at=T0,
        expires_at=expires_at or at(60),
    )


def add_uploads(factory: UnitOfWorkFactory, *uploads: ResumableUpload) -> None:
    with factory() as uow:
        for upload in uploads:
            uow.uploads.add(upload)
        uow.commit()


def test_an_upload_round_trips_with_its_parts_offset_and_result(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    add_uploads(uow_factory, an_upload("up1", "u1"))
    with uow_factory() as uow:
        upload = uow.uploads.get(UploadId("up1"))
        upload.accept_chunk(0, UploadPart("uploads/up1/parts/a", 400), at(1))
        upload.accept_chunk(400, UploadPart("uploads/up1/parts/b", 600), at(2))
        uow.uploads.save(upload)
        uow.commit()
    stored = read(uow_factory, lambda u: u.uploads.get(UploadId("up1")))
    assert stored.offset == 1_000 and stored.version == 2
    assert stored.parts == [
        UploadPart("uploads/up1/parts/a", 400),
        UploadPart("uploads/up1/parts/b", 600),
    ]
    assert (stored.kind, stored.metadata, stored.length) == (
        UploadKind.FILE,
        {"filename": "ünïcode.bin", "folder": "/a/b"},
        1_000,
    )
    assert (stored.created_at, stored.expires_at, stored.owner_id) == (T0, at(60), "u1")
    with uow_factory() as uow:
        done = uow.uploads.get(UploadId("up1"))
        done.complete(UploadResult(UploadKind.FILE, "f9"))
        uow.uploads.save(done)
        uow.commit()
    finished = read(uow_factory, lambda u: u.uploads.get(UploadId("up1")))
    assert finished.result == UploadResult(UploadKind.FILE, "f9")
    assert finished.parts == [] and finished.offset == 1_000


def test_two_chunks_committed_at_one_offset_the_second_is_stale(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    add_uploads(uow_factory, an_upload("up1", "u1"))
    first, second = uow_factory(), uow_factory()
    with first, second:
        mine = first.uploads.get(UploadId("up1"))
        theirs = second.uploads.get(UploadId("up1"))
        mine.accept_chunk(0, UploadPart("k1", 10), at(1))
        theirs.accept_chunk(0, UploadPart("k2", 20), at(1))
        first.uploads.save(mine)
        first.commit()
        second.uploads.save(theirs)
        with pytest.raises(Conflict) as lost:
            second.commit()
    assert lost.value.code == "stale_version"
    stored = read(uow_factory, lambda u: u.uploads.get(UploadId("up1")))
    assert (stored.offset, stored.parts) == (10, [UploadPart("k1", 10)])


def test_a_missing_upload_is_not_found_and_deleting_it_twice_too(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    add_uploads(uow_factory, an_upload("up1", "u1"))
    with uow_factory() as uow:
        with pytest.raises(NotFound):
            uow.uploads.get(UploadId("nope"))
        uow.uploads.delete(UploadId("up1"))
        uow.commit()
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.uploads.delete(UploadId("up1"))


def test_expired_uploads_come_oldest_expiry_first_and_bounded(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    add_uploads(
        uow_factory,
        an_upload("late", "u1", expires_at=at(30)),
        an_upload("b", "u1", expires_at=at(10)),
        an_upload("a", "u1", expires_at=at(10)),
        an_upload("future", "u1", expires_at=at(31)),
    )

    def expired(now: datetime, limit: int = 10) -> list[str]:
        return [u.id for u in read(uow_factory, lambda uow: uow.uploads.list_expired(now, limit))]

    assert expired(at(30)) == ["a", "b", "late"]
    assert expired(at(30), 2) == ["a", "b"]
    assert expired(at(9)) == []


def test_pending_uploads_are_the_owners_unexpired_ones_without_a_result(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_user("u2"))
    completing = attrs.evolve(an_upload("completing", "u1"), length=7, offset=7)
    completing.begin_completion(at(1))
    done = attrs.evolve(an_upload("done", "u1"), length=0)
    done.complete(UploadResult(UploadKind.FILE, "f1"))
    add_uploads(
        uow_factory,
        attrs.evolve(an_upload("open", "u1"), length=30),
        attrs.evolve(an_upload("expiring", "u1", expires_at=at(10)), length=200),
        completing,
        done,
        attrs.evolve(an_upload("theirs", "u2"), length=4_000),
    )

    def pending(owner: str, now: datetime) -> tuple[int, int]:
        return read(uow_factory, lambda uow: uow.uploads.pending(UserId(owner), now))

    assert pending("u1", at(9)) == (3, 237)
    assert pending("u1", at(10)) == (2, 37)  # expired at its expires_at
    assert pending("u2", at(9)) == (1, 4_000)
    assert pending("u3", at(9)) == (0, 0)
    stored = read(uow_factory, lambda uow: uow.uploads.get(UploadId("completing")))
    assert stored.completing_since == at(1)
    with uow_factory() as uow:
        uow.uploads.delete(UploadId("open"))
        uow.commit()
    assert pending("u1", at(9)) == (2, 207)


def test_video_usage_counts_the_owners_videos_and_source_bytes(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(
        uow_factory,
        a_user("u2"),
        attrs.evolve(a_video("v1", "u1"), source_size=1_000),
        attrs.evolve(a_video("v2", "u1", status=VideoStatus.UPLOADED), source_size=24),
        attrs.evolve(a_video("v3", "u2"), source_size=5),
    )
    assert read(uow_factory, lambda u: u.videos.usage(u1)) == (2, 1_024)
    assert read(uow_factory, lambda u: u.videos.usage(UserId("u2"))) == (1, 5)
    assert read(uow_factory, lambda u: u.videos.usage(UserId("u3"))) == (0, 0)


# -- a disabled owner's videos ---------------------------------------------------------


def public_ids(factory: UnitOfWorkFactory, **query: Any) -> list[str]:
    return read(factory, lambda u: ids(u.videos.list_page(VideoListQuery(None, **query), 10)))


def test_an_owner_wide_flag_hides_that_owners_videos_from_lists_until_cleared(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    with uow_factory() as uow:
        add(uow, a_user("u2"))
        uow.commit()
    store(
        uow_factory,
        a_video("v1", "u1", created_at=at(1)),
        a_video("v2", "u1", created_at=at(2)),
        a_video("v3", "u2", created_at=at(3)),
    )
    with uow_factory() as uow:
        uow.videos.set_owner_disabled(UserId("u1"), True)
        assert uow.videos.get(VideoId("v1")).owner_disabled  # its own write, before commit
        uow.commit()

    assert public_ids(uow_factory) == ["v3"]
    assert public_ids(uow_factory, owner_id=UserId("u1")) == []
    assert public_ids(uow_factory, see_all=True) == ["v3", "v2", "v1"]
    flags = read(
        uow_factory, lambda u: [u.videos.get(VideoId(v)).owner_disabled for v in ("v1", "v3")]
    )
    assert flags == [True, False]

    with uow_factory() as uow:
        uow.videos.set_owner_disabled(UserId("u1"), False)
        uow.commit()
    assert public_ids(uow_factory) == ["v3", "v2", "v1"]


def test_the_owner_wide_flag_survives_a_save_of_a_copy_loaded_before_it(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1", title="Original"))
    before = read(uow_factory, lambda u: u.videos.get(VideoId("v1")).version)
    with uow_factory() as editor:
        stale = editor.videos.get(VideoId("v1"))
        with uow_factory() as admin:
            admin.videos.set_owner_disabled(UserId("u1"), True)
            admin.commit()
        stale.update_metadata(now=at(1), title="Edited")
        editor.videos.save(stale)
        editor.commit()
    video = read(uow_factory, lambda u: u.videos.get(VideoId("v1")))
    assert (video.title, video.owner_disabled, video.version) == ("Edited", True, before + 1)


def test_a_rolled_back_owner_wide_flag_changes_nothing(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_video("v1", "u1"))
    with uow_factory() as uow:
        uow.videos.set_owner_disabled(UserId("u1"), True)
    assert public_ids(uow_factory) == ["v1"]


def test_an_emptied_account_is_deleted_with_its_tokens(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(
        uow_factory,
        a_user("u2"),
        a_file("f2", "u1", "b", "/x/y"),
        a_file("f1", "u1", "a", "/"),
        a_file("f3", "u2", "a", "/"),
        a_share("s1", "u1"),
        a_share("s2", "u2"),
        a_token("t1", "u1"),
        a_token("t2", "u2"),
    )
    add_uploads(uow_factory, an_upload("up2", "u1"), an_upload("up1", "u1"), an_upload("x", "u2"))

    assert ids(read(uow_factory, lambda u: u.files.list_for_owner(u1, 10))) == ["f1", "f2"]
    assert ids(read(uow_factory, lambda u: u.files.list_for_owner(u1, 1))) == ["f1"]
    uploads = read(uow_factory, lambda u: u.uploads.list_for_owner(u1))
    assert [upload.id for upload in uploads] == ["up1", "up2"]
    with uow_factory() as uow:
        for file_id in ("f1", "f2"):
            uow.files.delete(FileId(file_id))
        uow.shares.delete(ShareId("s1"))
        for upload_id in ("up1", "up2"):
            uow.uploads.delete(UploadId(upload_id))
        uow.users.delete(u1)
        uow.commit()

    with uow_factory() as uow:
        with pytest.raises(NotFound):
            uow.users.get(u1)
        with pytest.raises(NotFound):
            uow.tokens.get(TokenId("t1"))
        with pytest.raises(NotFound):
            uow.shares.get(ShareId("s1"))
        assert uow.tokens.get(TokenId("t2")).user_id == "u2"
        assert uow.shares.get(ShareId("s2")).owner_id == "u2"
        with pytest.raises(NotFound):
            uow.users.delete(u1)
        with pytest.raises(NotFound):
            uow.shares.delete(ShareId("s1"))


def test_expired_tokens_of_a_kind_come_oldest_expiry_first_unrevoked_only(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    def token(token_id: str, kind: TokenKind, expires: int, revoked: bool = False) -> ApiToken:
        made = attrs.evolve(a_token(token_id, "u1"), kind=kind, expires_at=at(expires))
        if revoked:
            made.revoke(at(0))
        return made

    store(
        uow_factory,
        token("late", TokenKind.DATA_EXPORT, 5),
        token("early", TokenKind.DATA_EXPORT, 2),
        token("used", TokenKind.DATA_EXPORT, 1, revoked=True),
        token("living", TokenKind.DATA_EXPORT, 50),
        token("other", TokenKind.PASSWORD_RESET, 1),
    )

    def expired(now: int, limit: int = 10) -> list[str]:
        found = read(
            uow_factory, lambda u: u.tokens.list_expired(TokenKind.DATA_EXPORT, at(now), limit)
        )
        return [t.id for t in found]

    assert expired(10) == ["early", "late"]
    assert expired(10, limit=1) == ["early"]
    assert expired(5) == ["early", "late"]  # expired at its expires_at
    assert expired(1) == []


def test_a_token_is_found_with_its_user_as_each_reads_alone(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_user("u2", roles=frozenset({Role.CREATOR, Role.MODERATOR})))
    store(uow_factory, a_token("t1", "u1"), a_token("t2", "u2"))

    for token_id, user_id in (("t1", "u1"), ("t2", "u2")):
        with uow_factory() as uow:
            found = uow.tokens.find_with_user(f"token-hash-{token_id}")
            alone = uow.tokens.get(TokenId(token_id)), uow.users.get(UserId(user_id))
        assert found == alone
    assert read(uow_factory, lambda u: u.tokens.find_with_user("no-such-hash")) is None


def test_a_user_found_with_a_token_is_saved_like_one_read_alone(
    uow_factory: UnitOfWorkFactory, u1: UserId
) -> None:
    store(uow_factory, a_token("t1", "u1"))
    with uow_factory() as uow:
        found = uow.tokens.find_with_user("token-hash-t1")
        assert found is not None
        token, user = found
        user.change_profile(T0, display_name="Renamed")
        uow.users.save(user)
        uow.commit()
    assert read(uow_factory, lambda u: u.users.get(UserId("u1"))).display_name == "Renamed"
    assert read(uow_factory, lambda u: u.tokens.get(TokenId("t1"))) == token
