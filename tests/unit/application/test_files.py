"""Files in per-user virtual folders: store, list, open, move, delete."""

from __future__ import annotations

import hashlib
import io

import attrs
import pytest

from tests.unit.application.conftest import Trail, only_event
from tests.unit.conftest import CHEAP_ARGON2, MakeUser
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.application.context import Caller
from videoplatform.application.files import MoveFile, StoreFile, file_key
from videoplatform.application.ports.storage import ByteRange
from videoplatform.application.shares import CreateShare
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ShareRefused,
    ValidationError,
)
from videoplatform.domain.files import FolderPath, StoredFile
from videoplatform.domain.ids import FileId
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import settle_events


class CountingSource:
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.taken = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._data.read(size)
        self.taken += len(chunk)
        return chunk


def store(
    platform: Platform,
    caller: Caller,
    name: str,
    data: bytes = b"hello",
    folder: str = "/",
    content_type: str = "text/plain",
) -> StoredFile:
    return platform.files.store(
        caller,
        StoreFile(name=name, content=io.BytesIO(data), folder=folder, content_type=content_type),
    )


def read_all(platform: Platform, caller: Caller, file_id: FileId) -> bytes:
    _, chunks = platform.files.open(caller, file_id)
    return b"".join(chunks)


# -- store -------------------------------------------------------------------------------


def test_store_records_size_and_sha256_in_a_normalized_folder(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage, trail: Trail
) -> None:
    owner = make_user()
    data = bytes(range(256)) * 40

    stored = store(platform, owner, "report.pdf", data, "//projects/2026/", "Application/PDF")

    assert stored.owner_id == owner.user_id
    assert stored.folder == FolderPath("/projects/2026")
    assert stored.name == "report.pdf"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.content_type == "application/pdf"
    assert stored.storage_key == file_key(stored.id)
    assert storage.keys() == [stored.storage_key]
    assert "report" not in stored.storage_key
    assert read_all(platform, owner, stored.id) == data
    event = only_event(trail, AuditAction.FILE_UPLOAD, AuditResult.SUCCESS, stored.id)
    assert event.actor_id == owner.user_id
    assert event.metadata["size"] == str(len(data))
    assert event.metadata["sha256"] == stored.sha256


def test_empty_content_type_defaults_to_octet_stream(
    platform: Platform, make_user: MakeUser
) -> None:
    stored = store(platform, make_user(), "blob", b"x", content_type="  ")
    assert stored.content_type == "application/octet-stream"


