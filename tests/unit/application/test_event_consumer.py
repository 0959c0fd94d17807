"""A per-node subscription's handler runs on every node: it keeps no shared receipts,
which would let one node's handling stand for the others'."""

from __future__ import annotations

from datetime import UTC, datetime

from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.dispatch import Dispatcher
from videoplatform.application.events.codec import to_job, to_message
from videoplatform.application.events.consumer import DurableHandler, SubscriptionHandler
from videoplatform.application.ports.queue import Subscription
from videoplatform.domain.events import DomainEvent, VideoUpdated
from videoplatform.domain.ids import VideoId

WHEN = datetime(2026, 2, 3, 4, 5, tzinfo=UTC)


def test_each_node_handles_an_event_its_queue_brings_whatever_another_node_did() -> None:
    uow = MemoryUnitOfWorkFactory()  # the database every node shares
    seen: dict[str, list[DomainEvent]] = {"node-a": [], "node-b": []}
    subscription = Subscription("read-cache", ("VideoUpdated",), per_node=True)
    nodes = {
        name: SubscriptionHandler(
            DurableHandler(subscription, events.append), uow, ManualClock(WHEN), Dispatcher()
        )
        for name, events in seen.items()
    }
    event = VideoUpdated(occurred_at=WHEN, video_id=VideoId("v1"))
    job = to_job(to_message("evt-1", event))

    nodes["node-a"](job)
    nodes["node-b"](job)

    assert seen == {"node-a": [event], "node-b": [event]}
    with uow() as unit:
        assert not unit.receipts.handled("read-cache", "evt-1")


def test_a_shared_subscription_handles_an_event_once_across_its_consumers() -> None:
    uow = MemoryUnitOfWorkFactory()
    seen: list[DomainEvent] = []
    subscription = Subscription("search", ("VideoUpdated",))
    first, second = (
        SubscriptionHandler(
            DurableHandler(subscription, seen.append), uow, ManualClock(WHEN), Dispatcher()
        )
        for _ in range(2)
    )
    job = to_job(to_message("evt-1", VideoUpdated(occurred_at=WHEN, video_id=VideoId("v1"))))

    first(job)
    second(job)  # a redelivery, to whichever consumer

    assert len(seen) == 1
