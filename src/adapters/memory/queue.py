"""In-memory job queue and event bus."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import structlog

from application.ports.queue import Delivery, Job
from domain.events import DomainEvent

E = TypeVar("E", bound=DomainEvent)

log = structlog.get_logger(__name__)


class MemoryJobQueue:
    """FIFO queue with explicit acknowledgement: a received job is held until acked,
    requeued with its attempt count raised, or moved to the dead letters."""

    def __init__(self) -> None:
        self._ready: deque[Job] = deque()
        self._unacked: dict[int, Job] = {}
        self._dead: list[Job] = []
        self._tags = itertools.count(1)
        self._cond = threading.Condition()

    def publish(self, job: Job) -> None:
        with self._cond:
            self._ready.append(job)
            self._cond.notify()

    def receive(self, timeout: float) -> Delivery | None:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._ready), timeout=timeout):
                return None
            job = self._ready.popleft()
            tag = next(self._tags)
            self._unacked[tag] = job
            return Delivery(job, tag)

    def ack(self, delivery: Delivery) -> None:
        with self._cond:
            self._unacked.pop(delivery.tag, None)

    def nack(self, delivery: Delivery, *, requeue: bool) -> None:
        with self._cond:
            job = self._unacked.pop(delivery.tag, None)
            if job is None:
                return
            if requeue:
                self._ready.append(attrs.evolve(job, attempt=job.attempt + 1))
                self._cond.notify()
            else:
                self._dead.append(job)

    def dead_letters(self) -> list[Job]:
        with self._cond:
            return list(self._dead)

    def __len__(self) -> int:
        with self._cond:
            return len(self._ready)


class MemoryEventBus:
    """Synchronous in-process publish/subscribe by event type (subclasses included)."""

    def __init__(self) -> None:
        self._handlers: list[tuple[type[DomainEvent], Callable[[Any], None]]] = []
        self._lock = threading.Lock()

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        with self._lock:
            self._handlers.append((event_type, handler))

    def publish(self, event: DomainEvent) -> None:
        with self._lock:
            handlers = [h for t, h in self._handlers if isinstance(event, t)]
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event_handler_failed", event_name=event.name)
