"""A stream wrapper that measures, hashes and bounds what flows through it."""

from __future__ import annotations

import hashlib

from videoplatform.application.ports.storage import ReadableStream
from videoplatform.domain.errors import QuotaExceeded


class MeteredReader:
    """Wraps an upload so that size and SHA-256 are computed while it streams into
    storage, and reading stops with :class:`QuotaExceeded` as soon as ``limit`` bytes are
    passed — the rest of an oversized body is never read."""

    def __init__(self, source: ReadableStream, limit: int | None, *, what: str = "upload") -> None:
        self._source = source
        self._limit = limit
        self._what = what
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        if self._limit is not None:
            # Never ask for more than one byte past the limit: enough to detect overflow.
            allowed = self._limit - self.size + 1
            size = allowed if size < 0 else min(size, allowed)
        chunk = self._source.read(size)
        self.size += len(chunk)
        if self._limit is not None and self.size > self._limit:
            raise QuotaExceeded(f"{self._what} is larger than the {self._limit}-byte limit")
        self._hash.update(chunk)
        return chunk

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()
