"""Event buses keep the bus port's contract: every subscriber of an event's type (or of
a base type) gets it; a failing subscriber stops neither the others nor the publisher."""

from __future__ import annotations

from datetime import UTC, datetime

from videoplatform.application.ports.queue import EventBus
from videoplatform.domain.events import DomainEvent, VideoDeleted, VideoFailed, VideoReady
from videoplatform.domain.ids import VideoId

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def ready(video_id: str = "v1") -> VideoReady:
    return VideoReady(occurred_at=NOW, video_id=VideoId(video_id))


def test_subscribers_of_the_events_type_receive_it(event_bus: EventBus) -> None:
    first: list[VideoReady] = []
    second: list[VideoReady] = []
    event_bus.subscribe(VideoReady, first.append)
    event_bus.subscribe(VideoReady, second.append)
    event_bus.publish(ready("v1"))
    event_bus.publish(ready("v2"))
    assert first == [ready("v1"), ready("v2")]
    assert second == [ready("v1"), ready("v2")]


def test_subscribers_of_other_types_do_not_receive_it(event_bus: EventBus) -> None:
    failed: list[VideoFailed] = []
    deleted: list[VideoDeleted] = []
    event_bus.subscribe(VideoFailed, failed.append)
    event_bus.subscribe(VideoDeleted, deleted.append)
    event_bus.publish(ready())
    event_bus.publish(VideoDeleted(occurred_at=NOW, video_id=VideoId("v9")))
    assert failed == []
    assert deleted == [VideoDeleted(occurred_at=NOW, video_id=VideoId("v9"))]


def test_subscribers_of_a_base_type_receive_its_subtypes(event_bus: EventBus) -> None:
    everything: list[DomainEvent] = []
    event_bus.subscribe(DomainEvent, everything.append)
    failure = VideoFailed(occurred_at=NOW, video_id=VideoId("v2"), reason="bad input")
    event_bus.publish(ready())
    event_bus.publish(failure)
    assert everything == [ready(), failure]


def test_publishing_without_subscribers_is_fine(event_bus: EventBus) -> None:
    event_bus.publish(ready())


def test_a_failing_subscriber_stops_neither_the_others_nor_the_publisher(
    event_bus: EventBus,
) -> None:
    before: list[VideoReady] = []
    after: list[VideoReady] = []
    attempts: list[VideoReady] = []

    def explode(event: VideoReady) -> None:
        attempts.append(event)
        raise RuntimeError("subscriber bug")

    event_bus.subscribe(VideoReady, before.append)
    event_bus.subscribe(VideoReady, explode)
    event_bus.subscribe(VideoReady, after.append)
    event_bus.publish(ready("v1"))
    event_bus.publish(ready("v2"))
    assert before == after == attempts == [ready("v1"), ready("v2")]
