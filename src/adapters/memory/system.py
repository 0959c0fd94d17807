"""Deterministic time, ids and disk space for tests and simulations."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


class SequentialIds:
    """Ids ``<prefix>000001``, ``<prefix>000002``... ordered like creation."""

    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            return f"{self._prefix}{next(self._counter):012d}"


class FixedDiskSpace:
    """Free space as told: ``free`` bytes everywhere, or per path in ``by_path`` (a path
    not listed has ``free``). ``fail`` makes every question raise OSError."""

    def __init__(self, free: int = 100 * 1024**3, by_path: dict[Path, int] | None = None) -> None:
        self.free = free
        self.by_path = dict(by_path or {})
        self.fail = False

    def free_bytes(self, path: Path) -> int:
        if self.fail:
            raise OSError(f"cannot read the filesystem of {path}")
        return self.by_path.get(path, self.free)
