"""How videos are processed, and what a processing job can end in."""

from __future__ import annotations

import enum
from datetime import timedelta
from pathlib import Path

from attrs import frozen

from videoplatform.domain.ids import VideoId
from videoplatform.domain.ladder import DEFAULT_LADDER, RungSpec


@frozen
class ProcessingConfig:
    """How videos are processed. ``work_dir`` is where job-private temporary
    directories are made (None: the system's temporary directory)."""

    ladder: tuple[RungSpec, ...] = DEFAULT_LADDER
    poster_widths: tuple[int, ...] = (1280, 640, 320)
    work_dir: Path | None = None
    max_attempts: int = 3
    """Attempts (claims of the video) before a failure that might pass fails it for good:
    the job queue's own attempt budget, so that the video fails when its job is
    dead-lettered, never later (left processing) nor earlier (with the job acked)."""
    progress_step: int = 5
    """Commit a progress update once it moved at least this many percent..."""
    progress_interval: timedelta = timedelta(seconds=5)
    """... or this long after the last one (whichever comes first)."""

    def __attrs_post_init__(self) -> None:
        if not self.ladder:
            raise ValueError("the ladder needs at least one rung")
        if not self.poster_widths or min(self.poster_widths) < 2:
            raise ValueError("poster widths must be at least 2 pixels")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.progress_step < 1:
            raise ValueError("progress_step must be at least 1")


class ProcessingOutcome(enum.Enum):
    READY = "ready"
    """This job made the video ready."""
    ALREADY_DONE = "already_done"
    """The video was ready, or failed for good, before this job: nothing was done (a
    redelivered job is simply acknowledged)."""
    GONE = "gone"
    """The video was deleted (before or during processing); its outputs are removed."""
    FAILED = "failed"
    """The video failed for good; ``last_error`` says why."""
    GAVE_UP = "gave_up"
    """A failure that might have passed happened on the last allowed attempt: the video
    failed for good, ``last_error`` says why, and the job is given up (dead-lettered)."""
    SUPERSEDED = "superseded"
    """A newer attempt took the video over; this one's outputs are removed."""


class RetryableProcessingError(Exception):
    """This attempt failed for a reason that may pass (a crash, a timeout, storage);
    the video stays processing and the job should be delivered again."""

    def __init__(self, video_id: VideoId, attempt: int, reason: str) -> None:
        super().__init__(f"video {video_id}: attempt {attempt} failed: {reason}")
        self.video_id = video_id
        self.attempt = attempt
        self.reason = reason
