"""Completing an upload: one request claims it, streams the parts into the plain
upload use case of its kind, and records what it became; the parts then go."""

from __future__ import annotations

import logging

from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.persistence import STALE_VERSION
from videoplatform.application.resumable.base import ResumableBase
from videoplatform.application.resumable.commands import upload_prefix
from videoplatform.application.resumable.readers import PartsReader
from videoplatform.application.streams import peek
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import Conflict
from videoplatform.domain.media_types import sniff
from videoplatform.domain.uploads import (
    UPLOAD_COMPLETING,
    ResumableUpload,
    UploadId,
    UploadKind,
    UploadResult,
)
from videoplatform.domain.videos import Visibility

log = logging.getLogger(__name__)


class UploadCompletion(ResumableBase):
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
                    visibility=Visibility(meta["visibility"]) if meta.get("visibility") else None,
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
