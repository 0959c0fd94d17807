"""A job-queue client on one pika ``BlockingConnection``.

pika's blocking connection is not thread-safe: every method here takes the client's
lock, and each consumer thread takes its own client (:meth:`RabbitJobQueue.client`).

Heartbeats are off: a blocking connection answers them only while it is called, and a
consumer runs one job (minutes of transcoding) between calls, so the broker would close
a healthy connection in the middle of a job and redeliver it. A dead peer is found by TCP
keepalive instead, a killed process by its socket closing, and a stuck consumer by the
broker's consumer timeout (see :mod:`videoplatform.adapters.rabbitmq.topology`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
from collections import deque
from typing import Any

import pika
import structlog
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import (
    AMQPConnectorException,
    AMQPConnectorStackTimeout,
)
from pika.exceptions import AMQPError, ChannelClosedByBroker, NackError, UnroutableError
from pika.spec import Basic, BasicProperties

from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS, Unavailable
from videoplatform.application.ports.queue import (
    Delivery,
    Job,
    PublishFailed,
    QueueDepth,
    retry_delay,
)

log = structlog.get_logger(__name__)

ATTEMPT_HEADER = "x-attempt"
TRACE_HEADERS = ("traceparent", "tracestate")
"""A job's trace context travels in these headers (W3C Trace Context), where an
instrumented client would look for it too."""
_names = itertools.count(1)
# TCP keepalive finds a peer that vanished without closing the connection.
_KEEPALIVE = {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 6}
# Sends one publish tries (reconnecting between them) before it reports the job
# unconfirmed and leaves it to the caller (the outbox relay retries later).
BROKEN = (AMQPError, AMQPConnectorException)
"""What pika raises when the broker cannot be reached or used (connecting through a
broker that never answers the handshake raises the second, outside AMQPError)."""
PUBLISH_TRIES = 3
PUBLISHER_HEARTBEAT_SECONDS = 5
"""A publisher's heartbeat: a broker that stops answering (alive to TCP, silent) breaks
the connection within two checks of about this plus 5 s, instead of never."""
PUBLISHER_CONNECT_SECONDS = 5
"""How long a publisher's connection may take to open (TCP and the AMQP handshake)."""

PRECONDITION_FAILED = 406


class QueueMisconfigured(RuntimeError):
    """The broker holds these queues with other arguments (max deliveries, consumer
    timeout...) than this client's settings: change the settings or the prefix, or
    delete the queues."""


Message = tuple[Basic.Deliver, BasicProperties, bytes]


def encode(job: Job) -> bytes:
    return json.dumps({"id": job.id, "kind": job.kind, "payload": dict(job.payload)}).encode()


def decode(body: bytes, properties: BasicProperties) -> Job:
    """The job in a message; ValueError when the message is not one."""
    data = json.loads(body)
    payload = data["payload"]
    if not (
        isinstance(data, dict)
        and isinstance(data.get("id"), str)
        and isinstance(data.get("kind"), str)
        and isinstance(payload, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in payload.items())
    ):
        raise ValueError("not a job")
    headers: dict[str, Any] = properties.headers or {}
    # A retry carries its attempt; each return of this message to the queue (a consumer
    # that went away holding it) is counted by the quorum queue.
    attempt = int(headers.get(ATTEMPT_HEADER, 1)) + int(headers.get("x-delivery-count", 0))
    trace = {k: v for k in TRACE_HEADERS if isinstance(v := headers.get(k), str)}
    return Job(id=data["id"], kind=data["kind"], payload=payload, attempt=attempt, trace=trace)


def _send(
    channel: BlockingChannel,
    queue: str,
    job: Job,
    *,
    attempt: int,
    exchange: str = "",
    mandatory: bool = True,
) -> None:
    """Publish a persistent message and wait for the broker's confirm (the channel is in
    confirm mode); ``mandatory`` makes a message no queue took an error too. ``queue``
    is the routing key when ``exchange`` is not the default one."""
    properties = BasicProperties(
        delivery_mode=pika.DeliveryMode.Persistent,
        content_type="application/json",
        message_id=job.id,
        type=job.kind,
        headers={
            **{k: v for k, v in job.trace.items() if k in TRACE_HEADERS},
            ATTEMPT_HEADER: attempt,
        },
    )
    channel.basic_publish(exchange, queue, encode(job), properties, mandatory=mandatory)


def declare_queues(channel: BlockingChannel, topology: Topology) -> None:
    """Declare ``topology``'s dead-letter queue and queue, and bind the queue to its
    exchange by each routing key."""
    durable = not topology.per_node
    channel.queue_declare(topology.dead, durable=durable, arguments=topology.dead_arguments())
    channel.queue_declare(topology.jobs, durable=durable, arguments=topology.jobs_arguments())
    if topology.exchange:
        channel.exchange_declare(topology.exchange, "topic", durable=True)
        for key in topology.routing_keys:
            channel.queue_bind(topology.jobs, topology.exchange, key)


