"""Resumable uploads: create one, append chunks at its offset, read where it stands,
terminate it, and sweep expired ones.

Each accepted chunk is stored atomically as its own object under the upload's private
prefix, then the new offset is committed with optimistic concurrency: of two chunks sent
at the same offset, one wins and the other's bytes are removed. A chunk that fails
(cut off, checksum mismatch, past the declared length) leaves nothing behind, so the
client resumes from the offset it reads back.

When the last byte arrives, the parts are streamed in order into the very use case a
plain upload goes through (:meth:`VideoService.upload` or :meth:`FileService.store`), so
quotas, type checks, audit and the processing job all apply; then the parts go. One
request claims the completion first (committed with the same optimistic version check),
so an upload becomes one video or file however many requests try to complete it.

Open uploads hold bytes before they count as stored: their declared lengths count
against the quota when another upload is created, and a user may have at most
``Limits.max_open_uploads`` of them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from attrs import field, frozen

from videoplatform.application import quota
from videoplatform.application.auditing import Auditor
from videoplatform.application.context import Caller, Hidden, require_permission, require_user
from videoplatform.application.files import FileService, StoreFile
from videoplatform.application.limits import Limits
from videoplatform.application.ports.persistence import STALE_VERSION, UnitOfWork, UnitOfWorkFactory
from videoplatform.application.ports.storage import ObjectStorage, ReadableStream
from videoplatform.application.ports.system import Clock, IdGenerator
from videoplatform.application.streams import peek
from videoplatform.application.videos import UploadVideo, VideoService
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import Conflict, QuotaExceeded, ValidationError
from videoplatform.domain.files import FolderPath
from videoplatform.domain.media_types import sniff
from videoplatform.domain.uploads import (
    OFFSET_MISMATCH,
    UPLOAD_COMPLETING,
    ChecksumMismatch,
    ResumableUpload,
    TooManyOpenUploads,
    UploadId,
    UploadKind,
    UploadPart,
    UploadResult,
    parse_target,
)
from videoplatform.domain.users import User
from videoplatform.domain.videos import Visibility

log = logging.getLogger(__name__)

CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
SWEEP_BATCH = 100


def upload_prefix(upload_id: UploadId) -> str:
    """Every part of an upload lives under this prefix; keys never come from user input."""
    return f"uploads/{upload_id}/"


def _valid_algorithm(_: object, __: object, value: str) -> None:
    if value not in CHECKSUM_ALGORITHMS:
        raise ValidationError(
            f"checksum algorithm {value!r} is not supported; use one of "
            + ", ".join(CHECKSUM_ALGORITHMS),
            code="checksum_algorithm_unsupported",
        )


@frozen
class Checksum:
    """The digest a client declares for one chunk's bytes."""

    algorithm: str = field(validator=_valid_algorithm)
    digest: bytes


@frozen
class CreateUpload:
    length: int
    metadata: Mapping[str, str]


@frozen
class AppendChunk:
    upload_id: UploadId
    offset: int
    content: ReadableStream
    declared_size: int | None = None
    """The chunk's size announced before its bytes (a Content-Length)."""
    checksum: Checksum | None = None


class ChunkReader:
    """Counts and hashes a chunk as it streams into storage. It stops past ``limit``
    and, at the end, refuses bytes that do not match the declared checksum: storage
    writes are atomic, so either way nothing of the chunk is kept."""

    def __init__(self, source: ReadableStream, limit: int, checksum: Checksum | None) -> None:
        self._source = source
        self._limit = limit
        self._checksum = checksum
        # Integrity checks against transmission errors, not security: md5 and sha1 are fine.
        self._hash = hashlib.new(checksum.algorithm, usedforsecurity=False) if checksum else None
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        allowed = self._limit - self.size + 1
        size = allowed if size < 0 else min(size, allowed)
        chunk = self._source.read(size)
        self.size += len(chunk)
        if self.size > self._limit:
            raise QuotaExceeded(
                f"the chunk passes the upload's declared length by {self.size - self._limit}"
                " byte(s) or more",
                code="upload_length_exceeded",
            )
        if self._hash is not None:
            self._hash.update(chunk)
            if not chunk and self._checksum and self._hash.digest() != self._checksum.digest:
                raise ChecksumMismatch(
                    f"the chunk's {self._checksum.algorithm} checksum does not match"
                )
        return chunk


