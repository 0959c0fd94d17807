"""A cache for cache-aside reads. An outage degrades to the source, never to an error."""

from __future__ import annotations

from typing import Protocol


class Cache(Protocol):
    def get(self, key: str) -> bytes | None:
        """The value, or None when absent, expired or the cache is unreachable."""
        ...

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Store with a time to live; failures are swallowed (and logged by adapters)."""
        ...

    def delete(self, key: str) -> None:
        """Invalidate; idempotent; failures are swallowed."""
        ...

    def increment(self, key: str, ttl_seconds: float) -> int:
        """Atomically add one to a counter and return the new value. The counter expires
        ``ttl_seconds`` after it was created (a fixed window). When the cache is
        unreachable, return 0: counters fail open, never into an error."""
        ...

    def ping(self) -> None:
        """Check that the cache answers, within ``PING_TIMEOUT_SECONDS`` per step
        (``ports.errors``); raise ``Unavailable`` (its detail the reason) when it does
        not. Unlike every other method, a failure is reported, not swallowed: this is
        how a health check tells an outage from a miss."""
        ...
