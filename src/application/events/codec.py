"""A domain event as an outbox message (and a job on the event channel), and back.

The message's topic is ``event.<EventName>``; its payload holds the event's fields as
JSON; its key names the aggregate the event is about (``video:<id>``...), the first
``*_id`` field of the event, which keeps one aggregate's events in order.
"""

from __future__ import annotations

import functools
import json
import sys
import typing
from datetime import datetime
from typing import Any

import attrs
from attrs import frozen

from videoplatform.application.ports.persistence import OutboxMessage
from videoplatform.application.ports.queue import Job
from videoplatform.domain.events import DomainEvent

TOPIC_PREFIX = "event."


def _plain(_: object, __: attrs.Attribute[Any], value: Any) -> Any:
    """A field's value as JSON has it: datetimes as ISO 8601, tuples as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


_HINTS: dict[type[DomainEvent], dict[str, Any]] = {}


def _hints(cls: type[DomainEvent]) -> dict[str, Any]:
    """The resolved field types of ``cls`` (resolved once per class)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _structure(cls: type[DomainEvent], data: Any) -> DomainEvent:
    """The event of class ``cls`` from its JSON fields (str, int, datetime and tuples of
    str: what domain events hold)."""
    if not isinstance(data, dict):
        raise TypeError("event fields must be an object")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for field in attrs.fields(cls):
        value = data[field.name]
        wanted = hints[field.name]
        if wanted is datetime:
            value = datetime.fromisoformat(value)
        elif typing.get_origin(wanted) is tuple:
            value = tuple(value)
        values[field.name] = value
    return cls(**values)


@functools.cache
def event_types() -> dict[str, type[DomainEvent]]:
    """Every domain event class, by name. (attrs replaces each slotted class with a new
    one; the class it replaced may linger among the subclasses, so only the class its
    module holds under that name counts.)"""
    found: dict[str, type[DomainEvent]] = {}
    pending: list[type[DomainEvent]] = [DomainEvent]
    while pending:
        cls = pending.pop()
        if getattr(sys.modules.get(cls.__module__), cls.__qualname__, None) is cls:
            found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def topic_of(event_name: str) -> str:
    return TOPIC_PREFIX + event_name


def is_event_topic(topic: str) -> bool:
    return topic.startswith(TOPIC_PREFIX)


def event_name(topic: str) -> str:
    """The event name a topic (a job kind) carries: ``VideoReady`` for ``event.VideoReady``."""
    return topic.removeprefix(TOPIC_PREFIX)


def aggregate_key(event: DomainEvent) -> str:
    """``<aggregate>:<id>`` from the event's first ``*_id`` field (its class name when it
    has none: such events are then ordered among themselves)."""
    for field in attrs.fields(type(event)):
        if field.name.endswith("_id"):
            return f"{field.name[:-3]}:{getattr(event, field.name)}"
    return event.name


def to_message(event_id: str, event: DomainEvent) -> OutboxMessage:
    data = attrs.asdict(event, value_serializer=_plain)
    return OutboxMessage(
        id=event_id,
        topic=topic_of(event.name),
        payload={"data": json.dumps(data, sort_keys=True)},
        created_at=event.occurred_at,
        key=aggregate_key(event),
    )


def to_job(message: OutboxMessage) -> Job:
    """The job the relay publishes for an event message: the payload gains the key and
    the outbox position, which the consumer orders by."""
    return Job(
        id=message.id,
        kind=message.topic,
        payload={**message.payload, "key": message.key or "", "seq": str(message.seq)},
    )


@frozen
class ReceivedEvent:
    id: str
    key: str
    seq: int
    event: DomainEvent


def from_job(job: Job) -> ReceivedEvent:
    """The event a job carries; ValueError for a job that is not one this code knows."""
    if not is_event_topic(job.kind):
        raise ValueError(f"job {job.id} is not an event")
    cls = event_types().get(event_name(job.kind))
    if cls is None:
        raise ValueError(f"unknown event {job.kind!r}")
    try:
        event = _structure(cls, json.loads(job.payload["data"]))
        seq = int(job.payload["seq"])
    except (KeyError, TypeError, ValueError) as bad:
        raise ValueError(f"malformed event {job.id}: {bad!r}") from None
    return ReceivedEvent(job.id, job.payload.get("key") or event.name, seq, event)
