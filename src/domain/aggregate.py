"""Shared behaviour of aggregate roots: identity by id, a version, recorded events."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from attrs import define, field

from videoplatform.domain.events import DomainEvent

# Each subclass declares ``id`` with its own id type, so it is looked up by name here.
_id_of = attrgetter("id")


@define(eq=False, slots=False)
class Aggregate:
    """Base for entities that own a consistency boundary.

    ``version`` is the optimistic-concurrency counter: repositories refuse to save an
    aggregate whose version no longer matches the stored one, then bump it.
    """

    version: int = field(default=0, kw_only=True)
    _events: list[DomainEvent] = field(factory=list, init=False, repr=False, alias="_events")

    def record(self, event: DomainEvent) -> None:
        self._events.append(event)

    def pull_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events

    @property
    def identity(self) -> str:
        # Every aggregate declares an ``id`` field; equality and hashing follow it.
        return str(_id_of(self))

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other.identity == self.identity

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.identity))
