"""The durable event path, from a commit to a handler, on each backend: memory, SQLite
with the in-process channel, and PostgreSQL with RabbitMQ.

A unit of work writes its aggregates' events to the outbox (the commit hooks); the
relay publishes them to the event channel; each subscription's consumer hands them to
its handler, at least once, in order per aggregate, skipping repeats by event id,
retrying a failing handler with backoff and dead-lettering it in the end while the
other handlers and the other aggregates go on.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from tests.conftest import RequireService
from videoplatform.adapters.memory.events import MemoryEventChannel
from videoplatform.adapters.memory.queue import MemoryEventBus, MemoryJobQueue
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.adapters.system import UlidGenerator
from videoplatform.application.dispatch import Dispatcher, EventDelivery, Message, Proceed
from videoplatform.application.events.consumer import DurableHandler, SubscriptionHandler
from videoplatform.application.events.journal import EventJournal
from videoplatform.application.jobs import JobConsumer, RetryPolicy
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import EventChannel, Job, JobQueue, Subscription
from videoplatform.application.relay import OutboxRelay, RelayPolicy
from videoplatform.domain.events import DomainEvent, RolesChanged
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import Email, Role, User, UserStatus

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 2
ROLES = (frozenset({Role.CREATOR}), frozenset({Role.CREATOR, Role.MODERATOR}))


@attrs.define
class Spine:
    """One backend's database and event channel, and the pieces of the event path."""

    uow: UnitOfWorkFactory
    make_channel: Callable[[], EventChannel]
    dead_letters: Callable[[Subscription], list[Job]]
    clock: ManualClock = attrs.field(factory=lambda: ManualClock(T0))
    channel: EventChannel = attrs.field(init=False)
    opened: list[JobQueue] = attrs.field(factory=list)
    jobs: MemoryJobQueue = attrs.field(factory=MemoryJobQueue)

    def __attrs_post_init__(self) -> None:
        self.channel = self.make_channel()

    def relay(self, channel: EventChannel | None = None, batch: int = 100) -> OutboxRelay:
        policy = RelayPolicy(batch=batch, lease=LEASE)
        # Events only: no job is written, so the relay's job queue stays empty.
        return OutboxRelay(self.uow, self.jobs, channel or self.channel, self.clock, policy)

    def consumer(
        self, subscription: Subscription, handle: Callable[[DomainEvent], None]
    ) -> JobConsumer:
        handler = SubscriptionHandler(
            DurableHandler(subscription, handle), self.uow, self.clock, Dispatcher()
        )
        queue = self.channel.subscribe(subscription)
        self.opened.append(queue)
        return JobConsumer(
            queue, handler.handlers(), RetryPolicy(max_attempts=MAX_ATTEMPTS), handler.dead_lettered
        )


def journaled(factory: MemoryUnitOfWorkFactory | SqlUnitOfWorkFactory) -> UnitOfWorkFactory:
    factory.hooks = EventJournal(UlidGenerator(), MemoryEventBus())
    return factory


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres+rabbitmq", marks=pytest.mark.integration, id="postgres+rabbitmq"),
    ]
)
def spine(request: pytest.FixtureRequest) -> Iterator[Spine]:
    def memory_channel() -> MemoryEventChannel:
        return MemoryEventChannel(retry_base=0.05, retry_cap=0.2, max_deliveries=MAX_ATTEMPTS + 1)

    if request.param in ("memory", "sqlite"):
        channel = memory_channel()
        if request.param == "memory":
            uow: UnitOfWorkFactory = journaled(MemoryUnitOfWorkFactory())
            engine = None
        else:
            template: Path = request.getfixturevalue("sqlite_template")
            path = request.getfixturevalue("tmp_path") / "videoplatform.db"
            shutil.copy(template, path)
            engine = create_database_engine(f"sqlite:///{path}")
            uow = journaled(SqlUnitOfWorkFactory(engine))
        built = Spine(uow, lambda: channel, lambda s: channel.queue_of(s).dead_letters())
        yield built
        for queue in built.opened:
            queue.close()
        if engine is not None:
            engine.dispose()
        return
    yield from _postgres_and_rabbitmq(request)


