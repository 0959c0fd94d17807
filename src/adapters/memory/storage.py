"""In-memory object storage."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from videoplatform.application.ports.storage import ByteRange, ObjectInfo, ReadableStream
from videoplatform.domain.errors import NotFound, ValidationError

CHUNK = 64 * 1024


class MemoryObjectStorage:
    """Objects held as bytes. ``put`` buffers privately and publishes only when the
    stream has been read to its end, so a failed upload leaves nothing behind."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, stream: ReadableStream) -> ObjectInfo:
        parts: list[bytes] = []
        while chunk := stream.read(CHUNK):
            parts.append(chunk)
        data = b"".join(parts)
        with self._lock:
            self._objects[key] = data
        return ObjectInfo(key, len(data))

    def _data(self, key: str) -> bytes:
        with self._lock:
            data = self._objects.get(key)
        if data is None:
            raise NotFound(f"object {key} not found")
        return data

    def get(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        data = self._data(key)
        start, end = 0, len(data) - 1
        if byte_range is not None:
            if byte_range.start >= len(data):
                raise ValidationError("range starts past the end", code="range_not_satisfiable")
            start, end = byte_range.start, min(byte_range.end, len(data) - 1)
        view = memoryview(data)
        return (bytes(view[i : min(i + CHUNK, end + 1)]) for i in range(start, end + 1, CHUNK))

    def stat(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, len(self._data(key)))

    def download_url(
        self, key: str, *, expires_seconds: int, content_type: str, content_disposition: str
    ) -> str | None:
        return None  # no second server to send clients to

    def open_file(self, key: str) -> BinaryIO | None:
        self._data(key)  # NotFound if absent
        return None  # bytes in memory: nothing for sendfile

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self._objects

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        if not prefix.endswith("/"):
            raise ValueError("a prefix must end with '/'")
        with self._lock:
            doomed = [k for k in self._objects if k.startswith(prefix)]
            for key in doomed:
                del self._objects[key]
        return len(doomed)

    def sweep_partial(self, started_before: datetime) -> int:
        return 0  # a put is one assignment under the lock: nothing is ever partial

    def keys(self) -> list[str]:
        """Every stored key, sorted (for inspection in tests and tools)."""
        with self._lock:
            return sorted(self._objects)
