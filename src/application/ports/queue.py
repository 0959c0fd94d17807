"""Job queue and in-process event bus."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from attrs import frozen

from domain.events import DomainEvent


@frozen
class Job:
    """A unit of background work; ``id`` makes redelivery detectable (idempotency key)."""

    id: str
    kind: str
    payload: Mapping[str, str]
    attempt: int = 1


@frozen
class Delivery:
    job: Job
    tag: int


class JobQueue(Protocol):
    def publish(self, job: Job) -> None:
        """Return only once the queue holds the job durably (confirmed); raise otherwise,
        so the caller keeps it in the outbox."""
        ...

    def receive(self, timeout: float) -> Delivery | None:
        """The next job, or None after ``timeout`` seconds. A received job stays owned by
        this consumer until ``ack`` or ``nack``."""
        ...

    def ack(self, delivery: Delivery) -> None:
        """The job is done; it is never delivered again."""
        ...

    def nack(self, delivery: Delivery, *, requeue: bool) -> None:
        """The job failed; requeue it (with ``attempt`` + 1) or drop it to dead letters."""
        ...

    def dead_letters(self) -> list[Job]:
        """Jobs that were refused without requeue, oldest first."""
        ...


E = TypeVar("E", bound=DomainEvent)


class EventBus(Protocol):
    def publish(self, event: DomainEvent) -> None:
        """Hand a committed event to every subscriber of its type; a failing subscriber
        does not stop the others nor the publisher."""
        ...

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None: ...
