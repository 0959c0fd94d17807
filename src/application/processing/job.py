"""One delivery of a processing job, in three steps, so that nothing partial is ever
visible:

1. *claim* (one unit of work): the video starts (or restarts) an attempt. Its attempt
   number is the claim: only the attempt holding the latest number may finish the video,
   so a worker that was given up for dead but still runs can never overwrite the result.
2. *produce* (no transaction open): the source is probed, posters, a storyboard and the
   HLS ladder are written to a job-private temporary directory, then uploaded under a
   storage prefix private to the job and attempt (``videos/<id>/out/<job>/<attempt>/``).
3. *publish* (one unit of work): the video becomes ready pointing at those outputs, with
   its audit event. Outputs of a previous run are removed only after that commit; the
   attempt's own outputs are removed whenever its result is not committed.

A ready video processed again (:meth:`Video.request_reprocessing`) goes through the same
steps but stays ready throughout, playing its current outputs: publishing swaps them for
the new ones in one commit, then removes the old ones. URLs signed for the old outputs
stop at that commit (they name the old prefix's generation); a failure leaves the video
as it was, with the reason for its owner.
"""

from __future__ import annotations

import enum
import logging

from videoplatform.application.captions import EmbeddedCaptions
from videoplatform.application.ports.media import MediaRejected
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.processing.base import (
    GIVEN_UP,
    SERVER_FAULT,
    Failure,
    ProcessingBase,
)
from videoplatform.application.processing.config import ProcessingOutcome, RetryableProcessingError
from videoplatform.application.processing.layout import job_prefix, output_prefix
from videoplatform.application.processing.workspace import Produced
from videoplatform.domain.audit import AuditResult
from videoplatform.domain.errors import NotFound
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import FailureCode, Video, VideoStatus

log = logging.getLogger(__name__)


class _Retry(enum.Enum):
    LATER = "later"


