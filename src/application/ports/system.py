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


class OneTimePasswords(Protocol):
    """Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30-second steps, as
    every authenticator app reads them)."""

    def new_secret(self) -> str:
        """A new shared secret, base32, of at least 160 bits from a CSPRNG."""
        ...

    def provisioning_uri(self, secret: str, account: str, issuer: str) -> str:
        """The ``otpauth://totp/...`` URI an authenticator app takes (as a QR code)."""
        ...

    def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
        """The time step whose code ``code`` is, at ``at`` or one step either side (a
        clock a little off); None if it is none of them (or not a code at all)."""
        ...

    def qr_svg(self, text: str) -> str:
        """``text`` as a QR code, an SVG document."""
        ...


class SecretBox(Protocol):
    """Seals secrets the platform must read again (a TOTP secret) under a key kept
    outside the database: a copy of the database alone does not give them away."""

    def seal(self, plain: str) -> str:
        """``plain`` encrypted and authenticated, as text to store."""
        ...

    def open(self, sealed: str) -> str:
        """What :meth:`seal` sealed; ValueError if it was not sealed under this key."""
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
