"""Processing jobs of videos: the outbox record that asks for one, and where a video's
objects live in storage (keys never come from user input)."""

from __future__ import annotations

from datetime import datetime

from videoplatform.application.ports.persistence import (
    OutboxMessage,
)
from videoplatform.application.ports.system import IdGenerator
from videoplatform.domain.ids import VideoId

PROCESS_VIDEO = "process-video"


def process_video_job(ids: IdGenerator, video_id: VideoId, now: datetime) -> OutboxMessage:
    """The outbox record that asks for ``video_id`` to be processed; written in the same
    transaction as the change that calls for it."""
    return OutboxMessage(
        id=ids.new_id(), topic=PROCESS_VIDEO, payload={"video_id": video_id}, created_at=now
    )


def video_prefix(video_id: VideoId) -> str:
    """Every object of a video lives under this prefix; keys never come from user input."""
    return f"videos/{video_id}/"
