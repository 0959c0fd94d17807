"""The outbox relay: moves committed outbox messages onto the job queue, and committed
domain events onto the event channel.

A use case writes its change and an outbox message in one transaction (its domain
events too, through the unit of work's commit hooks); the relay publishes the message
afterwards as a :class:`Job` whose id is the message's id (to the event channel when
it is an event), and marks it sent only once the queue has confirmed it. Whatever
fails in between (the queue refuses, the process dies after publishing but before
marking) leaves the message pending, and it is published again later: jobs and events
are delivered at least once, and their handlers recognise a repeated id.

Several relays may run at once: each claims its own messages for a lease
(:meth:`Outbox.claim`), and a relay that dies lets its claims run out. Messages of one
key (an aggregate's events) are claimed by one relay at a time and published in commit
order; a failed publish leaves that message and every later one of the batch unsent.

An idle relay looks again when woken (:meth:`OutboxRelay.wake`: by a commit in its own
process, or by an :class:`OutboxListener` that hears of commits made by any process, as
PostgreSQL's notifications do) and at the latest after its poll interval: the poll is
the guarantee, a wake-up only makes it sooner.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
from attrs import frozen

from videoplatform.application.events.codec import is_event_topic, to_job
from videoplatform.application.ports.outbox import OutboxListener
from videoplatform.application.ports.persistence import OutboxMessage, UnitOfWorkFactory
from videoplatform.application.ports.queue import EventChannel, Job, JobQueue, retry_delay
from videoplatform.application.ports.system import Clock
from videoplatform.application.ports.tracing import NoTracer, Tracer
from videoplatform.domain.errors import Conflict

log = logging.getLogger(__name__)


@frozen
class RelayPolicy:
    batch: int = 100
    lease: timedelta = timedelta(seconds=60)  # longer than publishing one batch takes
    poll_seconds: float = 1.0  # how often an idle relay looks (a commit also wakes it)
    listen_seconds: float = 1.0  # the longest wait for a notification: how soon a stop is seen
    retry_base: timedelta = timedelta(seconds=1)  # a failed publish waits this, doubling
    retry_cap: timedelta = timedelta(minutes=5)


def job_for(message: OutboxMessage) -> Job:
    return Job(id=message.id, kind=message.topic, payload=message.payload)


class OutboxRelay:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        queue: JobQueue,
        events: EventChannel,
        clock: Clock,
        policy: RelayPolicy | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._events = events
        self._clock = clock
        self.policy = policy or RelayPolicy()
        self._tracer: Tracer = tracer or NoTracer()
        self._wake = threading.Event()

    def wake(self) -> None:
        """Something was committed: look at the outbox now rather than at the next poll."""
        self._wake.set()

    def relay_once(self) -> int:
        """Claim one batch, publish it, record what was confirmed; the number published."""
        now = self._clock.now()
        try:
            with self._uow() as uow:
                claimed = uow.outbox.claim(self.policy.batch, now, self.policy.lease)
                uow.commit()
        except Conflict:
            return 0  # another relay claimed the same messages first
        if not claimed:
            return 0
        sent: list[str] = []
        unsent: list[OutboxMessage] = []
        # Stop well before the claim runs out: past it, another relay may take the same
        # messages (and their keys) while this one is still publishing.
        deadline = now + self.policy.lease * 3 / 4
        for index, message in enumerate(claimed):
            if self._clock.now() >= deadline:
                log.warning(
                    "outbox claim nearly expired; %d messages left for later", len(claimed) - index
                )
                unsent = claimed[index:]
                break
            try:
                self._publish(message)
            except Exception as error:
                # The queue is probably down: keep the rest for later too.
                log.warning("outbox publish failed for %s: %r", message.id, error)
                unsent = claimed[index:]
                break
            sent.append(message.id)
        with self._uow() as uow:
            uow.outbox.mark_sent(sent)
            for message in unsent:
                delay = retry_delay(
                    message.attempts + 1,
                    base=self.policy.retry_base.total_seconds(),
                    cap=self.policy.retry_cap.total_seconds(),
                )
                uow.outbox.release([message.id], now + timedelta(seconds=delay))
            uow.commit()
        return len(sent)

    def _publish(self, message: OutboxMessage) -> None:
        """Publish one message in the trace of the work that wrote it: the job carries
        this publish's context on, to whoever consumes it."""
        event = is_event_topic(message.topic)
        with self._tracer.continued(
            message.trace,
            f"publish {message.topic}",
            kind="producer",
            attributes={
                "messaging.message.id": message.id,
                "videoplatform.outbox.seq": message.seq,
            },
        ):
            job = to_job(message) if event else job_for(message)
            job = attrs.evolve(job, trace=self._tracer.carrier())
            if event:
                self._events.publish(job)
            else:
                self._queue.publish(job)

    def run(self, stop: threading.Event, tick: Callable[[], None] | None = None) -> None:
        """Relay until ``stop`` is set. Errors (the database away) are logged and the
        relay tries again after a backoff. ``tick`` runs after every turn: a liveness
        signal (a relay stuck in a call stops ticking)."""
        failures = 0
        while not stop.is_set():
            if tick is not None:
                tick()
            # Cleared before the look rather than after the wait: a wake-up that comes
            # while this turn runs (a commit it may have missed) ends the next wait at
            # once instead of being lost until the poll.
            self._wake.clear()
            try:
                published = self.relay_once()
                failures = 0
            except Exception:
                failures += 1
                log.exception("outbox relay failed (%d in a row)", failures)
                stop.wait(retry_delay(failures, base=0.5, cap=30.0))
                continue
            if published < self.policy.batch:
                self._wake.wait(self.policy.poll_seconds)

    def follow(
        self,
        listener: OutboxListener,
        stop: threading.Event,
        tick: Callable[[], None] | None = None,
    ) -> None:
        """Wake this relay whenever ``listener`` hears of a commit, until ``stop`` is
        set; then close the listener. A listener that fails (the database away) is
        tried again after a backoff, and meanwhile the relay goes on at its poll: a
        failure here never stops relaying. ``tick`` runs after every turn, as in
        :meth:`run`."""
        failures = 0
        try:
            while not stop.is_set():
                if tick is not None:
                    tick()
                try:
                    heard = listener.wait(self.policy.listen_seconds)
                except Exception as error:
                    failures += 1
                    if failures == 1:
                        log.warning(
                            "outbox notifications lost (%r); relaying every %g s until they "
                            "are back",
                            error,
                            self.policy.poll_seconds,
                        )
                    _close_quietly(listener)
                    stop.wait(retry_delay(failures, base=0.5, cap=30.0))
                    continue
                if failures:
                    log.info("outbox notifications back after %d failed attempts", failures)
                    failures = 0
                if heard:
                    self.wake()
        finally:
            _close_quietly(listener)


def _close_quietly(listener: OutboxListener) -> None:
    """Close a listener whose connection may already be broken: whatever that raises
    says nothing the relay can act on."""
    try:
        listener.close()
    except Exception as error:
        log.debug("closing the outbox listener failed: %r", error)


SENT_KEPT = timedelta(days=1)
"""How long a sent outbox message is kept (to look at what went out), then deleted."""
RECEIPTS_KEPT = timedelta(days=7)
"""How long a subscription remembers an event it handled: a repeat delivery later than
that (a broker holding a message for a week) would be handled again."""


def prune_delivered(
    uow: UnitOfWorkFactory,
    now: datetime,
    *,
    sent_kept: timedelta = SENT_KEPT,
    receipts_kept: timedelta = RECEIPTS_KEPT,
    batch: int = 1000,
) -> int:
    """Delete sent outbox messages and old receipts, a batch per transaction, until none
    is left; how many rows went."""
    removed = 0
    while True:
        with uow() as unit:
            gone = unit.outbox.prune(now - sent_kept, batch)
            unit.commit()
        removed += gone
        if gone < batch:
            break
    with uow() as unit:
        removed += unit.receipts.prune(now - receipts_kept)
        unit.commit()
    return removed
