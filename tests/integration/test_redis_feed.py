"""The Redis video feed through an outage: publishing never raises nor stalls the job
(its circuit breaker stops trying),
and a subscription whose connection broke subscribes again by itself and receives
what is published after Redis is back."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.conftest import ServiceEndpoint
from tests.integration.tcp_proxy import TcpProxy
from videoplatform.adapters.redis.feed import RedisVideoFeed
from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.feed import ProcessingProgress
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import VideoStatus
from videoplatform.entrypoints.resilience import Breakers, GuardedFeed

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def update(progress: int) -> ProcessingProgress:
    return ProcessingProgress(VideoId("v1"), VideoStatus.PROCESSING, progress, 1, None, AT)


@pytest.fixture
def proxy(redis_service: ServiceEndpoint) -> Iterator[TcpProxy]:
    relay = TcpProxy((redis_service.host, redis_service.port))
    yield relay
    relay.close()


@pytest.fixture
def prefix() -> str:
    return f"vp-test-{secrets.token_hex(4)}."


def test_publishing_while_redis_is_unreachable_neither_raises_nor_stalls(
    proxy: TcpProxy, prefix: str
) -> None:
    redis_feed = RedisVideoFeed(f"redis://127.0.0.1:{proxy.port}/0", prefix)
    breakers = Breakers(failures=3, reset_seconds=60)
    feed = GuardedFeed(redis_feed, breakers)
    try:
        proxy.cut()
        started = time.monotonic()
        for percent in range(20):
            feed.publish(update(percent))  # logged and dropped
        # Three failed attempts open the circuit: not twenty connection timeouts.
        assert breakers.state("feed") == "open"
        assert time.monotonic() - started < 5
        with pytest.raises(Unavailable, match="not tried"):
            feed.ping()  # reported down without asking Redis
        proxy.restore()
        redis_feed.ping()  # Redis itself is back
    finally:
        redis_feed.close()


def test_a_subscription_resubscribes_after_its_connection_broke(
    proxy: TcpProxy, redis_service: ServiceEndpoint, prefix: str
) -> None:
    direct = RedisVideoFeed(f"redis://{redis_service.host}:{redis_service.port}/0", prefix)
    through_proxy = RedisVideoFeed(f"redis://127.0.0.1:{proxy.port}/0", prefix)
    subscription = through_proxy.subscribe(VideoId("v1"))
    try:
        direct.publish(update(1))
        assert subscription.next(2) == update(1)
        proxy.cut()
        assert subscription.next(0.5) is None  # the connection broke: nothing, no error
        proxy.restore()
        received = None
        deadline = time.monotonic() + 15
        while received is None and time.monotonic() < deadline:
            direct.publish(update(2))  # until the subscription is back
            received = subscription.next(0.5)
        assert received == update(2)
    finally:
        subscription.close()
        direct.close()
        through_proxy.close()


def test_a_subscription_made_while_redis_is_down_connects_later(
    proxy: TcpProxy, redis_service: ServiceEndpoint, prefix: str
) -> None:
    direct = RedisVideoFeed(f"redis://{redis_service.host}:{redis_service.port}/0", prefix)
    through_proxy = RedisVideoFeed(f"redis://127.0.0.1:{proxy.port}/0", prefix)
    proxy.cut()
    subscription = through_proxy.subscribe(VideoId("v1"))  # does not raise
    try:
        assert subscription.next(0.3) is None
        proxy.restore()
        received = None
        deadline = time.monotonic() + 15
        while received is None and time.monotonic() < deadline:
            direct.publish(update(3))
            received = subscription.next(0.5)
        assert received == update(3)
    finally:
        subscription.close()
        direct.close()
        through_proxy.close()