def test_duplicate_name_in_a_folder_is_a_conflict_and_reads_nothing(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    owner = make_user()
    first = store(platform, owner, "notes.txt", b"first", "/docs")
    source = CountingSource(b"second")

    with pytest.raises(Conflict) as refused:
        platform.files.store(owner, StoreFile(name="notes.txt", content=source, folder="/docs/"))

    assert refused.value.code == "file_exists"
    assert source.taken == 0
    assert storage.keys() == [first.storage_key]
    assert read_all(platform, owner, first.id) == b"first"


def test_same_name_is_fine_in_another_folder_or_for_another_user(
    platform: Platform, make_user: MakeUser
) -> None:
    owner, other = make_user(), make_user()
    store(platform, owner, "notes.txt", folder="/a")

    store(platform, owner, "notes.txt", folder="/b")
    store(platform, other, "notes.txt", folder="/a")


@pytest.mark.parametrize(
    ("name", "folder", "field"),
    [
        ("../x", "/", "name"),
        ("..", "/", "name"),
        ("a\\b", "/", "name"),
        ("nul\x00byte", "/", "name"),
        (" padded", "/", "name"),
        ("", "/", "name"),
        ("x", "/../etc", "folder"),
        ("x", "/a/./b", "folder"),
        ("x", "/a\\b", "folder"),
        ("x", "/tab\there", "folder"),
    ],
)
def test_unsafe_names_and_folders_are_refused_before_reading(
    platform: Platform,
    make_user: MakeUser,
    storage: MemoryObjectStorage,
    name: str,
    folder: str,
    field: str,
) -> None:
    owner = make_user()
    source = CountingSource(b"payload")

    with pytest.raises(ValidationError) as refused:
        platform.files.store(owner, StoreFile(name=name, content=source, folder=folder))

    assert field in refused.value.fields
    assert source.taken == 0
    assert storage.keys() == []


def test_malformed_content_type_is_refused(platform: Platform, make_user: MakeUser) -> None:
    with pytest.raises(ValidationError) as refused:
        store(platform, make_user(), "x", content_type="text/html; charset=<script>")
    assert "content_type" in refused.value.fields


def test_viewer_cannot_store_files_and_is_audited(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage, trail: Trail
) -> None:
    viewer = make_user(Role.VIEWER)

    with pytest.raises(PermissionDenied):
        store(platform, viewer, "x")

    assert storage.keys() == []
    event = only_event(trail, AuditAction.FILE_UPLOAD, AuditResult.DENIED)
    assert event.actor_id == viewer.user_id


def test_anonymous_cannot_store_files(platform: Platform) -> None:
    with pytest.raises(AuthenticationFailed):
        store(platform, Caller.anonymous(), "x")


class TestByteQuota:
    @pytest.fixture
    def settings(self) -> Settings:
        return attrs.evolve(CHEAP_ARGON2, quota_bytes_per_user=100)

    def test_upload_past_the_quota_stops_early_and_leaves_nothing(
        self, platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
    ) -> None:
        owner = make_user()
        kept = store(platform, owner, "a", b"a" * 60)
        source = CountingSource(b"b" * 10_000)

        with pytest.raises(QuotaExceeded):
            platform.files.store(owner, StoreFile(name="b", content=source))

        assert source.taken <= 41
        assert storage.keys() == [kept.storage_key]
        assert [f.name for f in platform.files.list_folder(owner).files.items] == ["a"]

    def test_the_quota_can_be_filled_exactly_then_nothing_more_fits(
        self, platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
    ) -> None:
        owner, other = make_user(), make_user()
        store(platform, owner, "a", b"a" * 60)
        store(platform, owner, "b", b"b" * 40)

        with pytest.raises(QuotaExceeded):
            store(platform, owner, "c", b"c")

        assert len(storage.keys()) == 2
        store(platform, other, "c", b"c" * 100)  # quotas are per user

    def test_deleting_frees_quota(self, platform: Platform, make_user: MakeUser) -> None:
        owner = make_user()
        first = store(platform, owner, "a", b"a" * 100)
        platform.files.delete(owner, first.id)

        store(platform, owner, "b", b"b" * 100)


class TestUploadLimitForFiles:
    @pytest.fixture
    def settings(self) -> Settings:
        return attrs.evolve(CHEAP_ARGON2, max_upload_bytes=10)

    def test_a_single_file_is_bounded_by_the_upload_limit(
        self, platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
    ) -> None:
        owner = make_user()

        with pytest.raises(QuotaExceeded):
            store(platform, owner, "big", b"x" * 11)
        assert storage.keys() == []
        assert store(platform, owner, "fits", b"x" * 10).size == 10


class TestFileCountQuota:
    @pytest.fixture
    def settings(self) -> Settings:
        return attrs.evolve(CHEAP_ARGON2, quota_files_per_user=2)

    def test_file_count_is_limited(
        self, platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
    ) -> None:
        owner = make_user()
        store(platform, owner, "one")
        store(platform, owner, "two")
        source = CountingSource(b"three")

        with pytest.raises(QuotaExceeded):
            platform.files.store(owner, StoreFile(name="three", content=source))

        assert source.taken == 0
        assert len(storage.keys()) == 2


# -- list --------------------------------------------------------------------------------


def test_list_folder_shows_files_by_name_and_subfolders(
    platform: Platform, make_user: MakeUser
) -> None:
    owner, other = make_user(), make_user()
    for name in ("zeta.txt", "Alpha.txt", "beta.txt"):
        store(platform, owner, name, folder="/docs")
    store(platform, owner, "deep.txt", folder="/docs/2026/q1")
    store(platform, owner, "x.txt", folder="/docs/archive")
    store(platform, owner, "root.txt", folder="/")
    store(platform, other, "secret.txt", folder="/docs/theirs")

    listing = platform.files.list_folder(owner, "/docs/")

    assert listing.folder == FolderPath("/docs")
    assert [f.name for f in listing.files.items] == ["Alpha.txt", "beta.txt", "zeta.txt"]
    assert listing.subfolders == ("2026", "archive")
    assert listing.files.next_cursor is None
    root = platform.files.list_folder(owner)
    assert [f.name for f in root.files.items] == ["root.txt"]
    assert root.subfolders == ("docs",)
    assert platform.files.list_folder(owner, "/nothing/here").files.items == ()


def test_list_folder_pages_without_gaps_or_duplicates(
    platform: Platform, make_user: MakeUser
) -> None:
    owner = make_user()
    names = [f"file-{n:02d}" for n in range(7)]
    for name in reversed(names):
        store(platform, owner, name, folder="/many")

    seen: list[str] = []
    cursor: str | None = None
    while True:
        listing = platform.files.list_folder(owner, "/many", cursor, 3)
        seen.extend(f.name for f in listing.files.items)
        if listing.files.next_cursor is None:
            break
        cursor = listing.files.next_cursor

    assert seen == names


def test_folder_cursor_does_not_work_for_another_folder(
    platform: Platform, make_user: MakeUser
) -> None:
    owner = make_user()
    for name in ("a", "b", "c"):
        store(platform, owner, name, folder="/one")
    cursor = platform.files.list_folder(owner, "/one", limit=1).files.next_cursor
    assert cursor is not None

    with pytest.raises(ValidationError):
        platform.files.list_folder(owner, "/two", cursor)
    with pytest.raises(ValidationError):
        platform.files.list_folder(owner, "/one", "garbage!")


def test_listing_needs_the_file_permission(platform: Platform, make_user: MakeUser) -> None:
    with pytest.raises(PermissionDenied):
        platform.files.list_folder(make_user(Role.VIEWER))


# -- open --------------------------------------------------------------------------------


def test_open_returns_the_bytes_and_byte_ranges(platform: Platform, make_user: MakeUser) -> None:
    owner = make_user()
    data = b"0123456789abcdef"
    stored = store(platform, owner, "digits", data)

    meta, whole = platform.files.open(owner, stored.id)
    _, middle = platform.files.open(owner, stored.id, ByteRange(2, 5))
    _, tail = platform.files.open(owner, stored.id, ByteRange(10, 1000))

    assert meta.id == stored.id
    assert b"".join(whole) == data
    assert b"".join(middle) == b"2345"
    assert b"".join(tail) == b"abcdef"
    with pytest.raises(ValidationError) as refused:
        platform.files.open(owner, stored.id, ByteRange(16, 20))
    assert refused.value.code == "range_not_satisfiable"


def test_another_users_file_looks_missing_and_is_audited(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    owner, stranger, moderator = make_user(), make_user(), make_user(Role.MODERATOR)
    stored = store(platform, owner, "private.txt")

    with pytest.raises(NotFound) as hidden:
        platform.files.open(stranger, stored.id)
    with pytest.raises(NotFound) as missing:
        platform.files.open(stranger, FileId("01NOSUCHFILE0000000000000"))
    with pytest.raises(NotFound):
        platform.files.get(moderator, stored.id)

    assert str(hidden.value) == str(missing.value)
    event = only_event(
        trail, AuditAction.FILE_READ, AuditResult.DENIED, stored.id, stranger.user_id
    )
    assert event.metadata["reason"] == "not_found"
    assert event.resource_type == "file"


def test_an_administrator_may_read_any_file(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    owner = make_user()
    stored = store(platform, owner, "x.bin", b"\x01\x02")

    assert read_all(platform, admin, stored.id) == b"\x01\x02"


# -- move --------------------------------------------------------------------------------


def test_move_and_rename(platform: Platform, make_user: MakeUser, trail: Trail) -> None:
    owner = make_user()
    stored = store(platform, owner, "draft.txt", b"text", "/inbox")

    moved = platform.files.move(owner, stored.id, MoveFile(folder="/done/", name="final.txt"))

    assert (moved.folder, moved.name) == (FolderPath("/done"), "final.txt")
    assert platform.files.list_folder(owner, "/inbox").files.items == ()
    assert [f.name for f in platform.files.list_folder(owner, "/done").files.items] == ["final.txt"]
    assert read_all(platform, owner, stored.id) == b"text"
    event = only_event(trail, AuditAction.FILE_MOVE, AuditResult.SUCCESS, stored.id)
    assert event.metadata["from"] == "/inbox/draft.txt"
    assert event.metadata["to"] == "/done/final.txt"

    renamed = platform.files.move(owner, stored.id, MoveFile(name="v2.txt"))
    assert (renamed.folder, renamed.name) == (FolderPath("/done"), "v2.txt")


def test_move_onto_an_existing_name_is_a_conflict(platform: Platform, make_user: MakeUser) -> None:
    owner = make_user()
    store(platform, owner, "taken.txt", folder="/b")
    stored = store(platform, owner, "mine.txt", folder="/a")

    with pytest.raises(Conflict) as refused:
        platform.files.move(owner, stored.id, MoveFile(folder="/b", name="taken.txt"))

    assert refused.value.code == "file_exists"
    current = platform.files.get(owner, stored.id)
    assert (current.folder, current.name) == (FolderPath("/a"), "mine.txt")


def test_move_refuses_unsafe_targets(platform: Platform, make_user: MakeUser) -> None:
    owner = make_user()
    stored = store(platform, owner, "a")

    with pytest.raises(ValidationError):
        platform.files.move(owner, stored.id, MoveFile(name="../escape"))
    with pytest.raises(ValidationError):
        platform.files.move(owner, stored.id, MoveFile(folder="/x/../../y"))


def test_stranger_cannot_move_and_is_audited(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    owner, stranger = make_user(), make_user()
    stored = store(platform, owner, "a")

    with pytest.raises(NotFound):
        platform.files.move(stranger, stored.id, MoveFile(name="b"))

    assert platform.files.get(owner, stored.id).name == "a"
    event = only_event(trail, AuditAction.FILE_MOVE, AuditResult.DENIED, stored.id)
    assert event.actor_id == stranger.user_id


# -- delete ------------------------------------------------------------------------------


def test_delete_removes_bytes_and_revokes_shares(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage, trail: Trail
) -> None:
    owner = make_user()
    stored = store(platform, owner, "gone.txt")
    kept = store(platform, owner, "kept.txt")
    created = platform.shares.create(owner, CreateShare(file_id=stored.id))

    platform.files.delete(owner, stored.id)

    assert storage.keys() == [kept.storage_key]
    with pytest.raises(NotFound):
        platform.files.get(owner, stored.id)
    # The revocation is a durable handler of the deletion: run what the worker would.
    assert settle_events(platform) >= 1
    assert platform.shares.details(owner, created.share.id).revoked_at is not None
    with pytest.raises(ShareRefused) as refused:
        platform.shares.redeem(created.token)
    assert refused.value.code == "share_revoked"
    event = only_event(trail, AuditAction.FILE_DELETE, AuditResult.SUCCESS, stored.id)
    assert event.metadata["name"] == "gone.txt"


def test_stranger_cannot_delete_and_is_audited(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage, trail: Trail
) -> None:
    owner, stranger = make_user(), make_user()
    stored = store(platform, owner, "a")

    with pytest.raises(NotFound):
        platform.files.delete(stranger, stored.id)

    assert storage.keys() == [stored.storage_key]
    event = only_event(trail, AuditAction.FILE_DELETE, AuditResult.DENIED, stored.id)
    assert event.metadata["reason"] == "not_found"
