"""The video feed: processing state changes published so that clients can follow a video.

Processing runs in worker processes, possibly on other machines; the feed carries each
committed change of a video's processing state (claimed, a progress step, ready,
failed, sent back for another attempt) to whoever follows that video, such as an HTTP
event stream. It is a hint, never the source of truth: publishing is best effort (an
outage never fails processing), and a subscriber may miss an update, so followers also
re-read the state from the database now and then.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from attrs import field, frozen

from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import FailureCode, Video, VideoStatus


@frozen
class ProcessingProgress:
    """Where a video is in processing, as of ``at``: what a progress read returns and
    what the feed carries after each committed change. Two states are equal when they
    say the same, whenever they were observed."""

    video_id: VideoId
    status: VideoStatus
    progress: int
    attempts: int
    last_error: str | None
    at: datetime = field(eq=False)
    failure_code: FailureCode | None = None
    reprocessing: bool = False
    """A ready video is being processed again (it plays its current renditions)."""

    @property
    def finished(self) -> bool:
        """Nothing more will happen to it: ready (and not being processed again) or
        failed."""
        return self.status is VideoStatus.FAILED or (
            self.status is VideoStatus.READY and not self.reprocessing
        )

    @classmethod
    def of(cls, video: Video, at: datetime) -> ProcessingProgress:
        return cls(
            video.id,
            video.status,
            video.progress,
            video.run_attempts,
            video.last_error,
            at,
            video.failure_code,
            video.reprocessing,
        )


class Subscription(Protocol):
    """Updates of one video, in the order they were published, from the moment the
    subscription was made. Used by one thread at a time."""

    def next(self, timeout: float) -> ProcessingProgress | None:
        """The next update, or None when none came within ``timeout`` seconds (or the
        feed is unreachable meanwhile: a subscription reconnects by itself). A
        subscriber that falls behind loses older updates, never the latest one."""
        ...

    def close(self) -> None:
        """Stop receiving; closing twice is harmless."""
        ...


class VideoFeed(Protocol):
    def publish(self, update: ProcessingProgress) -> None:
        """Hand ``update`` to the current subscribers of its video. Best effort: never
        raises; a failure is logged and the update is lost."""
        ...

    def subscribe(self, video_id: VideoId) -> Subscription:
        """Follow ``video_id``: every update published after this returns is delivered
        (unless the feed is unreachable). Never raises: a subscription that cannot
        connect yet keeps trying while it is read."""
        ...

    def ping(self) -> None:
        """Check that the feed's server answers, within ``PING_TIMEOUT_SECONDS`` per
        step (``ports.errors``); raise ``Unavailable`` (its detail the reason) when it
        does not. Publishes nothing."""
        ...


class NoFeed:
    """A feed that publishes nowhere and delivers nothing (where nobody follows)."""

    def publish(self, update: ProcessingProgress) -> None:
        return None

    def ping(self) -> None:
        return None

    def subscribe(self, video_id: VideoId) -> Subscription:
        return _Silent()


class _Silent:
    def __init__(self) -> None:
        self._closed = threading.Event()

    def next(self, timeout: float) -> ProcessingProgress | None:
        self._closed.wait(max(0.0, timeout))
        return None

    def close(self) -> None:
        self._closed.set()