class RabbitJobQueue:
    """One client: connects on first use (nothing at construction), reconnects with
    backoff when the broker goes away. Deliveries held when a connection is lost are
    already back in the queue; settling them afterwards does nothing."""

    def __init__(self, topology: Topology, *, role: str = "client", heartbeat: int = 0) -> None:
        self.topology = topology
        self._heartbeat = heartbeat
        self.connection_name = f"videoplatform {role} pid {os.getpid()} #{next(_names)}"
        self._role = role
        self._lock = threading.RLock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._consuming = False
        self._buffer: deque[Message] = deque()
        self._held: dict[int, tuple[int, int]] = {}  # our tag -> (connection, broker tag)
        self._generation = 0
        self._tags = itertools.count(1)
        self._failures = 0
        self._retry_at = 0.0
        self._declared: set[str] = set()

    def client(self, role: str = "consumer") -> RabbitJobQueue:
        return RabbitJobQueue(self.topology, role=role)

    # -- connection ---------------------------------------------------------------------

    def _open(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._drop()
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        parameters = pika.URLParameters(self.topology.url)
        # Consumers hold their thread for a whole job, away from pika: no heartbeats
        # (TCP keepalive finds a vanished broker). A publisher waits in pika for each
        # confirm: heartbeats bound that wait when the broker stops answering.
        parameters.heartbeat = self._heartbeat
        if self._heartbeat:
            # Connecting is bounded too: a broker that accepts the connection and then
            # says nothing is given up on within this.
            parameters.stack_timeout = PUBLISHER_CONNECT_SECONDS
        parameters.tcp_options = _KEEPALIVE
        parameters.blocked_connection_timeout = 60
        parameters.client_properties = {"connection_name": self.connection_name}
        connection = pika.BlockingConnection(parameters)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=1)
            self._declared.clear()
            self._declare_topology(channel)
        except ChannelClosedByBroker as refused:
            connection.close()
            if refused.reply_code == PRECONDITION_FAILED:
                # Not an outage that reconnecting cures: say what to change.
                raise QueueMisconfigured(
                    f"the broker's queues under prefix {self.topology.prefix!r} were declared "
                    f"with other settings: {refused.reply_text}"
                ) from None
            raise
        except BaseException:
            connection.close()
            raise
        self._connection, self._channel = connection, channel
        self._generation += 1
        if self._failures:
            log.info("queue_reconnected", connection=self.connection_name)
        self._failures = 0
        self._retry_at = 0.0
        return channel

    def _declare_topology(self, channel: BlockingChannel) -> None:
        """What this client needs on the broker: its queue and dead letters (bound to
        its exchange, if any)."""
        declare_queues(channel, self.topology)

    def _declare(self, channel: BlockingChannel, name: str, arguments: dict[str, Any]) -> None:
        if name not in self._declared or self.topology.per_node:
            # (A per-node queue's retry queue expires unused: declaring it again renews it.)
            channel.queue_declare(name, durable=not self.topology.per_node, arguments=arguments)
            self._declared.add(name)

    def _target(self, job: Job) -> tuple[str, str, bool]:
        """Where ``publish`` sends ``job``: exchange, routing key, mandatory."""
        return "", self.topology.jobs, True

    def _lost(self, error: BaseException) -> None:
        """Forget a broken connection; the next use reconnects after a backoff."""
        self._failures += 1
        delay = retry_delay(
            self._failures,
            base=self.topology.reconnect_base_seconds,
            cap=self.topology.reconnect_cap_seconds,
        )
        self._retry_at = time.monotonic() + delay
        log.warning(
            "queue_connection_lost",
            connection=self.connection_name,
            error=repr(error),
            retry_in=delay,
        )
        self._drop()

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._consuming = False
        self._buffer.clear()
        self._held.clear()
        if connection is not None and connection.is_open:
            # Already broken, perhaps: the broker puts its deliveries back either way.
            with contextlib.suppress(AMQPError):
                connection.close()

    # -- publishing ---------------------------------------------------------------------

    def _idle_check(self) -> None:
        """With heartbeats, a connection left idle (nothing published for a while) may
        have been closed by the broker: find out before sending, and connect again at
        once rather than count a failure."""
        connection = self._connection
        if not self._heartbeat or connection is None or not connection.is_open:
            return
        try:
            connection.process_data_events(0)  # reads a close, sends a due heartbeat
        except AMQPError:
            self._drop()

    def publish(self, job: Job) -> None:
        with self._lock:
            self._idle_check()
            for attempt in range(1, PUBLISH_TRIES + 1):
                try:
                    exchange, key, mandatory = self._target(job)
                    channel = self._open()
                    _send(
                        channel,
                        key,
                        job,
                        attempt=job.attempt,
                        exchange=exchange,
                        mandatory=mandatory,
                    )
                    return
                except UnroutableError:
                    raise PublishFailed(f"no queue took job {job.id}") from None
                except NackError as refused:
                    # The queue could not take it now (a quorum queue still electing
                    # its leader, say); nothing was stored, so sending again is safe.
                    failure: BaseException = refused
                    time.sleep(0.05 * attempt)
                except BROKEN as error:
                    failure = error
                    self._lost(error)
            raise PublishFailed(f"job {job.id} not confirmed by the broker: {failure!r}")

    # -- consuming ----------------------------------------------------------------------

    def _on_message(
        self, _: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes
    ) -> None:
        self._buffer.append((method, properties, body))

    def receive(self, timeout: float) -> Delivery | None:
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._lock:
            while True:
                left = deadline - time.monotonic()
                if self._held:  # prefetch 1: nothing more until this one is settled
                    if left > 0:
                        self._wait(left)
                    return None
                try:
                    channel = self._open()
                    if not self._consuming:
                        channel.basic_consume(self.topology.jobs, self._on_message)
                        self._consuming = True
                    delivery = self._next_from_buffer(channel)
                    if delivery is not None:
                        return delivery
                    if left <= 0:
                        return None
                    channel.connection.process_data_events(time_limit=min(left, 1.0))
                except BROKEN as error:
                    self._lost(error)
                    if deadline - time.monotonic() <= 0:
                        return None
                    time.sleep(min(max(deadline - time.monotonic(), 0.0), self._backoff_left()))

    def _backoff_left(self) -> float:
        return max(self._retry_at - time.monotonic(), 0.0)

    def _wait(self, seconds: float) -> None:
        try:
            if self._connection is not None and self._connection.is_open:
                self._connection.process_data_events(time_limit=seconds)
                return
        except AMQPError as error:
            self._lost(error)
        time.sleep(seconds)

    def _next_from_buffer(self, channel: BlockingChannel) -> Delivery | None:
        while self._buffer:
            method, properties, body = self._buffer.popleft()
            try:
                job = decode(body, properties)
            except (ValueError, KeyError, TypeError, RecursionError) as error:
                log.error("queue_message_malformed", error=repr(error))
                channel.basic_reject(method.delivery_tag, requeue=False)
                continue
            tag = next(self._tags)
            self._held[tag] = (self._generation, method.delivery_tag)
            return Delivery(job, tag)
        return None

    def _take(self, delivery: Delivery) -> tuple[BlockingChannel, int] | None:
        """The channel and broker tag of a delivery this client holds on its live
        connection; None for any other delivery."""
        held = self._held.pop(delivery.tag, None)
        if held is None or held[0] != self._generation or self._channel is None:
            return None
        return self._channel, held[1]

    def ack(self, delivery: Delivery) -> None:
        with self._lock:
            taken = self._take(delivery)
            if taken is None:
                return
            channel, broker_tag = taken
            try:
                channel.basic_ack(broker_tag)
            except AMQPError as error:
                self._lost(error)  # the job comes back; its handler must be idempotent

    def nack(self, delivery: Delivery, *, requeue: bool, charge: bool = True) -> None:
        with self._lock:
            taken = self._take(delivery)
            if taken is None:
                return
            channel, broker_tag = taken
            job = delivery.job
            try:
                if requeue and (not charge or job.attempt < self.topology.max_deliveries):
                    self._retry_later(channel, job, charge=charge)
                    channel.basic_ack(broker_tag)
                else:
                    # Dead-lettered by the broker, atomically, into the dead queue.
                    channel.basic_reject(broker_tag, requeue=False)
            except (AMQPError, PublishFailed) as error:
                self._lost(error)  # unsettled: the broker returns the job itself

    def _retry_later(self, channel: BlockingChannel, job: Job, *, charge: bool = True) -> None:
        """A copy with the next attempt (uncharged: the same, after the first backoff)
        waits in the delay queue for its backoff, then dead-letters back into the jobs
        queue; only then is the original acked."""
        delay_ms = self.topology.retry_delay_ms(job.attempt if charge else 1)
        if delay_ms <= 0:
            queue = self.topology.jobs
        else:
            queue = self.topology.retry(delay_ms)
            self._declare(channel, queue, self.topology.retry_arguments(delay_ms))
        try:
            _send(channel, queue, job, attempt=job.attempt + 1 if charge else job.attempt)
        except (UnroutableError, NackError) as refused:
            raise PublishFailed(f"retry of job {job.id} refused: {refused!r}") from None

    # -- inspection and shutdown --------------------------------------------------------

    def ping(self) -> None:
        """Open a connection of its own (the broker's whole handshake: TCP, TLS where
        the URL asks for it, AMQP login and virtual host), then close it. The client's
        own connection, and its lock, which a publish holds while it waits for the
        broker, are left alone; connecting, and the whole handshake, are each bounded
        by ``PING_TIMEOUT_SECONDS``."""
        connection = self._probe("health check")
        with contextlib.suppress(AMQPError, OSError):
            connection.close()

    def depth(self) -> QueueDepth:
        """Each queue's message count, from a passive declare on a connection of its
        own (as :meth:`ping`'s, every step bounded); a queue not declared yet holds
        nothing."""
        topology = self.topology
        counts: dict[str, int] = {}
        connection = self._probe("queue depth")
        try:
            channel = connection.channel()
            for name in topology.queue_names():
                try:
                    counts[name] = channel.queue_declare(name, passive=True).method.message_count
                except ChannelClosedByBroker:  # 404: not declared yet
                    counts[name] = 0
                    channel = connection.channel()
        except (AMQPError, OSError) as error:
            raise Unavailable("queue", f"RabbitMQ did not answer: {_why(error)}") from None
        finally:
            with contextlib.suppress(AMQPError, OSError):
                connection.close()
        ready, dead = counts.pop(topology.jobs), counts.pop(topology.dead)
        return QueueDepth(ready=ready, retrying=sum(counts.values()), dead=dead)

    def _probe(self, purpose: str) -> pika.BlockingConnection:
        """A short connection of this client's own, every step bounded by
        ``PING_TIMEOUT_SECONDS``; ``Unavailable`` when the broker does not answer."""
        parameters = pika.URLParameters(self.topology.url)
        parameters.heartbeat = 0
        parameters.connection_attempts = 1
        parameters.socket_timeout = PING_TIMEOUT_SECONDS
        parameters.stack_timeout = PING_TIMEOUT_SECONDS
        parameters.blocked_connection_timeout = PING_TIMEOUT_SECONDS
        parameters.client_properties = {
            "connection_name": f"videoplatform {purpose} pid {os.getpid()}"
        }
        try:
            return pika.BlockingConnection(parameters)
        except Exception as error:  # pika raises its connectors' errors as they are, too
            raise Unavailable("queue", f"RabbitMQ did not answer: {_why(error)}") from None

    def dead_letters(self) -> list[Job]:
        """Read without removing: every dead letter is fetched unacknowledged on a
        channel of its own, which closing hands back in order."""
        with self._lock:
            channel = self._open().connection.channel()
            jobs: list[Job] = []
            try:
                while True:
                    method, properties, body = channel.basic_get(self.topology.dead)
                    if method is None:
                        break
                    try:
                        job = decode(body, properties)
                    except (ValueError, KeyError, TypeError, RecursionError):
                        continue
                    jobs.append(Job(job.id, job.kind, job.payload))
            finally:
                channel.close()
            return jobs

    def delete_queues(self) -> None:
        """Remove this queue's broker queues (tests; tearing down a prefix).

        On a probe connection, which declares nothing: opening a client declares its
        queues, and a quorum queue with at-least-once dead-lettering deleted within
        milliseconds of being declared can crash its dead-letter worker on the broker
        (RabbitMQ restarts it, it crashes again); the supervisor of every such worker
        then gives up, and from then on the broker answers each new queue of that kind
        with INTERNAL_ERROR until it is restarted. Deleting a queue that does not exist
        is not an error."""
        with self._lock:
            connection = self._probe("teardown")
            try:
                channel = connection.channel()
                for name in self.topology.queue_names():
                    channel.queue_delete(name)
            finally:
                with contextlib.suppress(AMQPError, OSError):
                    connection.close()
            self._declared.clear()

    def delete_exchange(self) -> None:
        """Remove the exchange this client's queue is bound to (tests; tearing down), on
        a probe connection (see :meth:`delete_queues`)."""
        if not self.topology.exchange:
            return
        with self._lock:
            connection = self._probe("teardown")
            try:
                connection.channel().exchange_delete(self.topology.exchange)
            finally:
                with contextlib.suppress(AMQPError, OSError):
                    connection.close()

    def close(self) -> None:
        with self._lock:
            self._drop()
            self._generation += 1


def _why(error: Exception) -> str:
    """Why a connection could not be opened, in a line (pika's own texts nest reprs)."""
    if isinstance(error, AMQPConnectorStackTimeout):
        return f"no AMQP handshake within {PING_TIMEOUT_SECONDS:g} s"
    text = " ".join(str(error).split())
    if len(text) > 120:
        text = text[:119] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
