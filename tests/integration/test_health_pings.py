"""The pings of the real adapters through a TCP proxy: Redis (the feed) and RabbitMQ (the
queue) answer while they are reachable, and a ping says "unavailable" within a few
seconds, never hangs, when the service refuses connections (the proxy cut) or stops
answering (the proxy silenced); once the service is back, the next ping answers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import ServiceEndpoint
from tests.integration.tcp_proxy import TcpProxy
from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.adapters.redis.feed import RedisVideoFeed
from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS, Unavailable
from videoplatform.application.ports.queue import Job

# Connecting and one answer, each within the ping timeout, and some slack for a busy box.
WITHIN = 2 * PING_TIMEOUT_SECONDS + 1.5


def refused_within(ping: Callable[[], None], code: str) -> float:
    """Seconds ``ping`` took to raise ``Unavailable`` with ``code``."""
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        ping()
    took = time.monotonic() - started
    assert caught.value.code == code
    assert took < WITHIN, f"the ping took {took:.1f} s to give up"
    return took


@pytest.fixture
def redis_proxy(redis_service: ServiceEndpoint) -> Iterator[TcpProxy]:
    relay = TcpProxy((redis_service.host, redis_service.port))
    yield relay
    relay.close()


@pytest.fixture
def rabbitmq_proxy(rabbitmq_service: ServiceEndpoint) -> Iterator[TcpProxy]:
    relay = TcpProxy((rabbitmq_service.host, rabbitmq_service.port))
    yield relay
    relay.close()


@pytest.mark.parametrize("outage", ["cut", "silence"])
def test_the_redis_feed_ping_gives_up_quickly_and_answers_again_after(
    redis_proxy: TcpProxy, outage: str
) -> None:
    feed = RedisVideoFeed(f"redis://127.0.0.1:{redis_proxy.port}/0", "vp-test-ping.")
    try:
        feed.ping()
        getattr(redis_proxy, outage)()
        took = refused_within(feed.ping, "feed_unavailable")
        if outage == "silence":
            assert took >= PING_TIMEOUT_SECONDS * 0.9  # it did wait for an answer
        redis_proxy.restore()
        feed.ping()
    finally:
        feed.close()


@pytest.mark.parametrize("outage", ["cut", "silence"])
def test_the_rabbitmq_queue_ping_gives_up_quickly_and_answers_again_after(
    rabbitmq_proxy: TcpProxy, rabbitmq_service: ServiceEndpoint, outage: str
) -> None:
    prefix = f"vp-test-{secrets.token_hex(4)}."
    topology = Topology(
        url=f"amqp://guest:guest@127.0.0.1:{rabbitmq_proxy.port}/%2F", prefix=prefix
    )
    queue = RabbitJobQueue(topology, role="test")
    try:
        queue.ping()  # before the client ever connected: it stays unconnected
        queue.publish(Job("j1", "test", {}))
        queue.ping()  # beside the client's own connection
        # Closed before the outage: a connection that loses data to a silenced proxy
        # would only be noticed (and closing it would wait) long after.
        queue.close()
        getattr(rabbitmq_proxy, outage)()
        refused_within(queue.ping, "queue_unavailable")
        rabbitmq_proxy.restore()
        queue.ping()
    finally:
        queue.close()
        direct = f"amqp://guest:guest@{rabbitmq_service.host}:{rabbitmq_service.port}/%2F"
        admin = RabbitJobQueue(Topology(url=direct, prefix=prefix), role="test-teardown")
        admin.delete_queues()
        admin.close()
