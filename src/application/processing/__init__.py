"""Processing: turning an uploaded video into a ready one (:mod:`.job`), mending what
interrupted work left (:mod:`.recovery`), the moderator's retry and the progress read
(:mod:`.moderation`). The outputs are made by :mod:`.workspace` under the keys of
:mod:`.layout`; :mod:`.progress` throttles progress updates."""

from __future__ import annotations

from videoplatform.application.processing.config import (
    ProcessingConfig,
    ProcessingOutcome,
    RetryableProcessingError,
)
from videoplatform.application.processing.job import ProcessingJob
from videoplatform.application.processing.layout import WORKSPACE_PREFIX, job_prefix, output_prefix
from videoplatform.application.processing.moderation import ProcessingModeration
from videoplatform.application.processing.recovery import ProcessingRecovery
from videoplatform.application.processing.workspace import poster_widths


class ProcessingService(ProcessingJob, ProcessingRecovery, ProcessingModeration):
    """Every processing use case; see the modules of this package."""


__all__ = [
    "WORKSPACE_PREFIX",
    "ProcessingConfig",
    "ProcessingOutcome",
    "ProcessingService",
    "RetryableProcessingError",
    "job_prefix",
    "output_prefix",
    "poster_widths",
]