class PartsReader:
    """The parts of an upload, in order, as one stream."""

    def __init__(self, storage: ObjectStorage, parts: Sequence[UploadPart]) -> None:
        self._chunks = self._all(storage, parts)
        self._pending = b""

    @staticmethod
    def _all(storage: ObjectStorage, parts: Sequence[UploadPart]) -> Iterator[bytes]:
        for part in parts:
            yield from storage.get(part.key)

    def read(self, size: int = -1, /) -> bytes:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending = chunk
        take = len(self._pending) if size < 0 else size
        data, self._pending = self._pending[:take], self._pending[take:]
        return data


class ResumableUploadService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        storage: ObjectStorage,
        clock: Clock,
        ids: IdGenerator,
        auditor: Auditor,
        limits: Limits,
        videos: VideoService,
        files: FileService,
    ) -> None:
        self._uow = uow_factory
        self._storage = storage
        self._clock = clock
        self._ids = ids
        self._audit = auditor
        self._limits = limits
        self._videos = videos
        self._files = files

    def create(self, caller: Caller, command: CreateUpload) -> ResumableUpload:
        """Validate what the upload becomes and reserve it, before any byte: the same
        rules as a plain upload of that kind, and the quota against the declared length
        plus those of the owner's other open uploads (at most ``max_open_uploads`` of
        them, TooManyOpenUploads past that). An empty file is complete at once."""
        kind, _ = parse_target(command.metadata)
        if command.length < 0:
            raise ValidationError.field("length", "must not be negative")
        if kind is UploadKind.VIDEO and command.length == 0:
            raise ValidationError.field("source", "the upload is empty")
        upload_id = UploadId(self._ids.new_id())
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.UPLOAD_CREATE, "upload", None),
            self._uow() as uow,
        ):
            owner = require_permission(uow, caller, kind.permission)
            upload = ResumableUpload.start(
                id=upload_id,
                owner_id=owner.id,
                metadata=command.metadata,
                length=command.length,
                now=now,
                lifetime=self._limits.upload_lifetime,
            )
            self._check_room(uow, owner, upload, now)
            if upload.kind is UploadKind.FILE:
                self._check_free_name(uow, owner, upload)
            uow.uploads.add(upload)
            self._audit.record(
                uow,
                caller,
                AuditAction.UPLOAD_CREATE,
                "upload",
                upload_id,
                metadata={"kind": upload.kind.value, "length": str(upload.length)},
            )
            uow.commit()
        if upload.is_complete:
            return self._complete(caller, upload)
        return upload

    def _check_room(
        self, uow: UnitOfWork, owner: User, upload: ResumableUpload, now: datetime
    ) -> None:
        """The declared length fits beside what the owner stored and what their open
        uploads declared; and one more open upload is allowed."""
        open_count, open_bytes = uow.uploads.pending(owner.id, now)
        if open_count >= self._limits.max_open_uploads:
            raise TooManyOpenUploads(
                f"at most {self._limits.max_open_uploads} unfinished uploads per user;"
                " finish or terminate one first"
            )
        quota.room(self._limits, uow, owner.id, declared=upload.length)
        _, used = quota.usage(uow, owner.id)
        if used + open_bytes + upload.length > self._limits.quota_bytes_per_user:
            raise QuotaExceeded(
                f"storage quota is used up: {open_count} unfinished upload(s) hold"
                f" {open_bytes} declared byte(s) of it"
            )

    @staticmethod
    def _check_free_name(uow: UnitOfWork, owner: User, upload: ResumableUpload) -> None:
        folder = FolderPath(upload.metadata["folder"])
        name = upload.metadata["filename"]
        for existing in uow.files.list_folder(owner.id, folder, (name, ""), 1):
            if existing.name == name:
                raise Conflict(f"{folder}/{name} already exists", code="file_exists")

    def status(self, caller: Caller, upload_id: UploadId) -> ResumableUpload:
        """Where the caller's upload stands; 410-style UploadGone once expired."""
        with (
            self._audit.refusals(caller, AuditAction.UPLOAD_ACCESS, "upload", upload_id),
            self._uow() as uow,
        ):
            upload = self._owned(uow, caller, upload_id)
        upload.check_chunk(upload.offset, self._clock.now())
        return upload

    def append(self, caller: Caller, command: AppendChunk) -> ResumableUpload:
        """Store one chunk at the upload's offset and commit the new offset; the upload
        completes when its last byte is in. Conflict(code="offset_mismatch") when the
        offset is not the upload's (also for the loser of two racing chunks);
        Conflict(code="upload_completing") when another request is completing it."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.UPLOAD_ACCESS, "upload", command.upload_id),
            self._uow() as uow,
        ):
            upload = self._owned(uow, caller, command.upload_id)
        upload.check_chunk(command.offset, now)
        declared = command.declared_size
        if declared is not None and declared > upload.remaining:
            raise QuotaExceeded(
                f"the chunk would pass the declared length of {upload.length} bytes",
                code="upload_length_exceeded",
            )
        if upload.remaining > 0:
            upload = self._store_chunk(caller, upload, command, now)
        if upload.is_complete and upload.result is None:
            upload = self._complete(caller, upload)
        return upload

    def _store_chunk(
        self, caller: Caller, upload: ResumableUpload, command: AppendChunk, now: datetime
    ) -> ResumableUpload:
        key = f"{upload_prefix(upload.id)}parts/{command.offset:020d}-{self._ids.new_id()}"
        reader = ChunkReader(command.content, upload.remaining, command.checksum)
        self._storage.put(key, reader)
        if reader.size == 0:
            self._storage.delete(key)
            return upload
        try:
            with self._uow() as uow:
                fresh = self._owned(uow, caller, upload.id)
                fresh.accept_chunk(command.offset, UploadPart(key, reader.size), now)
                uow.uploads.save(fresh)
                uow.commit()
        except BaseException as failed:
            self._storage.delete(key)
            if isinstance(failed, Conflict) and failed.code == STALE_VERSION:
                raise Conflict(
                    "another chunk was committed at this offset first", code=OFFSET_MISMATCH
                ) from None
            raise
        return fresh

    def _complete(self, caller: Caller, upload: ResumableUpload) -> ResumableUpload:
        """Claim the completion, feed the parts, in order, to the plain-upload use case
        of the upload's kind, then record the result and release the claim together.

        The claim is committed first, with the optimistic version check: of several
        requests completing one upload (the last chunk and an empty PATCH, two empty
        PATCHes), exactly one streams the parts; the others get Conflict
        (code="upload_completing") and read the outcome with HEAD. If the use case
        refuses (quota, name taken, not a video...), the claim is released and the
        upload stays complete without a result: an empty PATCH at its full offset tries
        again, DELETE or expiry removes it.

        The claim lasts :data:`~domain.uploads.COMPLETION_LEASE`, after which another
        request may take it over, so that a completion whose process died does not
        block the upload until it expires. What this leaves: a process that dies after
        the use case created the video or file but before the result was recorded (or
        a completion that outlasts the lease) lets a later request complete the upload
        a second time, making a second video or file.
        """
        claimed = self._claim(caller, upload.id)
        if claimed.result is not None:
            return claimed  # another request completed it meanwhile
        try:
            result = self._become(caller, claimed)
        except BaseException:
            self._release(claimed)
            raise
        with self._uow() as uow:
            fresh = uow.uploads.get(upload.id)
            fresh.complete(result)
            uow.uploads.save(fresh)
            self._audit.record(
                uow,
                caller,
                AuditAction.UPLOAD_COMPLETE,
                "upload",
                upload.id,
                metadata={"result": f"{result.kind.value}/{result.id}"},
            )
            uow.commit()
        self._storage.delete_prefix(upload_prefix(upload.id))
        return fresh

    def _claim(self, caller: Caller, upload_id: UploadId) -> ResumableUpload:
        """The upload with this request's completion claim committed, or, when another
        request completed it already, the completed upload."""
        try:
            with self._uow() as uow:
                fresh = self._owned(uow, caller, upload_id)
                if fresh.result is not None:
                    return fresh
                fresh.begin_completion(self._clock.now())
                uow.uploads.save(fresh)
                uow.commit()
        except Conflict as lost:
            if lost.code == STALE_VERSION:
                raise Conflict(
                    "another request is completing the upload", code=UPLOAD_COMPLETING
                ) from None
            raise
        return fresh

    def _release(self, claimed: ResumableUpload) -> None:
        """Give up this request's claim, unless it was taken over meanwhile. Best
        effort: should it fail, the lease runs out instead."""
        try:
            with self._uow() as uow:
                fresh = uow.uploads.get(claimed.id)
                if fresh.result is None and fresh.completing_since == claimed.completing_since:
                    fresh.abandon_completion()
                    uow.uploads.save(fresh)
                    uow.commit()
        except Exception:
            log.warning("could not release the completion claim of upload %s", claimed.id)

    def _become(self, caller: Caller, upload: ResumableUpload) -> UploadResult:
        """Stream the parts into the plain-upload use case of the upload's kind."""
        parts = PartsReader(self._storage, upload.parts)
        meta = upload.metadata
        if upload.kind is UploadKind.VIDEO:  # whether it is a video is that use case's rule
            video = self._videos.upload(
                caller,
                UploadVideo(
                    title=meta["title"],
                    source=parts,
                    description=meta.get("description", ""),
                    visibility=Visibility(meta.get("visibility", Visibility.PRIVATE.value)),
                    declared_size=upload.length,
                ),
            )
            return UploadResult(UploadKind.VIDEO, video.id)
        head, stream = peek(parts)
        stored = self._files.store(
            caller,
            StoreFile(
                name=meta["filename"],
                content=stream,
                folder=meta.get("folder", "/"),
                content_type=sniff(head).mime,
                declared_size=upload.length,
            ),
        )
        return UploadResult(UploadKind.FILE, stored.id)

    def terminate(self, caller: Caller, upload_id: UploadId) -> None:
        """Remove the caller's upload and every byte it holds."""
        with (
            self._audit.refusals(caller, AuditAction.UPLOAD_TERMINATE, "upload", upload_id),
            self._uow() as uow,
        ):
            upload = self._owned(uow, caller, upload_id)
            if upload.is_completing(self._clock.now()):
                raise Conflict(
                    "the upload is being completed; ask again in a moment",
                    code=UPLOAD_COMPLETING,
                )
            uow.uploads.delete(upload.id)
            self._audit.record(
                uow,
                caller,
                AuditAction.UPLOAD_TERMINATE,
                "upload",
                upload_id,
                metadata={"offset": str(upload.offset), "length": str(upload.length)},
            )
            uow.commit()
        # After commit: a crash here leaves unreferenced parts, never a row without them.
        self._storage.delete_prefix(upload_prefix(upload_id))

    def sweep(self, now: datetime | None = None) -> int:
        """Remove every upload expired at ``now`` (default: the clock's now), rows and
        bytes; returns how many were removed. One a request is completing right now is
        left for a later sweep: its parts are being read."""
        moment = now if now is not None else self._clock.now()
        removed = 0
        while True:
            with self._uow() as uow:
                found = uow.uploads.list_expired(moment, SWEEP_BATCH)
                batch = [u for u in found if not u.is_completing(moment)]
                for upload in batch:
                    uow.uploads.delete(upload.id)
                uow.commit()
            for upload in batch:
                self._storage.delete_prefix(upload_prefix(upload.id))
            removed += len(batch)
            if len(found) < SWEEP_BATCH or not batch:
                return removed

    @staticmethod
    def _owned(uow: UnitOfWork, caller: Caller, upload_id: UploadId) -> ResumableUpload:
        user = require_user(uow, caller)
        upload = uow.uploads.get(upload_id)
        if upload.owner_id != user.id:
            raise Hidden("upload not found")
        return upload
