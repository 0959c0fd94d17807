"""In-process events whose publisher does not wait for their handlers.

The in-process bus runs its handlers in the publisher's thread, and durable events
need a unit of work that commits them. An event raised where nothing commits and whose
effect the caller must not wait for (a refused access: the refused unit of work rolled
back, and the answer must not take longer for the refusal being recorded) is published
here instead: :meth:`DeferredEvents.publish` only appends it to a bounded buffer, and a
thread of this process hands it to its subscribers (through the dispatch point, see
:meth:`~videoplatform.application.dispatch.Dispatcher.subscribe`), in publish order.

What it guarantees: a handler that fails is tried again a few times, then the event is
logged in full at error level; :meth:`DeferredEvents.settle` waits until every event
published so far was handled (what a reader of their effects calls first, see
:func:`settled_before`); closing settles first. What it does not: an event still in
the buffer when the process dies is lost (its handlers have not run; the buffer is a
few milliseconds deep while its handlers keep up).

The thread starts with the first event and ends after a while without any, so a
process that never publishes runs none (and none crosses a fork).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from videoplatform.application.dispatch import Message, Middleware, Proceed, UseCaseCall
from videoplatform.domain.events import DomainEvent

log = logging.getLogger(__name__)

E = TypeVar("E", bound=DomainEvent)

DEFAULT_CAPACITY = 10_000
"""Events waiting at most; beyond that (the handlers stuck for a long while) an event is
logged in full and dropped, rather than holding the caller or memory."""


class DeferredEvents:
    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        attempts: int = 5,
        retry_seconds: float = 0.2,
        idle_seconds: float = 30.0,
    ) -> None:
        self._capacity = capacity
        self._attempts = max(attempts, 1)
        self._retry_seconds = retry_seconds
        self._idle_seconds = idle_seconds
        self._handlers: list[tuple[type[DomainEvent], Callable[[Any], None]]] = []
        self._waiting: deque[DomainEvent] = deque()
        self._pending = 0  # published and not handled yet (waiting or being handled)
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        """Have ``handler`` receive every ``event_type`` (subclasses included) published
        from now on, in the delivery thread."""
        with self._changed:
            self._handlers.append((event_type, handler))

    def publish(self, event: DomainEvent) -> None:
        """Hand ``event`` over to be delivered; returns at once, never raises."""
        with self._changed:
            if self._closing.is_set() or self._pending >= self._capacity:
                log.error("deferred event dropped (%s): %r", _why(self._closing), event)
                return
            self._waiting.append(event)
            self._pending += 1
            self._ensure_thread()
            self._changed.notify_all()

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until every event published so far was handled (or given up); whether
        that happened within ``timeout`` seconds. From a handler, it returns False at
        once (the events after it wait for that handler)."""
        if threading.current_thread() is self._thread:
            return False
        with self._changed:
            if self._waiting:
                self._ensure_thread()
            return self._changed.wait_for(lambda: self._pending == 0, timeout)

    def _ensure_thread(self) -> None:
        """Start the delivery thread unless it runs (called holding ``_changed``). A
        thread that cannot start leaves the events waiting for the next call."""
        if self._thread is not None and self._thread.is_alive():
            return
        thread = threading.Thread(target=self._deliver_all, name="deferred-events", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            log.exception("could not start the deferred events' thread")
            return
        self._thread = thread

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what was published (within ``timeout`` seconds), then stop: later
        events are logged and dropped."""
        if not self.settle(timeout):
            log.error("deferred events still undelivered at close: %d", self._pending)
        self._closing.set()
        with self._changed:
            self._changed.notify_all()

    @property
    def pending(self) -> int:
        """Events published and not yet handled."""
        with self._changed:
            return self._pending

    def _deliver_all(self) -> None:
        while (batch := self._next_batch()) is not None:
            for event, handlers in batch:
                try:
                    self._deliver(event, handlers)
                finally:
                    with self._changed:
                        self._pending -= 1
                        self._changed.notify_all()

    def _next_batch(self) -> list[tuple[DomainEvent, list[Callable[[Any], None]]]] | None:
        """Every waiting event with its handlers, once there is one; None (the thread
        ends) when closing or idle for ``idle_seconds`` with none waiting."""
        with self._changed:
            while not self._waiting:
                idle = not self._changed.wait(self._idle_seconds)
                if (idle or self._closing.is_set()) and not self._waiting:
                    self._thread = None
                    return None
            batch = [
                (event, [h for t, h in self._handlers if isinstance(event, t)])
                for event in self._waiting
            ]
            self._waiting.clear()
            return batch

    def _deliver(self, event: DomainEvent, handlers: Sequence[Callable[[Any], None]]) -> None:
        for handler in handlers:
            for attempt in range(1, self._attempts + 1):
                try:
                    handler(event)
                    break
                except Exception:
                    if attempt == self._attempts or self._closing.is_set():
                        log.exception("deferred event given up after %d tries: %r", attempt, event)
                        break
                    log.warning("deferred event handler failed (try %d): %s", attempt, event.name)
                    self._closing.wait(self._retry_seconds * 2 ** (attempt - 1))


def _why(closing: threading.Event) -> str:
    return "closed" if closing.is_set() else "too many waiting"


def settled_before(prefix: str, events: DeferredEvents, timeout: float = 5.0) -> Middleware:
    """Middleware: a use case named ``<prefix>...`` runs once ``events`` published so far
    were handled (or after ``timeout`` seconds): what it reads includes their effects."""

    def settle(message: Message, proceed: Proceed) -> Any:
        if (
            isinstance(message, UseCaseCall)
            and message.name.startswith(prefix)
            and not events.settle(timeout)
        ):
            log.warning("%s runs with %d deferred events unhandled", message.name, events.pending)
        return proceed()

    return settle
