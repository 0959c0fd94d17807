"""Choosing the job queue from settings.

``memory://`` is the in-process queue of the embedded profile; ``amqp://`` (or
``amqps://``) is RabbitMQ. Nothing connects here: a RabbitMQ client connects on its
first publish or receive, so an API process that never publishes never connects.
"""

from __future__ import annotations

from videoplatform.adapters.memory.queue import MemoryJobQueue
from videoplatform.application.ports.queue import JobQueue, JobQueueClients
from videoplatform.entrypoints.settings import ConfigurationError, Settings
from videoplatform.entrypoints.wiring import Closer


def open_queue(settings: Settings, closers: list[Closer]) -> tuple[JobQueue, JobQueueClients]:
    """The queue client the platform publishes with, and a factory of further clients
    (one per consumer thread)."""
    url = settings.queue_url
    scheme = url.split(":", 1)[0]
    # One delivery more than the consumer's attempts: a job whose consumers kept dying
    # reaches a consumer once more, which dead-letters it and records why.
    max_deliveries = settings.job_max_attempts + 1
    if scheme == "memory":
        memory = MemoryJobQueue(
            retry_base=settings.job_retry_base_seconds,
            retry_cap=settings.job_retry_cap_seconds,
            max_deliveries=max_deliveries,
        )
        return memory, memory.client
    if scheme in ("amqp", "amqps"):
        try:  # the rabbitmq extra is optional: only this profile imports pika
            from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
            from videoplatform.adapters.rabbitmq.topology import Topology
        except ImportError as missing:
            raise ConfigurationError(
                f"VIDEOPLATFORM_QUEUE_URL={url!r} needs pika: install videoplatform[rabbitmq]"
            ) from missing
        topology = Topology(
            url=url,
            prefix=settings.queue_prefix,
            max_deliveries=max_deliveries,
            retry_base_seconds=settings.job_retry_base_seconds,
            retry_cap_seconds=settings.job_retry_cap_seconds,
            consumer_timeout_ms=settings.queue_consumer_timeout_seconds * 1000,
        )
        publisher = RabbitJobQueue(topology, role="publisher")
        closers.append(publisher.close)
        return publisher, publisher.client
    raise ConfigurationError(
        f"VIDEOPLATFORM_QUEUE_URL={url!r}: use amqp://USER:PASSWORD@HOST:PORT/VHOST or memory://"
    )