class ProcessingJob(ProcessingBase):
    def process(self, job_id: str, video_id: VideoId) -> ProcessingOutcome:
        """Run one delivery of a processing job. Idempotent: a job delivered again after
        it finished does nothing. Raises :class:`RetryableProcessingError` when the
        attempt failed but another may succeed (the caller delivers the job again);
        any other exception escapes only when the state could not even be recorded."""
        output_prefix(video_id, job_id, 1)  # refuse a malformed job before any change
        claimed = self._claim(video_id, job_id)
        if isinstance(claimed, ProcessingOutcome):
            return claimed
        attempt = claimed.processing_attempts
        prefix = output_prefix(claimed.id, job_id, attempt)
        try:
            # Leftovers of this job's earlier attempts (a worker that died mid-upload);
            # any of them still running has lost its claim and will not publish.
            self._storage.delete_prefix(job_prefix(claimed.id, job_id))
            produced = self._workshop.produce(
                claimed,
                attempt,
                prefix,
                lambda percent: self._record_progress(claimed.id, attempt, percent),
            )
            return self._publish(claimed.id, job_id, attempt, produced)
        except MediaRejected as rejected:
            self._discard(claimed.id, prefix)
            failure = Failure(rejected.reason, rejected.code)
            return self._after_failure(claimed.id, attempt, prefix, failure, True)
        except NotFound as missing:
            # The video may have been deleted meanwhile; otherwise its source is gone,
            # which no retry can mend.
            self._discard(claimed.id, prefix)
            failure = Failure(
                "The uploaded file can no longer be read. Upload it again.",
                FailureCode.SOURCE_MISSING,
                missing.message,
            )
            return self._after_failure(claimed.id, attempt, prefix, failure, True)
        except Exception as error:
            # A fault of the machine (a killed process, storage, a time limit): worth
            # another attempt. The owner reads that it was not their file.
            self._discard(claimed.id, prefix)
            log.warning("video %s: attempt %d failed", claimed.id, attempt, exc_info=True)
            failure = Failure(
                SERVER_FAULT, FailureCode.PROCESSING_ERROR, f"{type(error).__name__}: {error}"
            )
            return self._after_failure(claimed.id, attempt, prefix, failure, False)

    def _claim(self, video_id: VideoId, job_id: str) -> Video | ProcessingOutcome:
        def claim(uow: UnitOfWork, video: Video) -> Video | ProcessingOutcome:
            if video.status is VideoStatus.FAILED or (
                video.status is VideoStatus.READY and not video.reprocessing
            ):
                return ProcessingOutcome.ALREADY_DONE
            if video.assets is not None and video.assets.prefix.startswith(
                job_prefix(video.id, job_id)
            ):
                # A late copy of the job whose outputs the video plays now: that job is
                # done (and its prefix is in use), whatever is pending since.
                return ProcessingOutcome.ALREADY_DONE
            now = self._clock.now()
            if video.status is VideoStatus.READY:
                video.start_reprocessing(now)
            elif video.status is VideoStatus.PROCESSING:
                video.restart_processing(now)
            else:
                video.start_processing(now)
            uow.videos.save(video)
            uow.commit()
            return video

        try:
            return self._settle(video_id, claim)
        except NotFound:
            return ProcessingOutcome.GONE

    def _publish(
        self, video_id: VideoId, job_id: str, attempt: int, produced: Produced
    ) -> ProcessingOutcome:
        prefix = produced.assets.prefix
        previous: list[str] = []
        # Subtitle streams of the source become caption tracks in the same commit; their
        # sanitised text is stored first, under keys of its own.
        prepared = self._embedded.prepare_embedded(video_id, produced.subtitles)
        replaced: list[str] = []
        unused: list[str] = []

        def ready(uow: UnitOfWork, video: Video) -> ProcessingOutcome:
            if not video.holds_attempt(attempt):
                return ProcessingOutcome.SUPERSEDED
            old = video.assets.prefix if video.assets is not None else prefix
            previous[:] = [old] if old != prefix else []
            again = video.reprocessing
            now = self._clock.now()
            video.mark_ready(
                media_info=produced.info,
                renditions=produced.renditions,
                assets=produced.assets,
                now=now,
            )
            replaced[:], unused[:] = EmbeddedCaptions.adopt_embedded(uow, video, prepared, now)
            metadata = {
                "job_id": job_id,
                "attempt": str(attempt),
                "renditions": ",".join(r.name for r in produced.renditions),
                "duration_seconds": f"{produced.info.duration_seconds:g}",
            }
            if again:
                metadata["reprocessed"] = "true"
            if prepared:
                metadata["captions"] = ",".join(p.language for p in prepared)
            self._conclude(uow, video, AuditResult.SUCCESS, metadata)
            return ProcessingOutcome.READY

        try:
            outcome = self._settle(video_id, ready)
        except NotFound:
            outcome = ProcessingOutcome.GONE
        if outcome is not ProcessingOutcome.READY:
            self._discard(video_id, prefix)
            self._embedded.forget([p.key for p in prepared])
            return outcome
        self._embedded.forget(replaced + unused)
        for old in previous:
            try:
                self._storage.delete_prefix(old)
            except Exception:  # the video is ready; old bytes are only an orphan now
                log.warning("video %s: could not remove old outputs %s", video_id, old)
        return outcome

    def _after_failure(
        self, video_id: VideoId, attempt: int, prefix: str, failure: Failure, permanent: bool
    ) -> ProcessingOutcome:
        """Record a failed attempt: for good when it is permanent (FAILED) or the last
        allowed one (GAVE_UP), else keep the reason and ask for another delivery."""

        def settle(uow: UnitOfWork, video: Video) -> ProcessingOutcome | _Retry:
            if not video.holds_attempt(attempt):
                ours = video.assets is not None and video.assets.prefix == prefix
                return ProcessingOutcome.READY if ours else ProcessingOutcome.SUPERSEDED
            now = self._clock.now()
            if not permanent and attempt - video.attempt_base < self._config.max_attempts:
                video.note_failed_attempt(failure.reason, now, failure.code)
                uow.videos.save(video)
                uow.commit()
                return _Retry.LATER
            final = failure if permanent else Failure(GIVEN_UP, failure.code, failure.detail)
            self._fail(uow, video, final, {"attempt": str(attempt)})
            return ProcessingOutcome.FAILED if permanent else ProcessingOutcome.GAVE_UP

        try:
            outcome = self._settle(video_id, settle)
        except NotFound:
            return ProcessingOutcome.GONE
        if outcome is _Retry.LATER:
            raise RetryableProcessingError(video_id, attempt, failure.detail or failure.reason)
        return outcome

    def _discard(self, video_id: VideoId, prefix: str) -> None:
        """Remove an attempt's outputs, unless the video points at them: a commit that
        reported a failure may still have landed. When that cannot be told, keep them
        (an orphan is better than a ready video without its files)."""
        try:
            with self._uow() as uow:
                video: Video | None = uow.videos.get(video_id)
        except NotFound:
            video = None
        except Exception:
            log.warning("video %s: cannot tell whether %s is in use; kept", video_id, prefix)
            return
        if video is not None and video.assets is not None and video.assets.prefix == prefix:
            return
        self._storage.delete_prefix(prefix)
