"""Optimistic concurrency: running a unit of work again after it lost a race."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from videoplatform.application.ports.persistence import STALE_VERSION
from videoplatform.domain.errors import Conflict

T = TypeVar("T")


def retry_stale(attempts: int, work: Callable[[], T]) -> T:
    """Run ``work`` (which opens its own unit of work and reads afresh) until it does not
    lose to a concurrent commit, ``attempts`` runs at most. A lost race is a Conflict
    with code STALE_VERSION; any other failure, and the last lost race, propagate."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Conflict as clash:
            if clash.code != STALE_VERSION or attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover - attempts >= 1 returns or raises
