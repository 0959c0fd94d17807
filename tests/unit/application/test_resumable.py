"""Resumable uploads as use cases: chunks at offsets, checksums, expiry, completion
through the plain-upload use cases, owner-only access, quotas before any byte."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import attrs
import pytest

from tests.unit.application.conftest import Trail, only_event
from tests.unit.conftest import CHEAP_ARGON2, MakeUser
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.storage import ByteRange
from videoplatform.application.resumable import (
    AppendChunk,
    Checksum,
    CreateUpload,
    ResumableUploadService,
    upload_prefix,
)
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ValidationError,
)
from videoplatform.domain.ids import FileId, VideoId
from videoplatform.domain.uploads import (
    COMPLETION_LEASE,
    ChecksumMismatch,
    ResumableUpload,
    TooManyOpenUploads,
    UnsupportedMedia,
    UploadGone,
    UploadId,
    UploadKind,
)
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.settings import Settings

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
QUOTA = 20_000
MAX_OPEN = 3


@pytest.fixture
def settings() -> Settings:
    return attrs.evolve(
        CHEAP_ARGON2, quota_bytes_per_user=QUOTA, quota_files_per_user=3, max_open_uploads=MAX_OPEN
    )


@pytest.fixture
def service(platform: Platform) -> ResumableUploadService:
    return platform.resolve(ResumableUploadService)


@pytest.fixture
def creator(make_user: MakeUser) -> Caller:
    return make_user(Role.CREATOR)


def video_meta(title: str = "Holiday") -> dict[str, str]:
    return {"kind": "video", "title": title, "visibility": "unlisted"}


def file_meta(name: str = "notes.txt", folder: str = "/docs") -> dict[str, str]:
    return {"kind": "file", "filename": name, "folder": folder}


def chunk(
    upload_id: UploadId, offset: int, data: bytes, checksum: Checksum | None = None
) -> AppendChunk:
    return AppendChunk(upload_id, offset, io.BytesIO(data), len(data), checksum)


def part_keys(storage: MemoryObjectStorage, upload_id: UploadId) -> list[str]:
    stored: list[str] = storage.keys()
    return [k for k in stored if k.startswith(upload_prefix(upload_id))]


def test_chunks_at_the_offset_complete_a_video_through_the_plain_upload(
    platform: Platform,
    service: ResumableUploadService,
    creator: Caller,
    storage: MemoryObjectStorage,
    trail: Trail,
) -> None:
    upload = service.create(creator, CreateUpload(len(VIDEO), video_meta()))
    assert (upload.offset, upload.kind, upload.result) == (0, UploadKind.VIDEO, None)
    upload = service.append(creator, chunk(upload.id, 0, VIDEO[:5000]))
    assert upload.offset == 5000
    assert len(part_keys(storage, upload.id)) == 1
    upload = service.append(creator, chunk(upload.id, 5000, VIDEO[5000:]))
    assert upload.result is not None and upload.result.kind is UploadKind.VIDEO
    video = platform.videos.get(creator, VideoId(upload.result.id))
    assert video.source_sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert video.title == "Holiday" and video.visibility.value == "unlisted"
    assert part_keys(storage, upload.id) == []  # the parts went once the video had its bytes
    status = service.status(creator, upload.id)
    assert status.offset == len(VIDEO) and status.result == upload.result
    only_event(trail, AuditAction.VIDEO_UPLOAD, AuditResult.SUCCESS, video.id)
    only_event(trail, AuditAction.UPLOAD_COMPLETE, AuditResult.SUCCESS, upload.id)
    only_event(trail, AuditAction.UPLOAD_CREATE, AuditResult.SUCCESS, upload.id)


def test_a_file_completes_with_its_sniffed_type_in_its_folder(
    platform: Platform, service: ResumableUploadService, creator: Caller
) -> None:
    text = b"hello, resumable world\n" * 10
    upload = service.create(creator, CreateUpload(len(text), file_meta()))
    for offset in range(0, len(text), 70):
        upload = service.append(creator, chunk(upload.id, offset, text[offset : offset + 70]))
    assert upload.result is not None and upload.result.kind is UploadKind.FILE
    stored = platform.files.get(creator, FileId(upload.result.id))
    assert (stored.name, stored.folder.value, stored.content_type) == (
        "notes.txt",
        "/docs",
        "text/plain",
    )
    assert stored.sha256 == hashlib.sha256(text).hexdigest()


def test_an_empty_file_is_complete_at_creation(
    platform: Platform, service: ResumableUploadService, creator: Caller
) -> None:
    upload = service.create(creator, CreateUpload(0, file_meta("empty")))
    assert upload.result is not None
    assert platform.files.get(creator, FileId(upload.result.id)).size == 0


def test_a_wrong_offset_is_a_conflict_and_changes_nothing(
    service: ResumableUploadService, creator: Caller, storage: MemoryObjectStorage
) -> None:
    upload = service.create(creator, CreateUpload(len(VIDEO), video_meta()))
    service.append(creator, chunk(upload.id, 0, VIDEO[:100]))
    with pytest.raises(Conflict) as refused:
        service.append(creator, chunk(upload.id, 50, VIDEO[50:200]))
    assert refused.value.code == "offset_mismatch"
    assert service.status(creator, upload.id).offset == 100
    assert len(part_keys(storage, upload.id)) == 1


def test_a_chunk_past_the_declared_length_is_refused_with_nothing_stored(
    service: ResumableUploadService, creator: Caller, storage: MemoryObjectStorage
) -> None:
    upload = service.create(creator, CreateUpload(100, file_meta()))
    with pytest.raises(QuotaExceeded) as declared:
        service.append(creator, chunk(upload.id, 0, b"x" * 101))
    assert declared.value.code == "upload_length_exceeded"
    undeclared = AppendChunk(upload.id, 0, io.BytesIO(b"x" * 101))
    with pytest.raises(QuotaExceeded):
        service.append(creator, undeclared)
    assert service.status(creator, upload.id).offset == 0
    assert part_keys(storage, upload.id) == []


def test_a_checksum_mismatch_discards_the_chunk_and_a_match_keeps_it(
    service: ResumableUploadService, creator: Caller, storage: MemoryObjectStorage
) -> None:
    data = b"some text bytes"
    upload = service.create(creator, CreateUpload(len(data) * 2, file_meta()))
    wrong = Checksum("sha256", hashlib.sha256(b"other").digest())
    with pytest.raises(ChecksumMismatch):
        service.append(creator, chunk(upload.id, 0, data, wrong))
    assert service.status(creator, upload.id).offset == 0
    assert part_keys(storage, upload.id) == []
    for algorithm in ("md5", "sha1"):
        digest = hashlib.new(algorithm, data).digest()
        offset = service.status(creator, upload.id).offset
        service.append(creator, chunk(upload.id, offset, data, Checksum(algorithm, digest)))
    assert service.status(creator, upload.id).result is not None


def test_an_unknown_checksum_algorithm_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        Checksum("crc32", base64.b64decode("AAAA"))
    assert refused.value.code == "checksum_algorithm_unsupported"


def test_an_expired_upload_is_gone_and_the_sweep_removes_rows_and_bytes(
    service: ResumableUploadService,
    creator: Caller,
    storage: MemoryObjectStorage,
    clock: ManualClock,
) -> None:
    old = service.create(creator, CreateUpload(len(VIDEO), video_meta()))
    service.append(creator, chunk(old.id, 0, VIDEO[:1000]))
    clock.advance(timedelta(hours=23))
    young = service.create(creator, CreateUpload(1000, video_meta("young")))
    service.append(creator, chunk(young.id, 0, VIDEO[:10]))
    clock.advance(timedelta(hours=1))
    with pytest.raises(UploadGone):
        service.append(creator, chunk(old.id, 1000, VIDEO[1000:2000]))
    with pytest.raises(UploadGone):
        service.status(creator, old.id)
    assert service.sweep() == 1
    assert part_keys(storage, old.id) == []
    with pytest.raises(NotFound):
        service.status(creator, old.id)
    assert service.status(creator, young.id).offset == 10
    assert len(part_keys(storage, young.id)) == 1
    assert service.sweep(clock.now() + timedelta(days=1)) == 1
    assert part_keys(storage, young.id) == []


def test_termination_removes_the_upload_and_its_bytes(
    service: ResumableUploadService, creator: Caller, storage: MemoryObjectStorage, trail: Trail
) -> None:
    upload = service.create(creator, CreateUpload(len(VIDEO), video_meta()))
    service.append(creator, chunk(upload.id, 0, VIDEO[:300]))
    service.terminate(creator, upload.id)
    assert part_keys(storage, upload.id) == []
    with pytest.raises(NotFound):
        service.status(creator, upload.id)
    only_event(trail, AuditAction.UPLOAD_TERMINATE, AuditResult.SUCCESS, upload.id)


def test_only_the_owner_sees_or_touches_an_upload(
    service: ResumableUploadService, creator: Caller, make_user: MakeUser, trail: Trail
) -> None:
    upload = service.create(creator, CreateUpload(len(VIDEO), video_meta()))
    for intruder in (make_user(Role.CREATOR), make_user(Role.ADMIN)):
        with pytest.raises(NotFound):
            service.status(intruder, upload.id)
        with pytest.raises(NotFound):
            service.append(intruder, chunk(upload.id, 0, VIDEO[:10]))
        with pytest.raises(NotFound):
            service.terminate(intruder, upload.id)
    assert service.status(creator, upload.id).offset == 0
    denied = trail(AuditFilter(action=AuditAction.UPLOAD_ACCESS, result=AuditResult.DENIED))
    assert len(denied) == 4


def test_nothing_is_visible_until_the_last_byte(
    platform: Platform, service: ResumableUploadService, creator: Caller
) -> None:
    upload = service.create(creator, CreateUpload(len(VIDEO), video_meta()))
    service.append(creator, chunk(upload.id, 0, VIDEO[:-1]))
    assert platform.videos.list(creator).items == ()
    service.append(creator, chunk(upload.id, len(VIDEO) - 1, VIDEO[-1:]))
    assert len(platform.videos.list(creator).items) == 1


def test_metadata_is_validated_at_creation_by_the_plain_upload_rules(
    service: ResumableUploadService, creator: Caller
) -> None:
    cases = [
        ({"kind": "movie"}, "kind"),
        ({"kind": "video"}, "title"),
        ({"kind": "video", "title": "  "}, "title"),
        ({"kind": "video", "title": "t", "visibility": "secret"}, "visibility"),
        ({"kind": "file"}, "filename"),
        ({"kind": "file", "filename": "../etc"}, "name"),
        ({"kind": "file", "filename": "a", "folder": "/x/../y"}, "folder"),
    ]
    for metadata, field in cases:
        with pytest.raises(ValidationError) as refused:
            service.create(creator, CreateUpload(10, metadata))
        assert field in refused.value.fields, (metadata, refused.value.fields)


def test_viewers_may_not_upload(service: ResumableUploadService, make_user: MakeUser) -> None:
    with pytest.raises(PermissionDenied):
        service.create(make_user(Role.VIEWER), CreateUpload(10, video_meta()))


def test_the_quota_refuses_a_declared_length_before_any_byte(
    platform: Platform, service: ResumableUploadService, creator: Caller
) -> None:
    with pytest.raises(QuotaExceeded):
        service.create(creator, CreateUpload(QUOTA + 1, file_meta()))
    platform.videos.upload(creator, UploadVideo("big", io.BytesIO(VIDEO)))
    # Videos count against the same quota as files.
    with pytest.raises(QuotaExceeded):
        service.create(creator, CreateUpload(QUOTA - len(VIDEO) + 1, file_meta()))
    service.create(creator, CreateUpload(QUOTA - len(VIDEO), file_meta()))


def test_videos_count_as_items_of_the_quota(
    platform: Platform, creator: Caller, service: ResumableUploadService
) -> None:
    platform.videos.upload(creator, UploadVideo("one", io.BytesIO(VIDEO[:100])))
    platform.files.store(creator, StoreFile("a", io.BytesIO(b"a")))
    platform.videos.upload(creator, UploadVideo("two", io.BytesIO(VIDEO[:100])))
    with pytest.raises(QuotaExceeded):
        platform.videos.upload(creator, UploadVideo("three", io.BytesIO(VIDEO[:100])))
    with pytest.raises(QuotaExceeded):
        platform.files.store(creator, StoreFile("b", io.BytesIO(b"b")))
    with pytest.raises(QuotaExceeded):
        service.create(creator, CreateUpload(1, file_meta()))


def test_a_declared_video_size_past_the_quota_is_refused_before_reading(
    platform: Platform, creator: Caller
) -> None:
    class Untouchable:
        def read(self, size: int = -1, /) -> bytes:
            raise AssertionError("the body was read")

    with pytest.raises(QuotaExceeded):
        platform.videos.upload(creator, UploadVideo("big", Untouchable(), declared_size=QUOTA + 1))


def test_bytes_that_are_not_a_video_are_refused_at_completion_and_may_be_terminated(
    service: ResumableUploadService, creator: Caller, storage: MemoryObjectStorage
) -> None:
    text = b"just text, not a video" * 3
    upload = service.create(creator, CreateUpload(len(text), video_meta()))
    with pytest.raises(UnsupportedMedia):
        service.append(creator, chunk(upload.id, 0, text))
    status = service.status(creator, upload.id)
    assert status.offset == len(text) and status.result is None
    assert status.completing_since is None  # the refused completion released its claim
    service.terminate(creator, upload.id)
    assert part_keys(storage, upload.id) == []


def test_a_completion_refused_by_the_quota_can_be_retried_after_freeing_room(
    platform: Platform, service: ResumableUploadService, creator: Caller
) -> None:
    upload = service.create(creator, CreateUpload(QUOTA, file_meta("big")))
    service.append(creator, chunk(upload.id, 0, b"x" * (QUOTA - 10)))
    small = platform.files.store(creator, StoreFile("small", io.BytesIO(b"y" * 20)))
    with pytest.raises(QuotaExceeded):
        service.append(creator, chunk(upload.id, QUOTA - 10, b"x" * 10))
    assert service.status(creator, upload.id).result is None
    platform.files.delete(creator, small.id)
    done = service.append(creator, chunk(upload.id, QUOTA, b""))
    assert done.result is not None


def test_the_loser_of_two_chunks_at_one_offset_gets_a_conflict_and_keeps_nothing(
    service: ResumableUploadService, creator: Caller, storage: MemoryObjectStorage
) -> None:
    upload = service.create(creator, CreateUpload(100, file_meta()))

    class Racing:
        """A body whose end lets a competing chunk commit first."""

        def __init__(self) -> None:
            self._data = io.BytesIO(b"a" * 10)
            self._raced = False

        def read(self, size: int = -1, /) -> bytes:
            data = self._data.read(size)
            if not data and not self._raced:
                self._raced = True
                service.append(creator, chunk(upload.id, 0, b"b" * 10))
            return data

    with pytest.raises(Conflict) as lost:
        service.append(creator, AppendChunk(upload.id, 0, Racing()))
    assert lost.value.code == "offset_mismatch"
    status = service.status(creator, upload.id)
    assert status.offset == 10
    assert part_keys(storage, upload.id) == [status.parts[0].key]
    assert b"".join(storage.get(status.parts[0].key)) == b"b" * 10


def while_parts_are_read(
    storage: MemoryObjectStorage, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], None]
) -> None:
    """Run ``meanwhile`` once, when a completion first reads the upload's parts: another
    request arriving while one streams the parts into the plain-upload use case."""
    original = storage.get
    done: list[bool] = []

    def get(key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        if "/parts/" in key and not done:
            done.append(True)
            meanwhile()
        return original(key, byte_range)

    monkeypatch.setattr(storage, "get", get)


def test_two_requests_completing_one_upload_make_one_video(
    platform: Platform,
    service: ResumableUploadService,
    creator: Caller,
    storage: MemoryObjectStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upload = service.create(creator, CreateUpload(len(VIDEO), video_meta()))
    seen: list[tuple[int, bool]] = []

    def empty_patch_at_the_full_offset() -> None:
        status = service.status(creator, upload.id)
        seen.append((status.offset, status.result is None))
        with pytest.raises(Conflict) as lost:
            service.append(creator, chunk(upload.id, len(VIDEO), b""))
        assert lost.value.code == "upload_completing"

    while_parts_are_read(storage, monkeypatch, empty_patch_at_the_full_offset)
    done = service.append(creator, chunk(upload.id, 0, VIDEO))
    assert seen == [(len(VIDEO), True)]  # meanwhile: the full offset, no result yet
    assert done.result is not None
    assert [v.id for v in platform.videos.list(creator).items] == [done.result.id]
    # Once complete, an empty PATCH at the full offset only reads the result back.
    again = service.append(creator, chunk(upload.id, len(VIDEO), b""))
    assert again.result == done.result
    assert len(platform.videos.list(creator).items) == 1


def test_of_two_requests_claiming_at_once_the_stale_one_gets_upload_completing(
    platform: Platform,
    service: ResumableUploadService,
    creator: Caller,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upload = service.create(creator, CreateUpload(len(VIDEO), video_meta()))
    service.append(creator, chunk(upload.id, 0, VIDEO[:-1]))
    original = ResumableUpload.begin_completion
    calls: list[datetime] = []

    def begin_completion(self: ResumableUpload, now: datetime) -> None:
        calls.append(now)
        if len(calls) == 1:
            # Both requests have read the upload without a claim; the other commits first.
            service.append(creator, chunk(upload.id, len(VIDEO), b""))
        original(self, now)

    monkeypatch.setattr(ResumableUpload, "begin_completion", begin_completion)
    with pytest.raises(Conflict) as lost:
        service.append(creator, chunk(upload.id, len(VIDEO) - 1, VIDEO[-1:]))
    assert lost.value.code == "upload_completing"
    assert len(calls) == 2
    result = service.status(creator, upload.id).result
    assert result is not None
    assert [v.id for v in platform.videos.list(creator).items] == [result.id]


def test_a_claim_left_by_a_dead_completion_is_taken_over_after_the_lease(
    platform: Platform,
    service: ResumableUploadService,
    creator: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    text = b"some text"
    upload = service.create(creator, CreateUpload(len(text), file_meta()))
    taken = platform.files.store(creator, StoreFile("notes.txt", io.BytesIO(b"x"), "/docs"))
    with pytest.raises(Conflict) as refused:  # the name was taken meanwhile
        service.append(creator, chunk(upload.id, 0, text))
    assert refused.value.code == "file_exists"
    platform.files.delete(creator, taken.id)
    with uow_factory() as uow:  # a completion claims, then its process dies
        claimed = uow.uploads.get(upload.id)
        claimed.begin_completion(clock.now())
        uow.uploads.save(claimed)
        uow.commit()
    clock.advance(COMPLETION_LEASE - timedelta(seconds=1))
    with pytest.raises(Conflict) as held:
        service.append(creator, chunk(upload.id, len(text), b""))
    assert held.value.code == "upload_completing"
    status = service.status(creator, upload.id)
    assert (status.offset, status.result) == (len(text), None)
    clock.advance(timedelta(seconds=1))
    done = service.append(creator, chunk(upload.id, len(text), b""))
    assert done.result is not None and done.completing_since is None
    assert platform.files.get(creator, FileId(done.result.id)).size == len(text)


def test_open_uploads_hold_their_declared_length_of_the_quota(
    platform: Platform, service: ResumableUploadService, creator: Caller, clock: ManualClock
) -> None:
    first = service.create(creator, CreateUpload(12_000, file_meta("a")))
    with pytest.raises(QuotaExceeded) as refused:
        service.create(creator, CreateUpload(QUOTA - 12_000 + 1, file_meta("b")))
    assert refused.value.code == "quota_exceeded"
    second = service.create(creator, CreateUpload(QUOTA - 12_000, file_meta("b")))
    service.terminate(creator, second.id)  # a terminated upload holds nothing
    done = service.append(creator, chunk(first.id, 0, b"a" * 12_000))
    assert done.result is not None
    # Completed, the upload counts as the file it became, not twice.
    assert platform.files.get(creator, FileId(done.result.id)).size == 12_000
    service.create(creator, CreateUpload(QUOTA - 12_000, file_meta("c")))
    with pytest.raises(QuotaExceeded):
        service.create(creator, CreateUpload(1, file_meta("d")))
    clock.advance(timedelta(hours=24))  # an expired upload holds nothing either
    service.create(creator, CreateUpload(QUOTA - 12_000, file_meta("d")))


def test_a_user_has_at_most_max_open_uploads(
    service: ResumableUploadService, creator: Caller, make_user: MakeUser
) -> None:
    opened = [service.create(creator, CreateUpload(10, file_meta(f"{n}"))) for n in range(3)]
    assert len(opened) == MAX_OPEN
    with pytest.raises(TooManyOpenUploads) as refused:
        service.create(creator, CreateUpload(10, file_meta("one more")))
    assert refused.value.code == "too_many_open_uploads"
    service.create(make_user(Role.CREATOR), CreateUpload(10, file_meta()))  # per user
    done = service.append(creator, chunk(opened[0].id, 0, b"x" * 10))
    assert done.result is not None  # a completed upload is no longer open
    service.create(creator, CreateUpload(10, file_meta("one more")))


def test_an_upload_being_completed_is_neither_terminated_nor_swept_from_under_it(
    service: ResumableUploadService,
    creator: Caller,
    storage: MemoryObjectStorage,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    upload = service.create(creator, CreateUpload(len(VIDEO), video_meta()))
    service.append(creator, chunk(upload.id, 0, VIDEO[:300]))
    clock.advance(upload.expires_at - timedelta(seconds=1) - clock.now())
    with uow_factory() as uow:  # a request holds a completion claim on it
        claimed = uow.uploads.get(upload.id)
        claimed.completing_since = clock.now()
        uow.uploads.save(claimed)
        uow.commit()
    with pytest.raises(Conflict) as held:
        service.terminate(creator, upload.id)
    assert held.value.code == "upload_completing"
    past_expiry = upload.expires_at + timedelta(seconds=1)
    assert service.sweep(past_expiry) == 0
    assert len(part_keys(storage, upload.id)) == 1
    # Once the claim is stale (its completion died), both may go ahead.
    assert service.sweep(past_expiry + COMPLETION_LEASE) == 1
    assert part_keys(storage, upload.id) == []