def _postgres_and_rabbitmq(request: pytest.FixtureRequest) -> Iterator[Spine]:
    from tests.contracts.conftest import _empty_postgres
    from videoplatform.adapters.rabbitmq.events import RabbitEventChannel
    from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
    from videoplatform.adapters.rabbitmq.topology import Topology

    require: RequireService = request.getfixturevalue("require_service")
    broker = require(
        "RabbitMQ",
        os.environ.get("VIDEOPLATFORM_TEST_RABBITMQ_HOST", "127.0.0.1"),
        int(os.environ.get("VIDEOPLATFORM_TEST_RABBITMQ_PORT", "5672")),
    )
    url: str = request.getfixturevalue("postgres_database")
    engine = create_database_engine(url)
    _empty_postgres(engine)
    base = Topology(
        url=f"amqp://guest:guest@{broker.host}:{broker.port}/%2F",
        prefix=f"vp-test-{secrets.token_hex(4)}.",
        max_deliveries=MAX_ATTEMPTS + 1,
        retry_base_seconds=0.05,
        retry_cap_seconds=0.2,
        reconnect_base_seconds=0.05,
    )
    channels: list[RabbitEventChannel] = []

    def make_channel() -> RabbitEventChannel:
        # As in production, the shared subscriptions' queues are declared by the
        # publisher, so no event is published before its queue exists.
        channels.append(RabbitEventChannel(base, [ROLE_CHANGES, POISON], node="test"))
        return channels[-1]

    def dead_letters(subscription: Subscription) -> list[Job]:
        reader = RabbitJobQueue(channels[0].topology_for(subscription), role="test reader")
        try:
            return reader.dead_letters()
        finally:
            reader.close()

    built = Spine(journaled(SqlUnitOfWorkFactory(engine)), make_channel, dead_letters)
    try:
        yield built
    finally:
        for queue in built.opened:
            queue.close()
        # Every queue the publisher declared (whether a test consumed it or not), their
        # retry and dead-letter queues, and the exchange: nothing is left on the broker.
        channels[0].delete_queues([ROLE_CHANGES, POISON])
        for channel in channels:
            channel.close()
        engine.dispose()


# -- writing events ------------------------------------------------------------------------


