"""The job system on a real RabbitMQ broker: reconnection after the broker drops a
connection, the outbox relay while the broker is unreachable, retries ending in the
dead letters, and a consumer killed in the middle of a job.

The shared broker is never stopped: a test closes only its own connections (by name,
through rabbitmqctl) or cuts a TCP relay that stands between its client and the broker.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pika
import pytest

from tests.conftest import ServiceEndpoint
from tests.integration.tcp_proxy import TcpProxy
from videoplatform.adapters.memory.events import MemoryEventChannel
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.adapters.rabbitmq.queue import (
    PUBLISHER_HEARTBEAT_SECONDS,
    QueueMisconfigured,
    RabbitJobQueue,
)
from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.application.jobs import JobConsumer, RetryPolicy
from videoplatform.application.ports.persistence import OutboxMessage
from videoplatform.application.ports.queue import Job, PublishFailed
from videoplatform.application.relay import OutboxRelay, RelayPolicy
from videoplatform.entrypoints.resilience import Breakers, GuardedJobQueue

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def topology(rabbitmq_service: ServiceEndpoint) -> Iterator[Topology]:
    chosen = Topology(
        url=f"amqp://guest:guest@{rabbitmq_service.host}:{rabbitmq_service.port}/%2F",
        prefix=f"vp-test-{secrets.token_hex(4)}.",
        max_deliveries=4,
        retry_base_seconds=0.1,
        reconnect_base_seconds=0.05,
    )
    yield chosen
    admin = RabbitJobQueue(chosen, role="teardown")
    admin.delete_queues()
    admin.close()


def close_from_the_broker(queue: RabbitJobQueue) -> None:
    """Have the broker close this client's connection (and no one else's)."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("rabbitmqctl is needed to close a connection from the broker side")
    listed = subprocess.run(
        [ctl, "-q", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    # One line per connection: its pid (in the form close_connection takes), a tab, and
    # the client properties, which include the connection name the client gave.
    pids = [
        line.split("\t", 1)[0]
        for line in listed.stdout.splitlines()
        if f'"{queue.connection_name}"' in line
    ]
    assert len(pids) == 1, f"connection {queue.connection_name!r} not found once: {pids}"
    subprocess.run(
        [ctl, "-q", "close_connection", pids[0], "closed by a test"], check=True, timeout=60
    )


def test_publishing_and_consuming_resume_after_the_broker_closes_the_connection(
    topology: Topology,
) -> None:
    publisher = RabbitJobQueue(topology, role="publisher")
    consumer = RabbitJobQueue(topology, role="consumer")
    try:
        publisher.publish(Job("a", "k", {}))
        held = consumer.receive(5)
        assert held is not None and held.job.id == "a"

        close_from_the_broker(publisher)
        close_from_the_broker(consumer)

        publisher.publish(Job("b", "k", {}))  # reconnects, and is confirmed
        consumer.ack(held)  # its connection is gone: the broker put "a" back already
        got = []
        for _ in range(2):
            delivery = consumer.receive(10)
            assert delivery is not None, "consuming did not resume"
            got.append((delivery.job.id, delivery.job.attempt))
            consumer.ack(delivery)
        assert sorted(got) == [("a", 2), ("b", 1)]
        assert consumer.receive(0.2) is None
    finally:
        publisher.close()
        consumer.close()


def test_the_relay_keeps_messages_while_the_broker_is_unreachable_and_sends_them_after(
    topology: Topology, rabbitmq_service: ServiceEndpoint
) -> None:
    proxy = TcpProxy((rabbitmq_service.host, rabbitmq_service.port))
    through_proxy = Topology(
        url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F",
        prefix=topology.prefix,
        max_deliveries=topology.max_deliveries,
        retry_base_seconds=topology.retry_base_seconds,
        reconnect_base_seconds=0.05,
        reconnect_cap_seconds=0.2,
    )
    uow, clock = MemoryUnitOfWorkFactory(), ManualClock()
    publisher = RabbitJobQueue(through_proxy, role="relay")
    relay = OutboxRelay(
        uow, publisher, MemoryEventChannel(), clock, RelayPolicy(retry_base=timedelta(seconds=1))
    )
    consumer = RabbitJobQueue(topology, role="consumer")
    try:
        publisher.publish(Job("warm-up", "k", {}))  # declares the queues, connects
        proxy.cut()
        with uow() as unit:
            for n in range(5):
                unit.outbox.add(OutboxMessage(f"m{n}", "k", {"n": str(n)}, clock.now()))
            unit.commit()
        assert relay.relay_once() == 0
        with uow() as unit:
            assert [m.id for m in unit.outbox.pending(10)] == [f"m{n}" for n in range(5)]
        with pytest.raises(PublishFailed):
            publisher.publish(Job("direct", "k", {}))

        proxy.restore()
        clock.advance(timedelta(seconds=1))
        assert relay.relay_once() == 5
        with uow() as unit:
            assert unit.outbox.pending(10) == []
        received = []
        while (delivery := consumer.receive(2)) is not None:
            received.append(delivery.job.id)
            consumer.ack(delivery)
        assert received == ["warm-up", *(f"m{n}" for n in range(5))]
    finally:
        publisher.close()
        consumer.close()
        proxy.close()


def test_a_job_failing_every_time_ends_in_the_dead_letters_and_calls_the_hook(
    topology: Topology,
) -> None:
    calls: list[int] = []
    dead: list[tuple[str, str]] = []

    def always_fails(job: Job) -> None:
        calls.append(job.attempt)
        raise RuntimeError("transcoder crashed")

    publisher = RabbitJobQueue(topology, role="publisher")
    consumer = JobConsumer(
        RabbitJobQueue(topology, role="consumer"),
        {"k": always_fails},
        RetryPolicy(max_attempts=3),
        lambda job, reason: dead.append((job.id, reason)),
    )
    try:
        publisher.publish(Job("doomed", "k", {}))
        deadline = time.monotonic() + 20
        while not dead and time.monotonic() < deadline:
            consumer.run_once(0.5)
        assert calls == [1, 2, 3]
        assert dead == [("doomed", "failed 3 times; last error RuntimeError: transcoder crashed")]
        deadline = time.monotonic() + 5
        while not publisher.dead_letters() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [j.id for j in publisher.dead_letters()] == ["doomed"]
    finally:
        publisher.close()
        consumer.stop.set()
        consumer.run(poll_seconds=0.01)  # closes its client


def test_a_job_whose_consumer_is_killed_mid_job_is_handled_by_another_once(
    topology: Topology, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    publisher = RabbitJobQueue(topology, role="publisher")
    publisher.publish(Job("long", "slow", {}))
    # The installed package, and the repository root for the tests' own modules.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    doomed = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.slow_consumer",
            topology.url,
            topology.prefix,
            str(topology.max_deliveries),
            str(marker),
        ],
        cwd=ROOT,
        env=env,
    )
    survivor = RabbitJobQueue(topology, role="survivor")
    finished: dict[str, int] = {}

    def handle(job: Job) -> None:
        finished[job.id] = finished.get(job.id, 0) + 1

    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.read_text().split() == ["started", "long", "1"]
        # Held by the doomed consumer: nobody else gets it meanwhile.
        assert survivor.receive(0.5) is None
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        assert JobConsumer(survivor, {"slow": handle}).run_once(10)
        assert finished == {"long": 1}
        assert survivor.receive(0.5) is None
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(10)
        survivor.close()
        publisher.close()


def test_queues_declared_with_other_settings_are_a_clear_error(topology: Topology) -> None:
    first = RabbitJobQueue(topology)
    other = RabbitJobQueue(attrs.evolve(topology, max_deliveries=topology.max_deliveries + 1))
    try:
        first.publish(Job("a", "k", {}))
        with pytest.raises(QueueMisconfigured, match="declared with other settings"):
            other.publish(Job("b", "k", {}))
    finally:
        first.close()
        other.close()


def test_a_message_that_is_no_job_is_dropped_and_the_next_job_still_comes(
    topology: Topology,
) -> None:
    queue = RabbitJobQueue(topology)
    try:
        queue.publish(Job("first", "bench", {}))  # declares the queues
        first = queue.receive(timeout=10)
        assert first is not None
        queue.ack(first)
        connection = pika.BlockingConnection(pika.URLParameters(topology.url))
        try:
            channel = connection.channel()
            for body in (b"[" * 200_000, b"not json", b'{"id": 1}', b"[]"):
                channel.basic_publish("", topology.jobs, body)
        finally:
            connection.close()
        queue.publish(Job("second", "bench", {}))
        delivered = queue.receive(timeout=10)
        assert delivered is not None and delivered.job.id == "second"
        queue.ack(delivered)
    finally:
        queue.close()


def test_a_broker_that_stops_answering_fails_a_publish_in_bounded_time_then_at_once(
    topology: Topology, rabbitmq_service: ServiceEndpoint
) -> None:
    """Alive to TCP but silent (the proxy acknowledges and forwards nothing): the
    publisher's heartbeat and connect timeout end the wait, which had no end; then its
    circuit breaker stops asking."""
    proxy = TcpProxy((rabbitmq_service.host, rabbitmq_service.port))
    through_proxy = attrs.evolve(
        topology, url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F", reconnect_cap_seconds=1
    )
    breakers = Breakers(failures=1, reset_seconds=60)
    publisher = GuardedJobQueue(
        RabbitJobQueue(through_proxy, role="relay", heartbeat=PUBLISHER_HEARTBEAT_SECONDS),
        breakers,
    )
    try:
        publisher.publish(Job("warm-up", "k", {}))  # connects, declares the queues
        proxy.silence()
        started = time.monotonic()
        with pytest.raises(PublishFailed, match="not confirmed"):
            publisher.publish(Job("lost", "k", {}))
        assert time.monotonic() - started < 45
        assert breakers.state("queue") == "open"
        started = time.monotonic()
        with pytest.raises(PublishFailed, match="not tried"):
            publisher.publish(Job("kept", "k", {}))  # stays in the outbox
        assert time.monotonic() - started < 0.1
    finally:
        publisher.close()
        proxy.close()
