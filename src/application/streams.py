"""Stream wrappers of uploads: one that measures, hashes and bounds what flows through
it, and one that looks at the first bytes without losing them."""

from __future__ import annotations

import hashlib

from videoplatform.application.ports.storage import ReadableStream
from videoplatform.domain.errors import QuotaExceeded
from videoplatform.domain.media_types import SNIFF_LENGTH


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


class Replay:
    """``head`` (bytes already read from ``rest``), then the rest of the stream."""

    def __init__(self, head: bytes, rest: ReadableStream) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            take = len(self._head) if size < 0 else min(size, len(self._head))
            data, self._head = bytes(self._head[:take]), self._head[take:]
            return data
        return self._rest.read(size)


def peek(stream: ReadableStream, length: int = SNIFF_LENGTH) -> tuple[bytes, Replay]:
    """The first ``length`` bytes of ``stream`` (fewer only if it ends sooner) and a
    stream that yields every byte, those included."""
    parts: list[bytes] = []
    got = 0
    while got < length:
        data = stream.read(length - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    head = b"".join(parts)
    return head, Replay(head, stream)
