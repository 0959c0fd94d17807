"""Handling one durable subscription's events: the job handler its queue's consumer
(:class:`~videoplatform.application.jobs.JobConsumer`) runs.

Delivery is at least once, so each event of a shared subscription is checked against
the subscription's receipts: one already handled is skipped (handled once in effect,
given handlers that are idempotent for the rare repeat after a crash between handling
and the receipt).

Order per aggregate: a subscription's queue delivers in publish order, to one consumer
at a time, and the relay publishes one key's events in commit order. What reorders is a
retry: a failed event waits out its backoff while later ones go on. So a failed event
is *held* (in the receipts), and a later event of the same key finds the hold and is
postponed (held too) until the earlier one was handled or given up to the dead
letters; events of other keys do not wait. A hold older than ``hold_limit`` is
forgotten, in case its event vanished without a word (a broker that dropped it).

A per-node subscription keeps no receipts: every node has its own queue, and its
handlers are local and idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

from attrs import frozen

from videoplatform.application.dispatch import Dispatcher, EventDelivery
from videoplatform.application.events.codec import ReceivedEvent, from_job, topic_of
from videoplatform.application.jobs import JobHandler, PermanentJobError, Postponed
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import Job, Subscription
from videoplatform.application.ports.system import Clock
from videoplatform.domain.events import DomainEvent

log = logging.getLogger(__name__)


@frozen
class DurableHandler:
    """A handler of committed events, run wherever its subscription is consumed. It must
    be idempotent, and it raises to have the event retried."""

    subscription: Subscription
    handle: Callable[[DomainEvent], None]


DEFAULT_HOLD_LIMIT = timedelta(hours=6)


class SubscriptionHandler:
    """The job handler and dead-letter hook of one subscription's consumer."""

    def __init__(
        self,
        handler: DurableHandler,
        uow: UnitOfWorkFactory,
        clock: Clock,
        dispatcher: Dispatcher,
        hold_limit: timedelta = DEFAULT_HOLD_LIMIT,
    ) -> None:
        self._handler = handler
        self._name = handler.subscription.name
        self._uow = uow
        self._clock = clock
        self._dispatcher = dispatcher
        self._hold_limit = hold_limit

    def handlers(self) -> dict[str, JobHandler]:
        """By job kind: every event the subscription takes."""
        return {topic_of(name): self for name in self._handler.subscription.events}

    def __call__(self, job: Job) -> None:
        try:
            received = from_job(job)
        except ValueError as bad:
            raise PermanentJobError(str(bad)) from None
        if self._handler.subscription.per_node:
            # Each node has a queue of its own, and its handler is local and idempotent
            # (dropping cache entries): no shared receipts, which would let one node's
            # handling stand for every other's.
            self._deliver(received)
            return
        now = self._clock.now()
        with self._uow() as uow:
            receipts = uow.receipts
            if receipts.handled(self._name, received.id):
                return
            if receipts.held_before(self._name, received.key, received.seq, now - self._hold_limit):
                receipts.hold(self._name, received.id, received.key, received.seq, now)
                uow.commit()
                raise Postponed(f"an earlier event of {received.key} is not handled yet")
        try:
            self._deliver(received)
        except Exception:  # retried (Unavailable: without using an attempt) or given up
            self._hold(received)
            raise
        with self._uow() as uow:
            uow.receipts.done(self._name, received.id, received.key, received.seq, now)
            uow.commit()

    def _deliver(self, received: ReceivedEvent) -> None:
        self._dispatcher.run(
            EventDelivery(self._name, received.event),
            lambda: self._handler.handle(received.event),
        )

    def _hold(self, received: ReceivedEvent) -> None:
        """Later events of the key wait while this one waits for its retry."""
        try:
            with self._uow() as uow:
                uow.receipts.hold(
                    self._name, received.id, received.key, received.seq, self._clock.now()
                )
                uow.commit()
        except Exception:
            log.exception("could not hold event %s of %s", received.id, self._name)

    def dead_lettered(self, job: Job, reason: str) -> None:
        """The event was given up: later events of its key go on."""
        log.error("event %s (%s) dead-lettered by %s: %s", job.id, job.kind, self._name, reason)
        if self._handler.subscription.per_node:
            return
        with self._uow() as uow:
            uow.receipts.give_up(self._name, job.id)
            uow.commit()


class DurableHandlers:
    """The durable handlers of a platform: the platform's own reactions, and what the
    process adds (an HTTP node's cache). Shared ones are known before the event channel
    is opened, so their queues exist from the first event on."""

    def __init__(self, handlers: list[DurableHandler] | None = None) -> None:
        self._handlers: list[DurableHandler] = list(handlers or [])

    def add(self, handler: DurableHandler) -> None:
        """Add ``handler``, in place of one with the same subscription name."""
        name = handler.subscription.name
        self._handlers = [h for h in self._handlers if h.subscription.name != name]
        self._handlers.append(handler)

    def __iter__(self) -> Iterator[DurableHandler]:
        return iter(list(self._handlers))

    def subscriptions(self) -> list[Subscription]:
        return [h.subscription for h in self._handlers]
