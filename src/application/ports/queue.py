"""Job queue, the channel that carries committed events between processes, and the
in-process event bus."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from attrs import field, frozen

from videoplatform.domain.events import DomainEvent


@frozen
class Job:
    """A unit of background work; ``id`` makes redelivery detectable (idempotency key).

    ``attempt`` counts deliveries: 1 the first time, raised by each retry and by each
    redelivery after a consumer went away without settling the job."""

    id: str
    kind: str
    payload: Mapping[str, str]
    attempt: int = 1
    trace: Mapping[str, str] = field(factory=dict, eq=False)
    """The trace context of the work that queued the job (``Tracer.carrier``), handed
    on with it to the consumer; empty when tracing is off. Not part of what the job
    is: two jobs that differ only here are equal."""


class PublishFailed(Exception):
    """The queue did not confirm a job: it may not hold it, so keep it (in the outbox)."""


@frozen
class Delivery:
    """A job handed to one client; ``tag`` identifies it to that client only."""

    job: Job
    tag: int


@frozen
class QueueDepth:
    """Jobs waiting in a queue: ``ready`` to be handed out, ``retrying`` (waiting out a
    retry's backoff), ``dead`` letters. Jobs held by a consumer are in none of them."""

    ready: int
    retrying: int
    dead: int


class JobQueue(Protocol):
    """One client of a durable job queue.

    A client holds at most one unsettled delivery at a time (prefetch 1): while it holds
    one, other waiting jobs go to other clients. A client is used by one thread at a time
    unless the adapter says otherwise; each consumer thread takes its own client.
    """

    def publish(self, job: Job) -> None:
        """Return only once the queue holds the job durably (confirmed); raise
        ``PublishFailed`` otherwise, so the caller keeps it in the outbox."""
        ...

    def receive(self, timeout: float) -> Delivery | None:
        """The next job, or None after ``timeout`` seconds. A received job stays owned by
        this client until ``ack`` or ``nack``, or until the client closes or loses its
        connection, which puts the job back (its attempt raised) for another consumer."""
        ...

    def ack(self, delivery: Delivery) -> None:
        """The job is done; it is never delivered again. A delivery this client does not
        hold (another client's, already settled, or lost with a connection and so already
        back in the queue) is left alone."""
        ...

    def nack(self, delivery: Delivery, *, requeue: bool, charge: bool = True) -> None:
        """The job failed. With ``requeue`` it comes back with ``attempt`` + 1 after the
        queue's retry backoff for that attempt; without, it goes to the dead letters.
        With ``charge=False`` (a dependency was down: nothing the job did) it comes back
        after the first retry's backoff with the same ``attempt``, however often, and is
        never dead-lettered for it. Deliveries this client does not hold are left alone,
        as with ``ack``."""
        ...

    def dead_letters(self) -> list[Job]:
        """Jobs that were refused without requeue (or that the broker gave up on after
        too many deliveries), oldest first."""
        ...

    def close(self) -> None:
        """Disconnect. Deliveries still held go back to the queue with their attempt
        raised. Closing twice is harmless."""
        ...

    def depth(self) -> QueueDepth:
        """How many jobs wait, asked of the broker within ``PING_TIMEOUT_SECONDS`` per
        step; ``Unavailable`` when it does not answer. Any thread may call it; it leaves
        jobs, deliveries and this client's connection as they were."""
        ...

    def ping(self) -> None:
        """Check that the queue's broker answers, within ``PING_TIMEOUT_SECONDS`` per
        step (``ports.errors``); raise ``Unavailable`` (its detail the reason) when it
        does not. Publishes, receives and settles nothing, and leaves this client's
        deliveries and connection as they were; any thread may call it."""
        ...


class JobQueueClients(Protocol):
    def __call__(self) -> JobQueue:
        """A new client of the same queue: its own connection and its own deliveries,
        for one consumer thread."""
        ...


def retry_delay(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff before retry number ``attempt`` (1 for the first retry):
    ``base``, twice that, four times... never more than ``cap`` seconds."""
    if attempt < 1 or base <= 0:
        return 0.0
    return float(min(cap, base * 2 ** min(attempt - 1, 32)))


@frozen
class Subscription:
    """A durable subscription to committed domain events, by event name.

    A shared subscription has one queue for the whole cluster: each event is handled
    once, by whichever process consumes it. A per-node one (``per_node``) has a queue
    for each process that subscribes, for work local to that process (dropping entries
    of its own cache); a process that is gone takes its queue with it, and one that
    starts receives events committed from then on.
    """

    name: str
    events: tuple[str, ...]
    per_node: bool = False


class EventChannel(Protocol):
    """Carries committed events (as jobs: id the event id, kind ``event.<Name>``) from
    the outbox relay to the queue of every subscription that wants them. The shared
    subscriptions given to an adapter when it is made have their queues from the first
    publish on, whether or not any consumer runs yet."""

    def publish(self, job: Job) -> None:
        """Return once every subscription's queue holds the event durably (confirmed);
        raise ``PublishFailed`` otherwise. An event no subscription wants is dropped."""
        ...

    def subscribe(self, subscription: Subscription) -> JobQueue:
        """A client of ``subscription``'s queue (created if missing), for one consumer
        thread; delivery, retry and dead letters work as for jobs. Events reach a
        subscription's queue in the order they were published, and only one client
        receives from it at a time."""
        ...


E = TypeVar("E", bound=DomainEvent)


class EventBus(Protocol):
    def publish(self, event: DomainEvent) -> None:
        """Hand a committed event to every subscriber of its type; a failing subscriber
        does not stop the others nor the publisher."""
        ...

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None: ...
