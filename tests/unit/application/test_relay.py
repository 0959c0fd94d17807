"""The outbox relay: a committed message becomes a job exactly when the queue confirms
it, and nothing committed is ever lost, whatever fails in between."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from queue import Empty, SimpleQueue

from videoplatform.adapters.memory.events import MemoryEventChannel
from videoplatform.adapters.memory.queue import MemoryJobQueue
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.persistence import OutboxMessage
from videoplatform.application.ports.queue import Job, PublishFailed
from videoplatform.application.relay import OutboxRelay, RelayPolicy

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FlakyQueue(MemoryJobQueue):
    """A queue whose publishes fail while ``down`` (unconfirmed), or after ``fail_after``
    more successes."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.fail_after: int | None = None

    def publish(self, job: Job) -> None:
        if self.down or self.fail_after == 0:
            raise PublishFailed(f"{job.id} not confirmed")
        if self.fail_after is not None:
            self.fail_after -= 1
        super().publish(job)


def commit_messages(uow: MemoryUnitOfWorkFactory, *ids: str) -> None:
    with uow() as unit:
        for n, message_id in enumerate(ids):
            unit.outbox.add(
                OutboxMessage(
                    message_id,
                    "process-video",
                    {"video_id": f"v-{message_id}"},
                    T0 + timedelta(seconds=n),
                )
            )
        unit.commit()


def drain(queue: MemoryJobQueue) -> list[Job]:
    jobs = []
    while (delivery := queue.receive(0)) is not None:
        jobs.append(delivery.job)
        queue.ack(delivery)
    return jobs


def pending_ids(uow: MemoryUnitOfWorkFactory) -> list[str]:
    with uow() as unit:
        return [m.id for m in unit.outbox.pending(100)]


def test_committed_messages_become_jobs_with_the_message_id_and_are_marked_sent() -> None:
    uow, queue, clock = MemoryUnitOfWorkFactory(), MemoryJobQueue(), ManualClock(T0)
    commit_messages(uow, "m1", "m2")
    relay = OutboxRelay(uow, queue, MemoryEventChannel(), clock)
    assert relay.relay_once() == 2
    assert drain(queue) == [
        Job("m1", "process-video", {"video_id": "v-m1"}),
        Job("m2", "process-video", {"video_id": "v-m2"}),
    ]
    assert pending_ids(uow) == []
    assert relay.relay_once() == 0


def test_messages_committed_while_publishing_fails_stay_pending_and_go_out_later() -> None:
    uow, queue, clock = MemoryUnitOfWorkFactory(), FlakyQueue(), ManualClock(T0)
    policy = RelayPolicy(retry_base=timedelta(seconds=10))
    relay = OutboxRelay(uow, queue, MemoryEventChannel(), clock, policy)
    commit_messages(uow, "m1", "m2", "m3")
    queue.down = True
    assert relay.relay_once() == 0
    assert pending_ids(uow) == ["m1", "m2", "m3"]
    queue.down = False
    # Backing off: the failed messages wait out their retry time.
    assert relay.relay_once() == 0
    clock.advance(timedelta(seconds=10))
    assert relay.relay_once() == 3
    assert [j.id for j in drain(queue)] == ["m1", "m2", "m3"]
    assert pending_ids(uow) == []


def test_the_backoff_doubles_with_each_failed_publish() -> None:
    uow, queue, clock = MemoryUnitOfWorkFactory(), FlakyQueue(), ManualClock(T0)
    relay = OutboxRelay(
        uow, queue, MemoryEventChannel(), clock, RelayPolicy(retry_base=timedelta(seconds=10))
    )
    commit_messages(uow, "m1")
    queue.down = True
    relay.relay_once()  # attempt 1 fails: 10 s
    clock.advance(timedelta(seconds=10))
    relay.relay_once()  # attempt 2 fails: 20 s
    queue.down = False
    clock.advance(timedelta(seconds=19))
    assert relay.relay_once() == 0
    clock.advance(timedelta(seconds=1))
    assert relay.relay_once() == 1


