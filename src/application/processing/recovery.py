"""Mending what interrupted work left: videos whose job was given up, videos waiting
with no job (an in-process queue lost at a restart), job directories of killed workers."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

from videoplatform.application.ports.persistence import VideoListQuery
from videoplatform.application.processing.base import ProcessingBase
from videoplatform.application.processing.layout import WORKSPACE_PREFIX
from videoplatform.application.video_jobs import process_video_job, video_prefix
from videoplatform.domain.errors import NotFound
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import VideoStatus


class ProcessingRecovery(ProcessingBase):
    def abandon(self, video_id: VideoId, reason: str) -> bool:
        """The job of this video was given up (it went to the dead letters): record the
        video as failed with ``reason`` unless it already ended; whether it changed."""
        try:
            with self._uow() as uow:
                video = uow.videos.get(video_id)
                if video.status in (VideoStatus.READY, VideoStatus.FAILED):
                    return False
                self._fail(
                    uow, video, f"processing was given up: {reason}", {"dead_lettered": "true"}
                )
        except NotFound:
            return False
        return True

    def requeue_unfinished(self, batch: int = 200) -> int:
        """Queue a processing job (through the outbox) for every video still waiting or
        processing; the count queued. For an in-process queue, whose jobs do not outlive
        the process: run once at start, before any worker takes jobs. A job that turns
        out to be a duplicate is absorbed by :meth:`process`. Whatever interrupted
        attempts stored is removed: a video waiting or processing has no published
        outputs yet (outputs are published only with ``ready``, which is final)."""
        queued = 0
        for status in (VideoStatus.UPLOADED, VideoStatus.PROCESSING):
            after: tuple[datetime | int, str] | None = None
            while True:
                with self._uow() as uow:
                    query = VideoListQuery(viewer_id=None, see_all=True, status=status, after=after)
                    page = uow.videos.list_page(query, batch)
                    now = self._clock.now()
                    for video in page:
                        uow.outbox.add(process_video_job(self._ids, video.id, now))
                    uow.commit()
                for video in page:
                    self._storage.delete_prefix(f"{video_prefix(video.id)}out/")
                queued += len(page)
                if len(page) < batch:
                    break
                after = (page[-1].created_at, page[-1].id)
        return queued

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
