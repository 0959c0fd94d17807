"""Where processing keeps things: storage keys of a job's outputs (built from internal
ids only) and the names of its temporary directories."""

from __future__ import annotations

import re

from videoplatform.application.video_jobs import video_prefix
from videoplatform.domain.ids import VideoId

WORKSPACE_PREFIX = "video-job-"

# Job ids come from the queue (outbox message ids), never from users; they still become
# part of storage keys, so anything but a plain token is refused.
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def job_prefix(video_id: VideoId, job_id: str) -> str:
    """Where every attempt of one job writes: built from internal ids only."""
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError("a job id is 1 to 64 letters, digits, '_' or '-'")
    return f"{video_prefix(video_id)}out/{job_id}/"


def output_prefix(video_id: VideoId, job_id: str, attempt: int) -> str:
    """Where one attempt of one job writes its outputs."""
    return f"{job_prefix(video_id, job_id)}{attempt}/"