def test_a_failure_midway_keeps_the_unconfirmed_rest_of_the_batch() -> None:
    uow, queue, clock = MemoryUnitOfWorkFactory(), FlakyQueue(), ManualClock(T0)
    relay = OutboxRelay(
        uow, queue, MemoryEventChannel(), clock, RelayPolicy(retry_base=timedelta(seconds=1))
    )
    commit_messages(uow, "m1", "m2", "m3")
    queue.fail_after = 1
    assert relay.relay_once() == 1
    assert pending_ids(uow) == ["m2", "m3"]
    queue.fail_after = None
    clock.advance(timedelta(seconds=1))
    assert relay.relay_once() == 2
    assert [j.id for j in drain(queue)] == ["m1", "m2", "m3"]


def test_a_relay_that_dies_after_publishing_lets_another_publish_again_after_the_lease() -> None:
    uow, queue, clock = MemoryUnitOfWorkFactory(), MemoryJobQueue(), ManualClock(T0)
    policy = RelayPolicy(lease=timedelta(seconds=60))
    commit_messages(uow, "m1")

    # The first relay claims and publishes, then its process dies before marking sent.
    with uow() as unit:
        claimed = unit.outbox.claim(10, clock.now(), policy.lease)
        unit.commit()
    queue.publish(Job(claimed[0].id, claimed[0].topic, claimed[0].payload))
    survivor = OutboxRelay(uow, queue, MemoryEventChannel(), clock, policy)
    assert survivor.relay_once() == 0  # still claimed by the dead relay
    clock.advance(timedelta(seconds=60))
    assert survivor.relay_once() == 1
    # At least once: the job is there twice, with the same id for the handler to notice.
    assert [j.id for j in drain(queue)] == ["m1", "m1"]
    assert pending_ids(uow) == []


def test_a_running_relay_publishes_soon_after_being_woken() -> None:
    uow, queue, clock = MemoryUnitOfWorkFactory(), MemoryJobQueue(), ManualClock(T0)
    relay = OutboxRelay(uow, queue, MemoryEventChannel(), clock, RelayPolicy(poll_seconds=30))
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    thread.start()
    try:
        commit_messages(uow, "m1")
        relay.wake()
        delivery = queue.receive(5)
    finally:
        stop.set()
        relay.wake()
        thread.join(5)
    assert delivery is not None and delivery.job.id == "m1"
    assert not thread.is_alive()


class SlowQueue(MemoryJobQueue):
    """Each publish takes ``step`` of (manual) time."""

    def __init__(self, clock: ManualClock, step: timedelta) -> None:
        super().__init__()
        self._clock, self._step = clock, step

    def publish(self, job: Job) -> None:
        self._clock.advance(self._step)
        super().publish(job)


def test_a_relay_stops_publishing_before_its_claim_runs_out() -> None:
    uow, clock = MemoryUnitOfWorkFactory(), ManualClock(T0)
    queue = SlowQueue(clock, timedelta(seconds=20))  # the lease is 60 s
    commit_messages(uow, "m1", "m2", "m3", "m4", "m5")
    relay = OutboxRelay(uow, queue, MemoryEventChannel(), clock)
    # 0 s, 20 s and 40 s are within three quarters of the lease; at 60 s it stops.
    assert relay.relay_once() == 3
    assert pending_ids(uow) == ["m4", "m5"]
    assert relay.relay_once() == 2  # left claimable at once, in order
    assert [job.id for job in drain(queue)] == ["m1", "m2", "m3", "m4", "m5"]


class AnnouncingListener:
    """An OutboxListener that hears what the test announces; its next ``failures``
    waits fail as a cut connection does."""

    def __init__(self, failures: int = 0) -> None:
        self._announced: SimpleQueue[bool] = SimpleQueue()
        self.failures = failures
        self.waits = 0
        self.closed = 0

    def announce(self) -> None:
        self._announced.put(True)

    def wait(self, timeout: float) -> bool:
        self.waits += 1
        if self.failures:
            self.failures -= 1
            raise Unavailable("database", "the listening connection was cut")
        try:
            return self._announced.get(timeout=timeout)
        except Empty:
            return False

    def close(self) -> None:
        self.closed += 1


