"""The queues one job queue needs on the broker, and how they are declared.

A topology describes one queue (``{prefix}{name}``) with its retry and dead-letter
queues: the jobs queue, or the queue of one event subscription. A subscription's queue
is bound to the ``{prefix}events`` topic exchange by event name, and has a single
active consumer (one consumer at a time, the others waiting): its events are handled in
publish order. A per-node subscription's queues are classic queues the broker deletes
once unused for ``transient_expiry_ms`` (the node is gone).

``{prefix}jobs`` is a durable quorum queue. Retries wait in ``{prefix}jobs.retry.{ms}``
quorum queues whose messages all share one TTL (so none waits behind a longer one), and
dead-letter back into the jobs queue when it runs out. ``{prefix}jobs.dead`` receives the
jobs refused without requeue and those the broker gave up on: a quorum queue dead-letters
a message returned more than ``x-delivery-limit`` times (consumers that kept dying).

Consumer timeout: the broker closes the channel of a consumer that holds a delivery for
longer than its consumer timeout, and redelivers the job. It must be above the longest
job (the transcoding time limit). The queue argument ``x-consumer-timeout`` sets it per
queue on RabbitMQ 3.12 and later; older brokers accept the argument but apply only their
global ``consumer_timeout`` (rabbitmq.conf, in milliseconds, default 30 minutes), which
operators must then raise above the transcoding limit.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from videoplatform.application.ports.queue import retry_delay


@frozen
class Topology:
    url: str
    prefix: str = "videoplatform."
    max_deliveries: int = 5
    retry_base_seconds: float = 5.0
    retry_cap_seconds: float = 600.0
    consumer_timeout_ms: int = 4 * 3600 * 1000
    reconnect_base_seconds: float = 0.5
    reconnect_cap_seconds: float = 30.0
    name: str = "jobs"
    exchange: str = ""  # "": the default exchange (jobs are sent to their queue by name)
    routing_keys: tuple[str, ...] = ()
    single_active: bool = False
    per_node: bool = False
    transient_expiry_ms: int = 30 * 60 * 1000

    def __attrs_post_init__(self) -> None:
        if self.max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")

    @property
    def jobs(self) -> str:
        """This topology's queue (the jobs queue, or a subscription's)."""
        return f"{self.prefix}{self.name}"

    @property
    def dead(self) -> str:
        return f"{self.jobs}.dead"

    def retry(self, delay_ms: int) -> str:
        return f"{self.jobs}.retry.{delay_ms}"

    def _kind(self) -> dict[str, Any]:
        if self.per_node:
            return {"x-queue-type": "classic", "x-expires": self.transient_expiry_ms}
        return {"x-queue-type": "quorum"}

    def jobs_arguments(self) -> dict[str, Any]:
        arguments = self._kind()
        if self.single_active:
            arguments["x-single-active-consumer"] = True
        if self.per_node:
            return {
                **arguments,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.dead,
                "x-overflow": "reject-publish",
            }
        return {
            **arguments,
            # Returns beyond this (a consumer that died holding the job, again and again)
            # send the job to the dead letters: a job is delivered max_deliveries times.
            "x-delivery-limit": self.max_deliveries - 1,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.dead,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            "x-consumer-timeout": self.consumer_timeout_ms,
        }

    def dead_arguments(self) -> dict[str, Any]:
        return self._kind()

    def retry_arguments(self, delay_ms: int) -> dict[str, Any]:
        arguments = {
            **self._kind(),
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.jobs,
            "x-overflow": "reject-publish",
        }
        if not self.per_node:
            arguments["x-dead-letter-strategy"] = "at-least-once"
        return arguments

    def retry_delay_ms(self, attempt: int) -> int:
        """How long a job waits after failing its ``attempt``-th delivery."""
        delay = retry_delay(attempt, base=self.retry_base_seconds, cap=self.retry_cap_seconds)
        return round(delay * 1000)

    def queue_names(self) -> list[str]:
        """Every queue this topology may declare."""
        delays = {self.retry_delay_ms(a) for a in range(1, self.max_deliveries)}
        return [self.jobs, self.dead, *(self.retry(ms) for ms in sorted(delays) if ms > 0)]
