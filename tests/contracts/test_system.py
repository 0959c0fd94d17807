"""Clocks and id generators keep the system ports' contracts, and the deterministic
stand-ins (ManualClock, SequentialIds) behave as documented."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.contracts.conftest import IdGeneratorFactory
from videoplatform.adapters.memory.system import ManualClock, SequentialIds
from videoplatform.adapters.system import SystemClock, UlidGenerator
from videoplatform.application.ports.system import Clock

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# -- every id generator ----------------------------------------------------------------


def test_ids_from_one_generator_strictly_increase(make_id_generator: IdGeneratorFactory) -> None:
    generator = make_id_generator()
    ids = [generator.new_id() for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(ids))


def test_ids_are_unique_across_threads(make_id_generator: IdGeneratorFactory) -> None:
    generator = make_id_generator()
    per_thread: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(len(per_thread))

    def mint(out: list[str]) -> None:
        start.wait()
        out.extend(generator.new_id() for _ in range(2_000))

    threads = [threading.Thread(target=mint, args=(out,)) for out in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    every = [i for out in per_thread for i in out]
    assert len(every) == 16_000
    assert len(set(every)) == 16_000
    for out in per_thread:
        assert out == sorted(out)


# -- ULIDs -----------------------------------------------------------------------------


def decode_ms(ulid: str) -> int:
    value = 0
    for char in ulid[:10]:
        value = value * 32 + CROCKFORD.index(char)
    return value


def test_a_ulid_is_26_crockford_characters() -> None:
    generator = UlidGenerator()
    for _ in range(1_000):
        ulid = generator.new_id()
        assert len(ulid) == 26
        assert set(ulid) <= set(CROCKFORD)
        assert ulid[0] in "01234567"  # 128 bits in 130: the top character carries 3 bits


def test_a_ulid_starts_with_its_creation_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    ulid = UlidGenerator().new_id()
    after = time.time_ns() // 1_000_000
    assert before <= decode_ms(ulid) <= after


def test_ulids_of_independent_generators_sort_by_creation_time() -> None:
    earlier = UlidGenerator().new_id()
    time.sleep(0.003)
    later = UlidGenerator().new_id()
    assert earlier < later


def test_independent_ulid_generators_do_not_collide() -> None:
    minted = {UlidGenerator().new_id() for _ in range(2_000)}
    assert len(minted) == 2_000


# -- every clock -----------------------------------------------------------------------


def test_now_is_timezone_aware_utc(clock: Clock) -> None:
    now = clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_the_system_clock_tells_the_current_time() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    assert before <= now <= datetime.now(UTC)


# -- ManualClock -----------------------------------------------------------------------


def test_a_manual_clock_stands_still_until_advanced() -> None:
    start = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.now() == start
    assert clock.now() == start
    assert clock.advance(timedelta(minutes=5)) == start + timedelta(minutes=5)
    assert clock.now() == start + timedelta(minutes=5)


def test_a_manual_clock_starts_at_a_fixed_utc_instant() -> None:
    assert ManualClock().now() == ManualClock().now()
    assert ManualClock().now().utcoffset() == timedelta(0)


def test_a_manual_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ManualClock(datetime(2026, 1, 1))


# -- SequentialIds ---------------------------------------------------------------------


def test_sequential_ids_count_up_from_one_behind_their_prefix() -> None:
    ids = SequentialIds("video-")
    minted = [ids.new_id() for _ in range(3)]
    assert all(i.startswith("video-") for i in minted)
    assert [int(i.removeprefix("video-")) for i in minted] == [1, 2, 3]
    assert minted == sorted(minted)


def test_sequential_ids_of_separate_generators_restart() -> None:
    assert SequentialIds().new_id() == SequentialIds().new_id()


def _ulid_value(text: str) -> int:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = 0
    for char in text:
        value = value * 32 + alphabet.index(char)
    return value


def test_ulids_of_one_millisecond_are_not_guessable_neighbours() -> None:
    generator = UlidGenerator()
    values = [_ulid_value(generator.new_id()) for _ in range(2000)]
    same_ms_steps = [b - a for a, b in itertools.pairwise(values) if a >> 80 == b >> 80]
    assert same_ms_steps, "expected some ids within one millisecond"
    # Each step is random and large: nobody can enumerate ids around their own.
    assert min(same_ms_steps) > 1 << 16
    assert len(set(same_ms_steps)) == len(same_ms_steps)
