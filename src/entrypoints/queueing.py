"""Choosing the job queue and the event channel from settings.

``memory://`` is the in-process queue of the embedded profile; ``amqp://`` (or
``amqps://``) is RabbitMQ. Nothing connects here: a RabbitMQ client connects on its
first publish or receive, so an API process that never publishes never connects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from videoplatform.adapters.memory.events import MemoryEventChannel
from videoplatform.adapters.memory.queue import MemoryJobQueue
from videoplatform.application.ports.queue import (
    EventChannel,
    JobQueue,
    JobQueueClients,
    Subscription,
)
from videoplatform.entrypoints.settings import ConfigurationError, Settings, require_extra
from videoplatform.entrypoints.wiring import Closer

if TYPE_CHECKING:
    from videoplatform.adapters.rabbitmq.topology import Topology


def open_queue(settings: Settings, closers: list[Closer]) -> tuple[JobQueue, JobQueueClients]:
    """The queue client the platform publishes with, and a factory of further clients
    (one per consumer thread)."""
    url = settings.queue_url
    scheme = url.split(":", 1)[0]
    if scheme == "memory":
        memory = MemoryJobQueue(
            retry_base=settings.job_retry_base_seconds,
            retry_cap=settings.job_retry_cap_seconds,
            max_deliveries=_max_deliveries(settings),
        )
        return memory, memory.client
    if scheme in ("amqp", "amqps"):
        topology = _topology(settings)
        from videoplatform.adapters.rabbitmq.queue import (
            PUBLISHER_HEARTBEAT_SECONDS,
            RabbitJobQueue,
        )

        publisher = RabbitJobQueue(
            topology, role="publisher", heartbeat=PUBLISHER_HEARTBEAT_SECONDS
        )
        closers.append(publisher.close)
        return publisher, publisher.client
    raise _unknown(url)


def open_event_channel(
    settings: Settings, shared: Sequence[Subscription], closers: list[Closer]
) -> EventChannel:
    """The channel the relay publishes committed events to, with the queues of the
    ``shared`` subscriptions (per-node ones are made by the node that subscribes)."""
    url = settings.queue_url
    scheme = url.split(":", 1)[0]
    if scheme == "memory":
        return MemoryEventChannel(
            shared,
            retry_base=settings.job_retry_base_seconds,
            retry_cap=settings.job_retry_cap_seconds,
            max_deliveries=_max_deliveries(settings),
        )
    if scheme in ("amqp", "amqps"):
        topology = _topology(settings)
        from videoplatform.adapters.rabbitmq.events import RabbitEventChannel

        channel = RabbitEventChannel(topology, shared)
        closers.append(channel.close)
        return channel
    raise _unknown(url)


def _max_deliveries(settings: Settings) -> int:
    # One delivery more than the consumer's attempts: a job whose consumers kept dying
    # reaches a consumer once more, which dead-letters it and records why.
    return settings.job_max_attempts + 1


def _topology(settings: Settings) -> Topology:
    require_extra("QUEUE_URL", settings.queue_url, "pika", "rabbitmq")
    from videoplatform.adapters.rabbitmq.topology import Topology

    return Topology(
        url=settings.queue_url,
        prefix=settings.queue_prefix,
        max_deliveries=_max_deliveries(settings),
        retry_base_seconds=settings.job_retry_base_seconds,
        retry_cap_seconds=settings.job_retry_cap_seconds,
        consumer_timeout_ms=settings.queue_consumer_timeout_seconds * 1000,
    )


def _unknown(url: str) -> ConfigurationError:
    return ConfigurationError(
        f"VIDEOPLATFORM_QUEUE_URL={url!r}: use amqp://USER:PASSWORD@HOST:PORT/VHOST or memory://"
    )
