"""What every part of processing shares: its adapters, and the steps that change a video
in a unit of work of their own (retried when they lose a race). Followers hear of each
change from the processing events (see application.announcing)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from attrs import frozen

from videoplatform.application.captions import EmbeddedCaptions
from videoplatform.application.concurrency import retry_stale
from videoplatform.application.context import Caller
from videoplatform.application.essentials import Essentials, UseCases
from videoplatform.application.ports.media import MediaTools
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.processing.config import ProcessingConfig
from videoplatform.application.processing.timings import ProcessingTimings
from videoplatform.application.processing.workspace import Workshop
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import FailureCode, Video

log = logging.getLogger(__name__)

T = TypeVar("T")

# Processing acts for nobody in particular: its audit events have no actor.
SYSTEM = Caller()
_SETTLE_TRIES = 3


SERVER_FAULT = (
    "Processing failed because of a problem on our side, not with your file. "
    "It is tried again automatically."
)
GIVEN_UP = (
    "Processing failed because of a problem on our side, not with your file, and "
    "stopped after several tries. An administrator can try it again."
)


@frozen
class Failure:
    """Why processing failed: ``reason`` for the owner, ``code`` for programs, and
    ``detail`` (the technical cause) for the logs and the audit trail only."""

    reason: str
    code: FailureCode
    detail: str = ""


class ProcessingBase(UseCases):
    def __init__(
        self,
        essentials: Essentials,
        storage: ObjectStorage,
        media: MediaTools,
        config: ProcessingConfig,
        timings: ProcessingTimings,
    ) -> None:
        super().__init__(essentials)
        self._storage = storage
        self._config = config
        self._workshop = Workshop(storage, essentials.clock, media, config, timings)
        self._embedded = EmbeddedCaptions(storage, essentials.ids)

    def _settle(self, video_id: VideoId, change: Callable[[UnitOfWork, Video], T]) -> T:
        """Run ``change`` on a fresh copy of the video in its own unit of work, again on
        a stale-version conflict (someone edited the video meanwhile)."""

        def settle_once() -> T:
            with self._uow() as uow:
                return change(uow, uow.videos.get(video_id))

        return retry_stale(_SETTLE_TRIES, settle_once)

    def _record_progress(self, video_id: VideoId, attempt: int, percent: int) -> None:
        with self._uow() as uow:
            video = uow.videos.get(video_id)
            if video.holds_attempt(attempt):
                video.report_progress(percent, self._clock.now())
                uow.videos.save(video)
                uow.commit()

    def _fail(
        self,
        uow: UnitOfWork,
        video: Video,
        failure: Failure,
        metadata: dict[str, str],
    ) -> None:
        """Mark the video failed for good, audited (with the technical detail, which the
        owner does not see) and committed."""
        video.mark_failed(failure.reason, self._clock.now(), failure.code)
        metadata = {**metadata, "reason": failure.reason[:500], "code": failure.code.value}
        if failure.detail:
            metadata["detail"] = failure.detail[:1000]
        self._conclude(uow, video, AuditResult.FAILURE, metadata)

    def _conclude(
        self, uow: UnitOfWork, video: Video, result: AuditResult, metadata: dict[str, str]
    ) -> None:
        """Save how processing ended for ``video``, audit it, and commit."""
        uow.videos.save(video)
        self._audit.record(
            uow, SYSTEM, AuditAction.VIDEO_PROCESS, "video", video.id, result, metadata
        )
        uow.commit()
