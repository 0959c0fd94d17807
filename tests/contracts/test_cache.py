"""Caches keep the cache port's contract: get/set/delete, expiry after the TTL, the least
recently used entry goes first when full, a TTL of zero or less deletes, and a reachable
cache answers a ping at once."""

from __future__ import annotations

import time

import pytest

from tests.contracts.conftest import CacheHarness
from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS

TTL = 0.2  # seconds; short, so adapters that must really wait (Redis) stay fast


def test_a_set_value_is_returned_until_deleted(cache_harness: CacheHarness) -> None:
    cache = cache_harness.new()
    assert cache.get("k") is None
    cache.set("k", b"value", TTL)
    assert cache.get("k") == b"value"
    cache.set("k", b"\x00binary\xff", TTL)
    assert cache.get("k") == b"\x00binary\xff"
    cache.delete("k")
    assert cache.get("k") is None


def test_delete_is_idempotent(cache_harness: CacheHarness) -> None:
    cache = cache_harness.new()
    cache.delete("never-set")
    cache.set("k", b"v", TTL)
    cache.delete("k")
    cache.delete("k")
    assert cache.get("k") is None


def test_keys_are_independent(cache_harness: CacheHarness) -> None:
    cache = cache_harness.new()
    cache.set("a", b"1", TTL)
    cache.set("b", b"2", TTL)
    cache.delete("a")
    assert (cache.get("a"), cache.get("b")) == (None, b"2")


def test_an_entry_expires_after_its_ttl(cache_harness: CacheHarness) -> None:
    cache = cache_harness.new()
    cache.set("short", b"1", TTL)
    cache.set("long", b"2", TTL * 4)
    cache_harness.advance(TTL / 2)
    assert cache.get("short") == b"1"
    cache_harness.advance(TTL)
    assert cache.get("short") is None
    assert cache.get("long") == b"2"
    cache_harness.advance(TTL * 4)
    assert cache.get("long") is None


def test_setting_again_restarts_the_ttl(cache_harness: CacheHarness) -> None:
    cache = cache_harness.new()
    cache.set("k", b"old", TTL)
    cache_harness.advance(TTL * 0.75)
    cache.set("k", b"new", TTL)
    cache_harness.advance(TTL * 0.75)
    assert cache.get("k") == b"new"


@pytest.mark.parametrize("ttl", [0, -1.0])
def test_a_ttl_of_zero_or_less_deletes_the_entry(cache_harness: CacheHarness, ttl: float) -> None:
    cache = cache_harness.new()
    cache.set("k", b"v", TTL)
    cache.set("k", b"other", ttl)
    assert cache.get("k") is None


def test_the_least_recently_used_entry_is_evicted_first(cache_harness: CacheHarness) -> None:
    cache = cache_harness.new(max_entries=3)
    cache.set("a", b"1", TTL)
    cache.set("b", b"2", TTL)
    cache.set("c", b"3", TTL)
    assert cache.get("a") == b"1"  # a is now more recent than b
    cache.set("d", b"4", TTL)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), cache.get("d")) == (b"1", b"3", b"4")


def test_setting_an_entry_makes_it_recently_used(cache_harness: CacheHarness) -> None:
    cache = cache_harness.new(max_entries=2)
    cache.set("a", b"1", TTL)
    cache.set("b", b"2", TTL)
    cache.set("a", b"1 again", TTL)
    cache.set("c", b"3", TTL)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (b"1 again", b"3")


def test_eviction_keeps_the_cache_at_its_bound(cache_harness: CacheHarness) -> None:
    cache = cache_harness.new(max_entries=10)
    for n in range(25):
        cache.set(f"k{n}", str(n).encode(), TTL)
    kept = [n for n in range(25) if cache.get(f"k{n}") is not None]
    assert kept == list(range(15, 25))


def test_a_reachable_cache_answers_a_ping_and_keeps_its_entries(
    cache_harness: CacheHarness,
) -> None:
    cache = cache_harness.new()
    cache.set("k", b"v", TTL)
    started = time.monotonic()
    cache.ping()  # answers: no Unavailable
    assert time.monotonic() - started < PING_TIMEOUT_SECONDS
    assert cache.get("k") == b"v"
