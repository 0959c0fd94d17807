"""The streams of a resumable upload: one chunk on its way in (bounded, checked), and
the stored parts on their way out, in order, as one stream."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

from videoplatform.application.ports.storage import ObjectStorage, ReadableStream
from videoplatform.application.resumable.commands import Checksum
from videoplatform.domain.errors import QuotaExceeded
from videoplatform.domain.uploads import ChecksumMismatch, UploadPart


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
