"""The real clock, a time-ordered id generator and the disks' free space."""

from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UlidGenerator:
    """ULIDs: 48-bit millisecond time + 80 random bits, Crockford base32, 26 characters.

    They sort by creation time (good for B-tree indexes and keyset pagination) and stay
    unique across processes and machines without coordination. Ids from one process are
    strictly increasing: within one millisecond the random part grows by a random step
    of up to 64 bits, so an id never lets anyone guess its neighbours (unlisted videos
    are reachable by id).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_rand = 0

    def new_id(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms <= self._last_ms:
                ms = self._last_ms
                rand = self._last_rand + 1 + int.from_bytes(os.urandom(8), "big")
                if rand >= 1 << 80:
                    ms += 1
                    rand = int.from_bytes(os.urandom(10), "big") >> 1
            else:
                rand = int.from_bytes(os.urandom(10), "big") >> 1
            self._last_ms, self._last_rand = ms, rand
        value = (ms << 80) | rand
        return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -5, -5))


class LocalDiskSpace:
    """Free space as the operating system reports it to an unprivileged writer."""

    def free_bytes(self, path: Path) -> int:
        # The directory may not be made yet (a fresh data directory, a work directory
        # made by the first job): its nearest existing ancestor is where it would be.
        existing = path.absolute()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        return shutil.disk_usage(existing).free
