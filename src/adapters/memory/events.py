"""The in-process event channel: a queue per subscription, in this process.

The embedded profile's relay publishes committed events here; every subscription whose
events include the event's name gets it in its own :class:`MemoryJobQueue` (retries,
dead letters and prefetch as for jobs). A per-node subscription is simply another
queue: in one process, the node is the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from videoplatform.adapters.memory.queue import MemoryJobQueue
from videoplatform.application.events.codec import event_name
from videoplatform.application.ports.queue import Job, Subscription


class MemoryEventChannel:
    def __init__(
        self,
        subscriptions: Sequence[Subscription] = (),
        *,
        retry_base: float = 0.0,
        retry_cap: float = 60.0,
        max_deliveries: int = 5,
    ) -> None:
        self._lock = threading.Lock()
        self._retry = (retry_base, retry_cap, max_deliveries)
        self._queues: dict[str, tuple[Subscription, MemoryJobQueue]] = {}
        for subscription in subscriptions:
            self._queue(subscription)

    def _queue(self, subscription: Subscription) -> MemoryJobQueue:
        with self._lock:
            known = self._queues.get(subscription.name)
            if known is None:
                base, cap, deliveries = self._retry
                queue = MemoryJobQueue(
                    retry_base=base, retry_cap=cap, max_deliveries=deliveries, one_at_a_time=True
                )
                self._queues[subscription.name] = (subscription, queue)
                return queue
            return known[1]

    def publish(self, job: Job) -> None:
        name = event_name(job.kind)
        with self._lock:
            targets = [q for s, q in self._queues.values() if name in s.events]
        for queue in targets:
            queue.publish(job)

    def subscribe(self, subscription: Subscription) -> MemoryJobQueue:
        return self._queue(subscription).client()

    def queue_of(self, subscription: Subscription) -> MemoryJobQueue:
        """The subscription's queue itself (tests look at its dead letters)."""
        return self._queue(subscription)
