"""In-memory job queue and event bus."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from videoplatform.application.ports.queue import Delivery, Job, QueueDepth, retry_delay
from videoplatform.domain.events import DomainEvent

E = TypeVar("E", bound=DomainEvent)

log = logging.getLogger(__name__)


class _Broker:
    """The queue's state, shared by every client: ready jobs (FIFO), jobs waiting out a
    retry backoff, the deliveries each client holds, and the dead letters."""

    def __init__(
        self, retry_base: float, retry_cap: float, max_deliveries: int, one_at_a_time: bool
    ) -> None:
        if max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")
        self.one_at_a_time = one_at_a_time
        self.max_deliveries = max_deliveries
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.ready: deque[Job] = deque()
        self.delayed: list[tuple[float, int, Job]] = []  # heap of (due, order, job)
        self.held: dict[int, tuple[int, Job]] = {}  # tag -> (client id, job)
        self.dead: list[Job] = []
        self.tags = itertools.count(1)
        self.order = itertools.count()
        self.clients = itertools.count(1)
        self.cond = threading.Condition()

    def promote_due(self) -> float | None:
        """Move retries whose backoff is over to the ready jobs; seconds until the next
        one is due, or None. Called with the condition held."""
        now = time.monotonic()
        while self.delayed and self.delayed[0][0] <= now:
            self.ready.append(heapq.heappop(self.delayed)[2])
        return self.delayed[0][0] - now if self.delayed else None

    def put_back(self, job: Job, *, at_once: bool, charge: bool = True) -> None:
        """A job comes back for another try: at once at the head (its consumer went
        away), or after the backoff its attempt earns; to the dead letters instead once
        it has had ``max_deliveries`` deliveries. Uncharged (a dependency was down), it
        keeps its attempt and waits the first backoff."""
        if not charge:
            again, delay = job, retry_delay(1, base=self.retry_base, cap=self.retry_cap)
        elif job.attempt >= self.max_deliveries:
            self.dead.append(job)
            return
        else:
            again = attrs.evolve(job, attempt=job.attempt + 1)
            delay = retry_delay(job.attempt, base=self.retry_base, cap=self.retry_cap)
        if at_once:
            self.ready.appendleft(again)
        elif delay <= 0:
            self.ready.append(again)
        else:
            heapq.heappush(self.delayed, (time.monotonic() + delay, next(self.order), again))
        self.cond.notify_all()


class MemoryJobQueue:
    """An in-process job queue with the broker's semantics, for the embedded profile and
    tests: FIFO, explicit acknowledgement, one unsettled delivery per client (prefetch 1),
    retries after an exponential backoff (``retry_base`` seconds, doubling, at most
    ``retry_cap``), dead letters (refused jobs, and jobs delivered ``max_deliveries``
    times), and jobs put back when their client closes.

    ``MemoryJobQueue()`` is a new queue with its first client; :meth:`client` opens
    another client of the same queue. Clients are thread-safe, but each consumer thread
    should take its own so that prefetch 1 holds per consumer. With ``one_at_a_time``
    the queue hands out one delivery at a time whatever the number of clients (as a
    broker's single active consumer does): its jobs are handled strictly in turn.
    """

    def __init__(
        self,
        *,
        retry_base: float = 0.0,
        retry_cap: float = 60.0,
        max_deliveries: int = 5,
        one_at_a_time: bool = False,
        _broker: _Broker | None = None,
    ) -> None:
        self._broker = (
            _broker
            if _broker is not None
            else _Broker(retry_base, retry_cap, max_deliveries, one_at_a_time)
        )
        self._id = next(self._broker.clients)

    def client(self) -> MemoryJobQueue:
        return MemoryJobQueue(_broker=self._broker)

    def _holding(self) -> bool:
        return any(owner == self._id for owner, _ in self._broker.held.values())

    def publish(self, job: Job) -> None:
        broker = self._broker
        with broker.cond:
            broker.ready.append(job)
            broker.cond.notify_all()

    def receive(self, timeout: float) -> Delivery | None:
        broker = self._broker
        deadline = time.monotonic() + max(timeout, 0.0)
        with broker.cond:
            while True:
                next_due = broker.promote_due()
                free = not broker.held if broker.one_at_a_time else not self._holding()
                if broker.ready and free:
                    job = broker.ready.popleft()
                    tag = next(broker.tags)
                    broker.held[tag] = (self._id, job)
                    return Delivery(job, tag)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                broker.cond.wait(left if next_due is None else min(left, next_due))

    def _release(self, delivery: Delivery) -> Job | None:
        held = self._broker.held.get(delivery.tag)
        if held is None or held[0] != self._id:
            return None
        del self._broker.held[delivery.tag]
        self._broker.cond.notify_all()
        return held[1]

    def ack(self, delivery: Delivery) -> None:
        with self._broker.cond:
            self._release(delivery)

    def nack(self, delivery: Delivery, *, requeue: bool, charge: bool = True) -> None:
        broker = self._broker
        with broker.cond:
            job = self._release(delivery)
            if job is None:
                return
            if requeue:
                broker.put_back(job, at_once=False, charge=charge)
            else:
                broker.dead.append(job)

    def dead_letters(self) -> list[Job]:
        with self._broker.cond:
            return list(self._broker.dead)

    def close(self) -> None:
        broker = self._broker
        with broker.cond:
            mine = sorted(tag for tag, (owner, _) in broker.held.items() if owner == self._id)
            for tag in reversed(mine):
                # Back at the head, as a broker returns an unsettled message.
                broker.put_back(broker.held.pop(tag)[1], at_once=True)
            broker.cond.notify_all()

    def depth(self) -> QueueDepth:
        broker = self._broker
        with broker.cond:
            broker.promote_due()  # a retry whose backoff is over is ready
            return QueueDepth(len(broker.ready), len(broker.delayed), len(broker.dead))

    def ping(self) -> None:
        """Always answers: the queue is this process's memory."""
        return None

    def __len__(self) -> int:
        """Jobs waiting, ready or in a retry backoff (not those held by a client)."""
        with self._broker.cond:
            return len(self._broker.ready) + len(self._broker.delayed)


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
                log.exception("event handler failed for %s", event.name)
