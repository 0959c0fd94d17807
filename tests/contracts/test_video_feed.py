"""Video feeds keep the feed port's contract: an update published after a subscription
reaches it, in order, and only the subscribers of that video; a subscriber that falls
behind still gets the latest update; reading waits at most the timeout; a closed
subscription receives nothing more; a reachable feed answers a ping, which publishes
nothing. Publisher and subscriber use separate feed
objects, as the worker and API processes would (for the memory feed, one object: it
only works within one process)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from tests.conftest import RequireService
from videoplatform.adapters.memory.feed import MemoryVideoFeed
from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS
from videoplatform.application.ports.feed import ProcessingProgress, Subscription, VideoFeed
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import VideoStatus

WAIT = 2.0  # seconds; generous for a loaded machine, reached only when something fails
AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class FeedPair:
    def __init__(self, publisher: VideoFeed, subscriber: VideoFeed) -> None:
        self.publisher = publisher
        self.subscriber = subscriber


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("redis", marks=pytest.mark.integration, id="redis"),
    ]
)
def feeds(request: pytest.FixtureRequest) -> Iterator[FeedPair]:
    if request.param == "memory":
        memory = MemoryVideoFeed(buffer=8)
        yield FeedPair(memory, memory)
        return
    from videoplatform.adapters.redis.feed import RedisVideoFeed

    require: RequireService = request.getfixturevalue("require_service")
    endpoint = require("Redis", "127.0.0.1", 6379)
    url = f"redis://{endpoint.host}:{endpoint.port}/0"
    prefix = f"vp-test-{secrets.token_hex(4)}."
    publisher, subscriber = RedisVideoFeed(url, prefix), RedisVideoFeed(url, prefix)
    yield FeedPair(publisher, subscriber)
    publisher.close()
    subscriber.close()


def update(
    video: str, progress: int, status: VideoStatus = VideoStatus.PROCESSING
) -> ProcessingProgress:
    return ProcessingProgress(VideoId(video), status, progress, 1, None, AT)


def drain(
    subscription: Subscription, until: Callable[[ProcessingProgress], bool]
) -> list[ProcessingProgress]:
    got: list[ProcessingProgress] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        item = subscription.next(0.1)
        if item is not None:
            got.append(item)
            if until(item):
                break
    return got


def test_updates_published_after_subscribing_arrive_in_order(feeds: FeedPair) -> None:
    subscription = feeds.subscriber.subscribe(VideoId("v1"))
    try:
        sent = [update("v1", p) for p in (0, 5, 40)]
        sent.append(update("v1", 100, VideoStatus.READY))
        for item in sent:
            feeds.publisher.publish(item)
        assert drain(subscription, lambda u: u.status is VideoStatus.READY) == sent
    finally:
        subscription.close()


def test_an_update_carries_every_field(feeds: FeedPair) -> None:
    subscription = feeds.subscriber.subscribe(VideoId("v1"))
    try:
        failed = ProcessingProgress(VideoId("v1"), VideoStatus.FAILED, 37, 3, "déjà vu: no", AT)
        feeds.publisher.publish(failed)
        received = subscription.next(WAIT)
        assert received == failed
        assert received is not None
        assert received.at == AT
    finally:
        subscription.close()


def test_only_the_subscribers_of_that_video_receive_it(feeds: FeedPair) -> None:
    mine, again, other = (
        feeds.subscriber.subscribe(VideoId("v1")),
        feeds.subscriber.subscribe(VideoId("v1")),
        feeds.subscriber.subscribe(VideoId("v2")),
    )
    try:
        feeds.publisher.publish(update("v1", 10))
        assert mine.next(WAIT) == update("v1", 10)
        assert again.next(WAIT) == update("v1", 10)
        assert other.next(0.2) is None
    finally:
        for subscription in (mine, again, other):
            subscription.close()


def test_reading_waits_at_most_the_timeout(feeds: FeedPair) -> None:
    subscription = feeds.subscriber.subscribe(VideoId("quiet"))
    try:
        started = time.monotonic()
        assert subscription.next(0.3) is None
        waited = time.monotonic() - started
        assert 0.25 <= waited < 0.3 + WAIT
    finally:
        subscription.close()


def test_a_subscriber_that_falls_behind_still_gets_the_latest(feeds: FeedPair) -> None:
    subscription = feeds.subscriber.subscribe(VideoId("v1"))
    try:
        for percent in range(100):
            feeds.publisher.publish(update("v1", percent))
        feeds.publisher.publish(update("v1", 100, VideoStatus.READY))
        got = drain(subscription, lambda u: u.status is VideoStatus.READY)
        assert got[-1] == update("v1", 100, VideoStatus.READY)
        progress = [u.progress for u in got]
        assert progress == sorted(progress)  # what is kept stays in order
    finally:
        subscription.close()


def test_a_closed_subscription_receives_nothing_and_closes_twice(feeds: FeedPair) -> None:
    subscription = feeds.subscriber.subscribe(VideoId("v1"))
    subscription.close()
    feeds.publisher.publish(update("v1", 5))
    assert subscription.next(0.1) is None
    subscription.close()
    feeds.publisher.publish(update("v1", 6))  # nobody listens: harmless


def test_publishing_to_a_video_nobody_follows_is_harmless(feeds: FeedPair) -> None:
    feeds.publisher.publish(update("nobody-follows", 1))
    later = feeds.subscriber.subscribe(VideoId("nobody-follows"))
    try:
        assert later.next(0.2) is None  # a feed keeps no history
    finally:
        later.close()


def test_a_reachable_feed_answers_a_ping_and_publishes_nothing(feeds: FeedPair) -> None:
    subscription = feeds.subscriber.subscribe(VideoId("v1"))
    try:
        for feed in (feeds.publisher, feeds.subscriber):
            started = time.monotonic()
            feed.ping()  # answers: no Unavailable
            assert time.monotonic() - started < PING_TIMEOUT_SECONDS
        assert subscription.next(0.2) is None
        feeds.publisher.publish(update("v1", 7))  # the subscription still works
        assert subscription.next(WAIT) == update("v1", 7)
    finally:
        subscription.close()
