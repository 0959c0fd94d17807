"""The circuit breakers (entrypoints/resilience.py): only a dependency's own failures
count; after enough in a row it is not asked at all and what needs it fails at once;
after the reset time one call tries it again; watchers (the metric) see each state."""

from __future__ import annotations

import io
import time

import pytest

from videoplatform.adapters.memory.queue import MemoryJobQueue
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.queue import Job, PublishFailed
from videoplatform.application.ports.storage import ObjectInfo, ReadableStream
from videoplatform.domain.errors import NotFound
from videoplatform.entrypoints.resilience import GUARDED, Breakers, GuardedJobQueue, GuardedStorage


class FlakyStorage(MemoryObjectStorage):
    """Memory storage whose service can be taken away (every call then fails as an
    unreachable service would), counting the calls that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def _reach(self) -> None:
        self.calls += 1
        if self.down:
            raise Unavailable("storage", "connection refused")

    def put(self, key: str, stream: ReadableStream) -> ObjectInfo:
        self._reach()
        return super().put(key, stream)

    def stat(self, key: str) -> ObjectInfo:
        self._reach()
        return super().stat(key)

    def exists(self, key: str) -> bool:
        self._reach()
        return super().exists(key)


def guarded(reset_seconds: float = 60) -> tuple[GuardedStorage, FlakyStorage, Breakers]:
    flaky = FlakyStorage()
    breakers = Breakers(failures=3, reset_seconds=reset_seconds)
    return GuardedStorage(flaky, breakers), flaky, breakers


def test_failures_in_a_row_open_the_circuit_and_then_nothing_is_asked() -> None:
    storage, flaky, breakers = guarded()
    storage.put("a/b", io.BytesIO(b"x"))
    flaky.down = True
    for _ in range(3):
        with pytest.raises(Unavailable, match="connection refused"):
            storage.stat("a/b")
    assert breakers.state("storage") == "open"
    asked = flaky.calls
    started = time.monotonic()
    with pytest.raises(Unavailable, match="not tried: it failed 3 times in a row") as caught:
        storage.put("a/c", io.BytesIO(b"y"))
    assert time.monotonic() - started < 0.05
    assert caught.value.code == "storage_unavailable"
    assert flaky.calls == asked
    # A health check reports it down without asking either.
    with pytest.raises(Unavailable, match="not tried"):
        storage.exists("a/b")
    assert flaky.calls == asked


def test_refusals_about_the_request_do_not_count() -> None:
    storage, flaky, breakers = guarded()
    for _ in range(10):
        with pytest.raises(NotFound):
            storage.stat("no/such")
    assert breakers.state("storage") == "closed"
    flaky.down = True
    for _ in range(2):
        with pytest.raises(Unavailable):
            storage.stat("no/such")
    assert breakers.state("storage") == "closed"  # two failures; three open it


def test_a_success_between_failures_starts_the_count_again() -> None:
    storage, flaky, breakers = guarded()
    storage.put("k", io.BytesIO(b"x"))
    for _ in range(5):
        flaky.down = True
        for _ in range(2):
            with pytest.raises(Unavailable):
                storage.stat("k")
        flaky.down = False
        storage.stat("k")
    assert breakers.state("storage") == "closed"


def test_after_the_reset_time_one_call_tries_again_and_closes_it_on_success() -> None:
    storage, flaky, breakers = guarded(reset_seconds=0.2)
    storage.put("k", io.BytesIO(b"x"))
    seen: list[tuple[str, str]] = []
    breakers.watch(lambda dependency, state: seen.append((dependency, state)))
    assert seen == [(name, "closed") for name in GUARDED]
    flaky.down = True
    for _ in range(3):
        with pytest.raises(Unavailable):
            storage.stat("k")
    time.sleep(0.25)
    with pytest.raises(Unavailable, match="connection refused"):
        storage.stat("k")  # the trial call reaches the service, which is still down
    assert breakers.state("storage") == "open"
    time.sleep(0.25)
    flaky.down = False
    assert storage.stat("k").size == 1
    assert breakers.state("storage") == "closed"
    assert seen[len(GUARDED) :] == [
        ("storage", "open"),
        ("storage", "half-open"),
        ("storage", "open"),
        ("storage", "half-open"),
        ("storage", "closed"),
    ]


class DownQueue(MemoryJobQueue):
    def publish(self, job: Job) -> None:
        raise PublishFailed(f"job {job.id} not confirmed by the broker")


def test_an_open_queue_circuit_keeps_jobs_in_the_outbox_as_the_port_says() -> None:
    breakers = Breakers(failures=2, reset_seconds=60)
    queue = GuardedJobQueue(DownQueue(), breakers)
    job = Job("j1", "video.process", {"video_id": "v"})
    for _ in range(2):
        with pytest.raises(PublishFailed, match="not confirmed"):
            queue.publish(job)
    with pytest.raises(PublishFailed, match="not tried"):
        queue.publish(job)  # the relay keeps it and tries later
    assert breakers.state("queue") == "open"