@contextmanager
def relaying(relay: OutboxRelay, listener: AnnouncingListener) -> Iterator[threading.Thread]:
    """The relay and its follower of ``listener`` running; the follower's thread."""
    stop = threading.Event()
    runner = threading.Thread(target=relay.run, args=(stop,))
    follower = threading.Thread(target=relay.follow, args=(listener, stop))
    runner.start()
    follower.start()
    try:
        yield follower
    finally:
        stop.set()
        relay.wake()
        runner.join(5)
        follower.join(5)
    assert not runner.is_alive() and not follower.is_alive()


def test_a_commit_the_listener_hears_of_is_published_long_before_the_poll() -> None:
    uow, queue, clock = MemoryUnitOfWorkFactory(), MemoryJobQueue(), ManualClock(T0)
    policy = RelayPolicy(poll_seconds=600, listen_seconds=0.05)
    relay = OutboxRelay(uow, queue, MemoryEventChannel(), clock, policy)
    listener = AnnouncingListener()
    commit_messages(uow, "m0")
    with relaying(relay, listener):
        first = queue.receive(5)  # the relay's first look, at start
        assert first is not None
        queue.ack(first)
        # From here on the relay waits out its 600 s poll unless something wakes it.
        commit_messages(uow, "m1")
        listener.announce()
        announced = queue.receive(10)
    assert first.job.id == "m0"
    assert announced is not None and announced.job.id == "m1"


def test_a_listener_that_keeps_failing_leaves_the_relay_to_its_poll() -> None:
    uow, queue, clock = MemoryUnitOfWorkFactory(), MemoryJobQueue(), ManualClock(T0)
    policy = RelayPolicy(poll_seconds=0.1, listen_seconds=0.05)
    relay = OutboxRelay(uow, queue, MemoryEventChannel(), clock, policy)
    listener = AnnouncingListener(failures=1_000)
    with relaying(relay, listener) as follower:
        commit_messages(uow, "m1")
        delivery = queue.receive(10)
        following = follower.is_alive()
    assert delivery is not None and delivery.job.id == "m1"
    assert following  # the failures were kept inside the follower
    assert listener.closed >= 2  # its broken connection after a failure, and at the end


def test_a_listener_that_failed_is_listened_to_again() -> None:
    uow, queue, clock = MemoryUnitOfWorkFactory(), MemoryJobQueue(), ManualClock(T0)
    policy = RelayPolicy(poll_seconds=600, listen_seconds=0.05)
    relay = OutboxRelay(uow, queue, MemoryEventChannel(), clock, policy)
    listener = AnnouncingListener(failures=1)
    commit_messages(uow, "m0")
    with relaying(relay, listener):
        first = queue.receive(5)
        assert first is not None
        queue.ack(first)
        commit_messages(uow, "m1")
        listener.announce()  # heard once the follower tries again, after its backoff
        announced = queue.receive(10)
    assert first.job.id == "m0"
    assert announced is not None and announced.job.id == "m1"
    assert listener.failures == 0 and listener.waits >= 2


def test_following_ends_when_the_relay_stops_and_closes_the_listener() -> None:
    uow, clock = MemoryUnitOfWorkFactory(), ManualClock(T0)
    policy = RelayPolicy(listen_seconds=0.05)
    relay = OutboxRelay(uow, MemoryJobQueue(), MemoryEventChannel(), clock, policy)
    listener = AnnouncingListener()
    stop = threading.Event()
    follower = threading.Thread(target=relay.follow, args=(listener, stop))
    follower.start()
    stop.set()
    follower.join(5)
    assert not follower.is_alive()
    assert listener.closed == 1
