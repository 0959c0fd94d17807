"""What the metrics watch at the ports: how long each storage operation takes, and
whether each cache read found something. The composition root wraps the ports in these
(whatever their adapters); :mod:`.metrics` watches them. Nobody watching costs a clock
read per call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import BinaryIO, ParamSpec, TypeVar

from videoplatform.application.ports.cache import Cache
from videoplatform.application.ports.storage import (
    ByteRange,
    ObjectInfo,
    ObjectStorage,
    ReadableStream,
)

P = ParamSpec("P")
R = TypeVar("R")

STORAGE_OPERATIONS = (
    "put",
    "get",
    "stat",
    "exists",
    "open_file",
    "download_url",
    "delete",
    "delete_prefix",
    "sweep_partial",
)
"""The storage operations timed (the metric's label values)."""


class Watchers:
    """Callbacks told of each observation: ``(label, value)``."""

    def __init__(self) -> None:
        self._watchers: list[Callable[[str, float], None]] = []
        self._lock = threading.Lock()

    def watch(self, watcher: Callable[[str, float], None]) -> None:
        with self._lock:
            self._watchers = [*self._watchers, watcher]

    def tell(self, label: str, value: float) -> None:
        for watcher in self._watchers:
            watcher(label, value)


class StorageTimings(Watchers):
    """Told ``(operation, seconds)`` after each storage call, failed ones included."""


class CacheReads(Watchers):
    """Told ``("hit" or "miss", 1)`` after each cache read."""


class TimedStorage:
    """Object storage whose every call is timed (for ``get``: until the object is open
    and its first bytes can be read, not the whole transfer)."""

    def __init__(self, inner: ObjectStorage, timings: StorageTimings) -> None:
        self._inner = inner
        self._timings = timings

    @property
    def inner(self) -> ObjectStorage:
        """The storage timed."""
        return self._inner

    def _timed(
        self, operation: str, call: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self._timings.tell(operation, time.perf_counter() - started)

    def put(self, key: str, stream: ReadableStream) -> ObjectInfo:
        return self._timed("put", self._inner.put, key, stream)

    def get(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        return self._timed("get", self._inner.get, key, byte_range)

    def stat(self, key: str) -> ObjectInfo:
        return self._timed("stat", self._inner.stat, key)

    def exists(self, key: str) -> bool:
        return self._timed("exists", self._inner.exists, key)

    def download_url(
        self, key: str, *, expires_seconds: int, content_type: str, content_disposition: str
    ) -> str | None:
        return self._timed(
            "download_url",
            self._inner.download_url,
            key,
            expires_seconds=expires_seconds,
            content_type=content_type,
            content_disposition=content_disposition,
        )

    def open_file(self, key: str) -> BinaryIO | None:
        return self._timed("open_file", self._inner.open_file, key)

    def delete(self, key: str) -> None:
        self._timed("delete", self._inner.delete, key)

    def delete_prefix(self, prefix: str) -> int:
        return self._timed("delete_prefix", self._inner.delete_prefix, prefix)

    def sweep_partial(self, started_before: datetime) -> int:
        return self._timed("sweep_partial", self._inner.sweep_partial, started_before)


class CountedCache:
    """A cache whose reads are counted as hits or misses."""

    def __init__(self, inner: Cache, reads: CacheReads) -> None:
        self._inner = inner
        self._reads = reads

    @property
    def inner(self) -> Cache:
        return self._inner

    def get(self, key: str) -> bytes | None:
        found = self._inner.get(key)
        self._reads.tell("miss" if found is None else "hit", 1)
        return found

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._inner.set(key, value, ttl_seconds)

    def delete(self, key: str) -> None:
        self._inner.delete(key)

    def increment(self, key: str, ttl_seconds: float) -> int:
        return self._inner.increment(key, ttl_seconds)

    def ping(self) -> None:
        self._inner.ping()
