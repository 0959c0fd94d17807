"""Throttling repeated failures (password guessing) per account and per client address."""

from __future__ import annotations

import hashlib

from attrs import frozen

from videoplatform.application.ports.cache import Cache
from videoplatform.domain.errors import TooManyAttempts


@frozen
class ThrottlePolicy:
    window_seconds: int = 15 * 60
    per_account: int = 5
    per_address: int = 30
    requests_per_account: int = 3
    """Requests that mail an account (a reset code) per window, whoever asks."""
    requests_per_address: int = 20
    """Such requests from one client address per window, whatever account they name."""


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

    def attempt(self, scope: str, account: str, address: str | None) -> None:
        """Count an attempt on the account *before* checking its secret, so that
        concurrent guesses cannot all pass a check made before any of them failed;
        raise TooManyAttempts past the limit. The address counts only failures."""
        policy = self._policy
        address_over = address is not None and (
            self._count(self._key(scope + ":address", address)) >= policy.per_address
        )
        tries = self._cache.increment(self._key(scope + ":account", account), policy.window_seconds)
        if tries > policy.per_account or address_over:
            raise TooManyAttempts(
                "too many failed attempts; try again later", retry_after=policy.window_seconds
            )

    def failed(self, scope: str, address: str | None) -> None:
        """Count a failure from the address (the account's attempt is already counted)."""
        window = self._policy.window_seconds
        if address is not None:
            self._cache.increment(self._key(scope + ":address", address), window)

    def requested(self, scope: str, account: str, address: str | None) -> None:
        """Count a request that mails ``account`` (a reset code) against it and against
        the client address; raise TooManyAttempts past either limit. Counted for any
        account named, existing or not, so the refusal tells nothing about it."""
        policy = self._policy
        window = policy.window_seconds
        tries = self._cache.increment(self._key(scope + ":request", account), window)
        from_address = (
            self._cache.increment(self._key(scope + ":request-address", address), window)
            if address is not None
            else 0
        )
        if tries > policy.requests_per_account or from_address > policy.requests_per_address:
            raise TooManyAttempts("too many requests; try again later", retry_after=window)

    def succeeded(self, scope: str, account: str) -> None:
        self._cache.delete(self._key(scope + ":account", account))
