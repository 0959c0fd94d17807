"""Domain events as outbox messages and jobs, and back: every event class round-trips,
and what is not an event this code knows is refused."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from videoplatform.application.events.codec import (
    aggregate_key,
    event_types,
    from_job,
    to_job,
    to_message,
)
from videoplatform.application.ports.queue import Job
from videoplatform.domain.events import DomainEvent, VideoUploaded
from videoplatform.domain.ids import UserId, VideoId

WHEN = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)


def an_instance(cls: type[DomainEvent]) -> DomainEvent:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for n, field in enumerate(attrs.fields(cls)):
        wanted = hints[field.name]
        if wanted is datetime:
            values[field.name] = WHEN
        elif wanted is int:
            values[field.name] = 40 + n
        elif typing.get_origin(wanted) is tuple:
            values[field.name] = ("admin", f"r{n}")
        else:
            values[field.name] = f"{field.name}-{n}"
    return cls(**values)


@pytest.mark.parametrize("name", sorted(event_types()))
def test_every_event_round_trips_through_the_outbox_and_the_channel(name: str) -> None:
    event = an_instance(event_types()[name])
    message = attrs.evolve(to_message("evt-1", event), seq=7)
    assert message.topic == f"event.{name}"
    received = from_job(to_job(message))
    assert (received.id, received.seq, received.key) == ("evt-1", 7, aggregate_key(event))
    assert received.event == event
    assert type(received.event) is type(event)


def test_the_key_names_the_aggregate_by_the_first_id_field() -> None:
    event = VideoUploaded(occurred_at=WHEN, video_id=VideoId("v1"), owner_id=UserId("u1"))
    assert aggregate_key(event) == "video:v1"


@pytest.mark.parametrize(
    "job",
    [
        Job("j1", "process-video", {"video_id": "v1"}),
        Job("j2", "event.NoSuchEvent", {"data": "{}", "seq": "1"}),
        Job("j3", "event.VideoReady", {"data": "not json", "seq": "1"}),
        Job("j4", "event.VideoReady", {"data": '{"video_id": "v"}', "seq": "1"}),
        Job("j5", "event.VideoReady", {"data": "[]", "seq": "1"}),
        Job(
            "j6", "event.VideoReady", {"data": '{"occurred_at": "x", "video_id": "v"}', "seq": "1"}
        ),
        Job("j7", "event.VideoReady", {"seq": "1"}),
    ],
    ids=["a job", "unknown", "not json", "missing field", "not an object", "bad time", "no data"],
)
def test_what_is_not_a_known_well_formed_event_is_refused(job: Job) -> None:
    with pytest.raises(ValueError):
        from_job(job)
