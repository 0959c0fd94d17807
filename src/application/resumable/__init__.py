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

from videoplatform.application.resumable.commands import (
    CHECKSUM_ALGORITHMS,
    AppendChunk,
    Checksum,
    CreateUpload,
    upload_prefix,
)
from videoplatform.application.resumable.transfer import UploadTransfers


class ResumableUploadService(UploadTransfers):
    """Every resumable-upload use case: :mod:`.transfer` and :mod:`.completion`."""


__all__ = [
    "CHECKSUM_ALGORITHMS",
    "AppendChunk",
    "Checksum",
    "CreateUpload",
    "ResumableUploadService",
    "upload_prefix",
]