def add_users(spine: Spine, *names: str) -> None:
    with spine.uow() as uow:
        for name in names:
            uow.users.add(
                User(
                    id=UserId(name),
                    email=Email.parse(f"{name}@example.com"),
                    display_name=name,
                    password_hash="$argon2id$placeholder",
                    roles=ROLES[0],
                    status=UserStatus.ACTIVE,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        uow.commit()


_ticks = iter(range(1, 1_000_000))


def change(spine: Spine, name: str) -> datetime:
    """Commit one change of ``name``'s roles: one RolesChanged event, stamped with a
    time later than every earlier one (the order the test expects per user)."""
    stamp = T0 + timedelta(milliseconds=next(_ticks))
    with spine.uow() as uow:
        user = uow.users.get(UserId(name))
        user.change_roles(ROLES[1] if user.roles == ROLES[0] else ROLES[0], stamp)
        uow.users.save(user)
        uow.commit()
    return stamp


ROLE_CHANGES = Subscription("test.role-changes", ("RolesChanged",))
POISON = Subscription("test.poison", ("RolesChanged",))


class Recorder:
    """A handler that records what it was given; ``fail`` decides which to refuse."""

    def __init__(self, fail: Callable[[RolesChanged], bool] = lambda _: False) -> None:
        self.seen: list[tuple[str, datetime]] = []
        self.calls = 0
        self._fail = fail

    def __call__(self, event: DomainEvent) -> None:
        assert isinstance(event, RolesChanged)
        self.calls += 1
        if self._fail(event):
            raise RuntimeError(f"refusing {event.user_id} at {event.occurred_at}")
        self.seen.append((event.user_id, event.occurred_at))

    def of(self, name: str) -> list[datetime]:
        return [at for who, at in self.seen if who == name]


def consume_until(
    consumers: list[JobConsumer], done: Callable[[], bool], seconds: float = 20.0
) -> None:
    """Run the consumers in turn until ``done()``; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            pytest.fail("the events were not all handled in time")
        for consumer in consumers:
            consumer.run_once(0.05)


def settle(consumers: list[JobConsumer], seconds: float = 0.5) -> None:
    """Keep consuming until nothing came for ``seconds`` (repeats have arrived)."""
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < seconds:
        if any(consumer.run_once(0.05) for consumer in consumers):
            quiet_since = time.monotonic()


# -- the contract ------------------------------------------------------------------------


def test_a_committed_event_reaches_a_subscriber_with_its_fields(spine: Spine) -> None:
    recorder = Recorder()
    consumer = spine.consumer(ROLE_CHANGES, recorder)  # subscribed before the commit
    add_users(spine, "ann")
    stamp = change(spine, "ann")
    assert spine.relay().relay_once() == 1
    consume_until([consumer], lambda: bool(recorder.seen))
    assert recorder.seen == [("ann", stamp)]
    with spine.uow() as uow:
        assert uow.outbox.pending(10) == []


def test_an_event_rolled_back_with_its_change_is_never_published(spine: Spine) -> None:
    add_users(spine, "ann")
    with pytest.raises(RuntimeError), spine.uow() as uow:
        user = uow.users.get(UserId("ann"))
        user.change_roles(ROLES[1], T0)
        uow.users.save(user)
        raise RuntimeError("abandoned")
    assert spine.relay().relay_once() == 0


class Killed(BaseException):
    """The relay's process dies here (nothing in the relay catches it)."""


class DiesAroundPublish:
    def __init__(self, inner: EventChannel, *, after: bool) -> None:
        self._inner, self._after = inner, after

    def publish(self, job: Job) -> None:
        if self._after:
            self._inner.publish(job)
        raise Killed

    def subscribe(self, subscription: Subscription) -> JobQueue:
        return self._inner.subscribe(subscription)


def test_a_relay_killed_around_publishing_loses_nothing_and_the_event_is_handled_once(
    spine: Spine,
) -> None:
    recorder = Recorder()
    consumer = spine.consumer(ROLE_CHANGES, recorder)
    add_users(spine, "ann")
    stamp = change(spine, "ann")

    # Killed after committing its claim, before publishing: the claim runs out.
    with pytest.raises(Killed):
        spine.relay(DiesAroundPublish(spine.channel, after=False)).relay_once()
    assert spine.relay().relay_once() == 0  # still claimed
    spine.clock.advance(LEASE)
    # A restarted relay publishes, and is killed before marking it sent.
    with pytest.raises(Killed):
        spine.relay(DiesAroundPublish(spine.channel, after=True)).relay_once()
    spine.clock.advance(LEASE)
    # The next one publishes it again and marks it.
    assert spine.relay().relay_once() == 1
    assert spine.relay().relay_once() == 0

    consume_until([consumer], lambda: bool(recorder.seen))
    settle([consumer])
    # Delivered twice, handled once: the repeat was recognised by its event id.
    assert recorder.seen == [("ann", stamp)]
    assert recorder.calls == 1


def test_two_relays_keep_each_aggregates_events_in_commit_order(spine: Spine) -> None:
    recorder = Recorder()
    consumer = spine.consumer(ROLE_CHANGES, recorder)
    names = ["ann", "bob", "cat"]
    add_users(spine, *names)
    written: dict[str, list[datetime]] = {name: [] for name in names}
    for _ in range(8):
        for name in names:
            written[name].append(change(spine, name))
    relays = [spine.relay(spine.make_channel(), batch=3) for _ in range(2)]
    errors: list[BaseException] = []

    def run(relay: OutboxRelay) -> None:
        try:
            idle = 0
            while idle < 20:
                idle = idle + 1 if relay.relay_once() == 0 else 0
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    consume_until([consumer], lambda: len(recorder.seen) == 24, seconds=60)
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    settle([consumer])
    for name in names:
        assert recorder.of(name) == written[name]


def test_a_failing_event_holds_back_its_aggregate_only_and_a_poison_handler_dead_letters(
    spine: Spine,
) -> None:
    refused: set[datetime] = set()

    def fail_first_of_ann(event: RolesChanged) -> bool:
        if event.user_id == "ann" and not refused:
            refused.add(event.occurred_at)
            return True
        return False

    healthy = Recorder(fail_first_of_ann)
    poison = Recorder(lambda _: True)
    consumers = [
        spine.consumer(ROLE_CHANGES, healthy),
        spine.consumer(POISON, poison),
    ]
    add_users(spine, "ann", "bob")
    ann = [change(spine, "ann"), change(spine, "ann")]
    bob = [change(spine, "bob")]
    assert spine.relay().relay_once() == 3

    consume_until(consumers, lambda: len(healthy.seen) == 3 and poison.calls == 3 * MAX_ATTEMPTS)
    settle(consumers)
    # ann's first event failed once: her second waited for its retry; bob's did not.
    assert refused == {ann[0]}
    assert healthy.of("ann") == ann
    assert healthy.of("bob") == bob
    assert healthy.seen.index(("bob", bob[0])) < healthy.seen.index(("ann", ann[0]))
    # The poison handler tried each event MAX_ATTEMPTS times; all are dead letters, and
    # none held up the others (each was tried, and the healthy handler got them all).
    assert poison.seen == []
    assert poison.calls == 3 * MAX_ATTEMPTS
    dead = spine.dead_letters(POISON)
    assert sorted(job.kind for job in dead) == ["event.RolesChanged"] * 3
    assert spine.dead_letters(ROLE_CHANGES) == []


def test_every_delivery_runs_through_the_dispatch_middleware(spine: Spine) -> None:
    seen: list[tuple[str, str]] = []

    def spy(message: Message, proceed: Proceed) -> object:
        if isinstance(message, EventDelivery):
            seen.append((message.name, message.event.name))
        return proceed()

    dispatcher = Dispatcher()
    dispatcher.use(spy)
    recorder = Recorder()
    handler = SubscriptionHandler(
        DurableHandler(ROLE_CHANGES, recorder), spine.uow, spine.clock, dispatcher
    )
    queue = spine.channel.subscribe(ROLE_CHANGES)
    spine.opened.append(queue)
    consumer = JobConsumer(queue, handler.handlers(), RetryPolicy(), handler.dead_lettered)
    add_users(spine, "ann")
    change(spine, "ann")
    spine.relay().relay_once()
    consume_until([consumer], lambda: bool(recorder.seen))
    assert seen == [("test.role-changes", "RolesChanged")]
