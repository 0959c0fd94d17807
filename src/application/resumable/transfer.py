"""An upload's life before completion: created within the quota, chunks appended at
its offset, read back, terminated, and swept when it expires."""

from __future__ import annotations

from datetime import datetime

from videoplatform.application import quota
from videoplatform.application.context import Caller, require_permission
from videoplatform.application.ports.persistence import STALE_VERSION, UnitOfWork
from videoplatform.application.resumable.commands import (
    SWEEP_BATCH,
    AppendChunk,
    CreateUpload,
    upload_prefix,
)
from videoplatform.application.resumable.completion import UploadCompletion
from videoplatform.application.resumable.readers import ChunkReader
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import Conflict, QuotaExceeded, ValidationError
from videoplatform.domain.files import FolderPath
from videoplatform.domain.uploads import (
    OFFSET_MISMATCH,
    UPLOAD_COMPLETING,
    ResumableUpload,
    TooManyOpenUploads,
    UploadId,
    UploadKind,
    UploadPart,
    parse_target,
)
from videoplatform.domain.users import User


class UploadTransfers(UploadCompletion):
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
                raise Conflict(f"{folder.path_of(name)} already exists", code="file_exists")

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

    def sweep_partial_writes(self, now: datetime | None = None) -> int:
        """Remove what writes into storage left when their process died mid-way (a
        killed server in the middle of an upload), once older than an upload may take
        (``Limits.upload_lifetime``): no upload still running is touched. Returns how
        many were removed."""
        moment = now if now is not None else self._clock.now()
        return self._storage.sweep_partial(moment - self._limits.upload_lifetime)

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
