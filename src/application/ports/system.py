"""Time, identifiers and secrets come in through ports so that tests are deterministic."""

from __future__ import annotations

from datetime import datetime
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
