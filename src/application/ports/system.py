"""Time, identifiers, secrets and free disk space come in through ports so that tests are
deterministic."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new identifier, unique across the platform's lifetime and all processes,
        roughly ordered by creation time (so ids sort well in indexes)."""
        ...


class TokenGenerator(Protocol):
    def new_token(self) -> str:
        """A URL-safe secret with at least 128 bits from a CSPRNG."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str:
        """An argon2id hash string (parameters and salt included)."""
        ...

    def verify(self, password: str, password_hash: str) -> bool:
        """Whether ``password`` matches; never raises for a mismatch or a malformed hash."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with weaker parameters than the current ones."""
        ...


class DiskSpace(Protocol):
    def free_bytes(self, path: Path) -> int:
        """Bytes this process may still write on the filesystem that holds ``path``: the
        filesystem of its nearest existing ancestor when ``path`` does not exist yet
        (where it would be made). OSError when that cannot be told."""
        ...
