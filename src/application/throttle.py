"""Throttling repeated failures (password guessing) per account and per client address."""

from __future__ import annotations

import hashlib

from attrs import frozen

from application.ports.cache import Cache
from domain.errors import TooManyAttempts


@frozen
class ThrottlePolicy:
    window_seconds: int = 15 * 60
    per_account: int = 5
    per_address: int = 30


class FailureThrottle:
    """Counts failures in fixed windows; refuses further attempts once a limit is hit.

    Keys are hashed so no email address is written into the cache in clear. A cache
    outage counts nothing (fails open) rather than locking everybody out.
    """

    def __init__(self, cache: Cache, policy: ThrottlePolicy | None = None) -> None:
        self._cache = cache
        self._policy = policy or ThrottlePolicy()

    @staticmethod
    def _key(kind: str, value: str) -> str:
        return f"throttle:{kind}:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]

    def _count(self, key: str) -> int:
        raw = self._cache.get(key)
        try:
            return int(raw) if raw is not None else 0
        except ValueError:
            return 0

    def check(self, scope: str, account: str, address: str | None) -> None:
        """Raise TooManyAttempts if either counter is already at its limit."""
        policy = self._policy
        over = self._count(self._key(scope + ":account", account)) >= policy.per_account or (
            address is not None
            and self._count(self._key(scope + ":address", address)) >= policy.per_address
        )
        if over:
            raise TooManyAttempts(
                "too many failed attempts; try again later", retry_after=policy.window_seconds
            )

    def failed(self, scope: str, account: str, address: str | None) -> None:
        window = self._policy.window_seconds
        self._cache.increment(self._key(scope + ":account", account), window)
        if address is not None:
            self._cache.increment(self._key(scope + ":address", address), window)

    def succeeded(self, scope: str, account: str) -> None:
        self._cache.delete(self._key(scope + ":account", account))
