"""The outbox (messages written with the change that caused them, relayed after
commit), the receipts of handled events, and the commit hooks that write events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from attrs import field, frozen

from videoplatform.domain.events import DomainEvent


@frozen
class OutboxMessage:
    id: str
    topic: str
    payload: Mapping[str, str]
    created_at: datetime
    attempts: int = 0  # failed attempts to publish it so far
    key: str | None = None
    """Messages with the same key (a domain event's aggregate) are published in the
    order they were written, never two of them by two relays at once."""
    seq: int = 0
    """The position the outbox gave the message when its transaction committed (0
    until then): later writes get higher numbers."""
    trace: Mapping[str, str] = field(factory=dict, eq=False)
    """The trace context of the work that wrote the message (``Tracer.carrier``), which
    the relay continues when it publishes it; empty when tracing is off."""


class Outbox(Protocol):
    def add(self, message: OutboxMessage) -> None:
        """Record a message in the same transaction as the change that caused it, with
        its trace context: the message's own, or else the one current in the caller
        (when the unit of work was given a tracer)."""
        ...

    def pending(self, limit: int) -> list[OutboxMessage]:
        """Unsent messages, oldest first, claimed or not."""
        ...

    def claim(self, limit: int, now: datetime, lease: timedelta) -> list[OutboxMessage]:
        """Up to ``limit`` unsent messages that no claim holds at ``now``, in ``seq``
        order, claimed until ``now + lease`` once this unit of work commits. A message
        whose key has an earlier unsent message that is held (claimed by another, or
        backing off after a failed publish) is not claimable: one key's messages go out
        in order, from one relay at a time. Concurrent claims never both get a message:
        PostgreSQL claimers take turns on a transaction lock; SQLite serializes writers;
        memory refuses the later commit with a Conflict. A claimer that dies before
        marking its messages lets the claim run out, and they are claimed again."""
        ...

    def release(self, ids: Sequence[str], retry_at: datetime) -> None:
        """Publishing these claimed messages failed: count the attempt and leave them
        unclaimable until ``retry_at``."""
        ...

    def mark_sent(self, ids: Sequence[str]) -> None:
        """The queue confirmed these messages; they are never claimed again."""
        ...

    def backlog(self) -> tuple[int, datetime | None]:
        """How many messages are unsent, and when the oldest of them was written."""
        ...

    def prune(self, sent_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` messages sent before ``sent_before``; how many."""
        ...


class EventReceipts(Protocol):
    """What each durable subscription did with the events it received: handled them
    (a repeat delivery is then skipped), or holds them back. A held event is one that
    failed and waits for its retry, or one that waits behind such an event of the same
    key: later events of that key wait too, so one aggregate's events are handled in
    order while other keys go on."""

    def handled(self, subscription: str, event_id: str) -> bool: ...

    def held_before(self, subscription: str, key: str, seq: int, since: datetime) -> bool:
        """Whether an event of ``key`` earlier than ``seq`` is held, by a hold made or
        renewed at ``since`` or later (an older hold is forgotten: its event was lost
        to the dead letters without a word)."""
        ...

    def hold(self, subscription: str, event_id: str, key: str, seq: int, at: datetime) -> None:
        """Hold the event back (made or renewed at ``at``)."""
        ...

    def done(self, subscription: str, event_id: str, key: str, seq: int, at: datetime) -> None:
        """The event was handled (its hold, if any, ends)."""
        ...

    def give_up(self, subscription: str, event_id: str) -> None:
        """The event went to the dead letters: its hold ends, later events go on (a
        receipt of an event handled stays)."""
        ...

    def prune(self, before: datetime) -> int:
        """Forget receipts (handled or held) recorded before ``before``; how many."""
        ...


class CommitHooks(Protocol):
    """What a unit of work does with the domain events of the aggregates it persists:
    ``before_commit`` writes them inside the transaction (to the outbox), and
    ``after_commit`` hands them to in-process listeners once the commit succeeded."""

    def before_commit(self, events: Sequence[DomainEvent], outbox: Outbox) -> None: ...

    def after_commit(self, events: Sequence[DomainEvent]) -> None: ...


class OutboxListener(Protocol):
    """Word that some process committed outbox messages, so that a relay looks at once
    rather than at its next poll (PostgreSQL's ``LISTEN``). A hint only: the relay's
    poll still finds whatever a lost notification would have announced."""

    def wait(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for a commit that wrote outbox messages
        (connecting first, within the connection's own timeout, when not listening);
        whether the relay should look now: a commit was announced, or listening has just
        begun, so that what was committed while nobody listened is looked at too.
        Raises :class:`~videoplatform.application.ports.errors.Unavailable` when the
        database cannot be listened to; the next call tries again."""
        ...

    def close(self) -> None:
        """Stop listening and give the connection back; a later ``wait`` listens anew."""
        ...
