"""The event channel on RabbitMQ: a topic exchange beside the job queues.

The relay publishes each committed event to ``{prefix}events`` with the event's name as
routing key. Each subscription has its own queue bound to it by the names it wants
(``{prefix}events.{subscription}``, with its own retry and dead-letter queues, single
active consumer); a per-node subscription's queue carries the node's name and goes away
with the node. The publisher declares the shared subscriptions' queues when it connects,
so events committed before any consumer started wait in them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

import attrs
from pika.adapters.blocking_connection import BlockingChannel

from videoplatform.adapters.rabbitmq.queue import (
    PUBLISHER_HEARTBEAT_SECONDS,
    RabbitJobQueue,
    declare_queues,
)
from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.application.events.codec import event_name
from videoplatform.application.ports.queue import Job, Subscription


def node_name() -> str:
    """This process, as a node: host and process id."""
    return f"{socket.gethostname()}.{os.getpid()}"


class RabbitEventPublisher(RabbitJobQueue):
    """Publishes events to the exchange (an event no queue is bound for is dropped:
    nobody subscribed to it), after declaring the shared subscriptions' queues."""

    def __init__(self, exchange: Topology, subscriptions: Sequence[Topology]) -> None:
        super().__init__(exchange, role="event publisher", heartbeat=PUBLISHER_HEARTBEAT_SECONDS)
        self._subscriptions = tuple(subscriptions)

    def _declare_topology(self, channel: BlockingChannel) -> None:
        channel.exchange_declare(self.topology.exchange, "topic", durable=True)
        for topology in self._subscriptions:
            declare_queues(channel, topology)

    def _target(self, job: Job) -> tuple[str, str, bool]:
        return self.topology.exchange, event_name(job.kind), False


class RabbitEventChannel:
    def __init__(
        self, base: Topology, subscriptions: Sequence[Subscription] = (), node: str = ""
    ) -> None:
        self._base = base
        self._node = node or node_name()
        self.exchange = f"{base.prefix}events"
        shared = [self.topology_for(s) for s in subscriptions if not s.per_node]
        self._publisher = RabbitEventPublisher(
            attrs.evolve(base, name="events", exchange=self.exchange), shared
        )

    def topology_for(self, subscription: Subscription) -> Topology:
        name = f"events.{subscription.name}"
        if subscription.per_node:
            name = f"{name}.{self._node}"
        return attrs.evolve(
            self._base,
            name=name,
            exchange=self.exchange,
            routing_keys=subscription.events,
            single_active=True,
            per_node=subscription.per_node,
        )

    def publish(self, job: Job) -> None:
        self._publisher.publish(job)

    def subscribe(self, subscription: Subscription) -> RabbitJobQueue:
        return RabbitJobQueue(self.topology_for(subscription), role=f"events {subscription.name}")

    def delete_exchange(self) -> None:
        """Remove the exchange (tests; tearing down a prefix)."""
        self._publisher.delete_exchange()

    def delete_queues(self, subscriptions: Sequence[Subscription]) -> None:
        """Remove the queues of ``subscriptions`` (this node's, for per-node ones) and the
        exchange (tests; tearing down a prefix)."""
        clients = [self.subscribe(subscription) for subscription in subscriptions]
        try:
            for client in clients:
                client.delete_queues()
            # Last: the queues bound to it are gone.
            (clients[-1] if clients else self._publisher).delete_exchange()
        finally:
            for client in clients:
                client.close()

    def close(self) -> None:
        self._publisher.close()
