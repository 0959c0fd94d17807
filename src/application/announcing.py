"""Telling followers of a video each committed change of its processing state.

An in-process after-commit handler (``feed.announce``) of the processing events: it
reads the video as committed and publishes its state on the video feed (in-process, or
Redis for every node). Cheap and best effort: a lost announcement only delays a
follower until its next read of the database (see :mod:`.following`).
"""

from __future__ import annotations

import logging

from attrs import frozen

from videoplatform.application.ports.feed import ProcessingProgress, VideoFeed
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.system import Clock
from videoplatform.domain.errors import NotFound
from videoplatform.domain.events import (
    VideoAttemptFailed,
    VideoEvent,
    VideoFailed,
    VideoProcessingStarted,
    VideoProgressed,
    VideoReady,
    VideoRequeued,
)

log = logging.getLogger(__name__)

ANNOUNCED: tuple[type[VideoEvent], ...] = (
    VideoProcessingStarted,
    VideoProgressed,
    VideoAttemptFailed,
    VideoReady,
    VideoFailed,
    VideoRequeued,
)


@frozen
class ProgressAnnouncer:
    uow: UnitOfWorkFactory
    feed: VideoFeed
    clock: Clock

    def __call__(self, event: VideoEvent) -> None:
        if not isinstance(event, ANNOUNCED):
            return
        try:
            with self.uow() as uow:
                video = uow.videos.get(event.video_id)
        except NotFound:
            return  # deleted since: its followers' streams end on their next read
        try:
            self.feed.publish(ProcessingProgress.of(video, self.clock.now()))
        except Exception:
            log.warning("video %s: progress update not published", video.id, exc_info=True)
