"""Mending what interrupted work left: videos whose job was given up, videos waiting
with no job (an in-process queue lost at a restart), job directories of killed workers."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta

from videoplatform.application.ports.persistence import UnitOfWork, VideoListQuery
from videoplatform.application.processing.base import GIVEN_UP, SYSTEM, Failure, ProcessingBase
from videoplatform.application.processing.layout import WORKSPACE_PREFIX
from videoplatform.application.video_jobs import process_video_job, video_prefix
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import NotFound
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import FailureCode, Video, VideoStatus

log = logging.getLogger(__name__)


class ProcessingRecovery(ProcessingBase):
    def abandon(self, video_id: VideoId, reason: str) -> bool:
        """The job of this video was given up (it went to the dead letters): record the
        video as failed with ``reason`` unless it already ended; whether it changed."""
        try:
            with self._uow() as uow:
                video = uow.videos.get(video_id)
                if not (video.status is VideoStatus.UPLOADED or video.is_processing):
                    return False
                failure = Failure(GIVEN_UP, FailureCode.PROCESSING_ERROR, reason)
                self._fail(uow, video, failure, {"dead_lettered": "true"})
        except NotFound:
            return False
        return True

    def requeue_unfinished(self, batch: int = 200) -> int:
        """Queue a processing job (through the outbox) for every video still waiting or
        processing (or being processed again); the count queued. For an in-process
        queue, whose jobs do not outlive the process: run once at start, before any
        worker takes jobs. A job that turns out to be a duplicate is absorbed by
        :meth:`process`. Whatever interrupted attempts stored is removed: a video waiting
        or processing has no published outputs yet (outputs are published only with
        ``ready``). A ready video being processed again keeps its outputs; each new job
        clears its own prefix."""
        queued = 0
        for page in self._waiting(batch):
            with self._uow() as uow:
                now = self._clock.now()
                for video in page:
                    uow.outbox.add(process_video_job(self._ids, video.id, now))
                uow.commit()
            for video in page:
                if video.assets is None:
                    self._storage.delete_prefix(f"{video_prefix(video.id)}out/")
            queued += len(page)
        return queued

    def _waiting(self, batch: int) -> Iterator[list[Video]]:
        """Pages of ``batch`` videos waiting, processing or being processed again."""
        wanted: tuple[tuple[VideoStatus, bool | None], ...] = (
            (VideoStatus.UPLOADED, None),
            (VideoStatus.PROCESSING, None),
            (VideoStatus.READY, True),
        )
        for status, again in wanted:
            after: tuple[datetime | int, str] | None = None
            while True:
                with self._uow() as uow:
                    query = VideoListQuery(
                        viewer_id=None,
                        see_all=True,
                        status=status,
                        reprocessing=again,
                        after=after,
                    )
                    page = uow.videos.list_page(query, batch)
                if page:
                    yield page
                if len(page) < batch:
                    break
                after = (page[-1].created_at, page[-1].id)

    def requeue_stranded(self, older_than: timedelta, batch: int = 200) -> int:
        """Queue a job again for every video waiting or processing that nothing
        happened to for ``older_than`` (longer than any attempt may take): its job was
        lost, say dead-lettered while its outcome could not be recorded. Each is
        audited and announced; a job that turns out to be a duplicate is absorbed by
        :meth:`process`. The count queued."""
        cutoff = self._clock.now() - older_than
        stranded = [v.id for page in self._waiting(batch) for v in page if v.updated_at < cutoff]
        return sum(
            self._settle(v, lambda uow, video: self._resume(uow, video, cutoff)) for v in stranded
        )

    def _resume(self, uow: UnitOfWork, video: Video, cutoff: datetime) -> bool:
        if not (video.status is VideoStatus.UPLOADED or video.is_processing):
            return False
        if video.updated_at >= cutoff:
            return False  # something happened to it meanwhile
        now = self._clock.now()
        quiet = video.updated_at
        video.resume_stranded(now)
        uow.videos.save(video)
        uow.outbox.add(process_video_job(self._ids, video.id, now))
        self._audit.record(
            uow,
            SYSTEM,
            AuditAction.VIDEO_RETRY,
            "video",
            video.id,
            metadata={"reason": "stranded", "quiet_since": quiet.isoformat()},
        )
        uow.commit()
        log.warning("video %s had no job since %s: queued again", video.id, quiet.isoformat())
        return True

    def sweep_workspaces(self, older_than: timedelta) -> int:
        """Remove job directories left in the work directory by attempts that died
        (a killed worker cannot clean up after itself), if untouched for
        ``older_than``; how many were removed. Zero is right only while no job runs."""
        root = self._config.work_dir
        if root is None or not root.is_dir():
            return 0
        cutoff = self._clock.now().timestamp() - older_than.total_seconds()
        removed = 0
        for entry in root.glob(f"{WORKSPACE_PREFIX}*"):
            try:
                stale = (
                    entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime <= cutoff
                )
            except OSError:
                continue
            if stale:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed
