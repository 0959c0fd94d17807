"""What people do with processing: a moderator's retry of a failed video, the owner's or
a moderator's reprocessing of a ready one, and the progress read anyone who may see the
video may make."""

from __future__ import annotations

from videoplatform.application.context import Caller, Hidden, current_user, require_user
from videoplatform.application.ports.feed import ProcessingProgress
from videoplatform.application.processing.base import ProcessingBase
from videoplatform.application.video_access import managed_video
from videoplatform.application.video_jobs import process_video_job
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import InvalidTransition, PermissionDenied
from videoplatform.domain.ids import VideoId
from videoplatform.domain.users import Permission
from videoplatform.domain.videos import VideoStatus


class ProcessingModeration(ProcessingBase):
    def retry(self, caller: Caller, video_id: VideoId) -> ProcessingProgress:
        """A moderator sends a failed video back to be processed again: it waits as
        uploaded, and its processing job is queued in the same transaction.
        InvalidTransition(code="video_not_failed") for a video that has not failed."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_RETRY, "video", video_id),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            video = uow.videos.get(video_id)
            if not user.can(Permission.VIDEO_MODERATE):
                if video.can_be_seen_by(user):
                    raise PermissionDenied("only a moderator may retry processing")
                raise Hidden("video not found")
            if video.status is not VideoStatus.FAILED:
                raise InvalidTransition(
                    f"video {video_id} is {video.status.value}; only a failed video is retried",
                    code="video_not_failed",
                )
            attempts, last_error = video.run_attempts, video.last_error or ""
            now = self._clock.now()
            video.requeue(now)
            uow.videos.save(video)
            uow.outbox.add(process_video_job(self._ids, video_id, now))
            self._audit.record(
                uow,
                caller,
                AuditAction.VIDEO_RETRY,
                "video",
                video_id,
                metadata={"previous_attempts": str(attempts), "last_error": last_error[:500]},
            )
            uow.commit()
        return ProcessingProgress.of(video, self._clock.now())

    def reprocess(self, caller: Caller, video_id: VideoId) -> ProcessingProgress:
        """The owner or a moderator has a ready video processed again with the current
        settings (a new ladder, posters, captions found in the source): it stays ready
        and playable on its current renditions until the new ones replace them, and its
        processing job is queued in the same transaction. InvalidTransition with code
        ``video_not_ready`` (not ready) or ``already_reprocessing``."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_REPROCESS, "video", video_id),
            self._uow() as uow,
        ):
            video = managed_video(
                uow,
                require_user(uow, caller),
                video_id,
                "only the owner or a moderator may reprocess a video",
            )
            now = self._clock.now()
            video.request_reprocessing(now)
            uow.videos.save(video)
            uow.outbox.add(process_video_job(self._ids, video_id, now))
            renditions = ",".join(r.name for r in video.renditions)
            self._audit.record(
                uow,
                caller,
                AuditAction.VIDEO_REPROCESS,
                "video",
                video_id,
                metadata={"current_renditions": renditions},
            )
            uow.commit()
        return ProcessingProgress.of(video, self._clock.now())

    def progress(self, caller: Caller, video_id: VideoId) -> ProcessingProgress:
        """Processing state of a video the caller may see; NotFound otherwise."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_READ, "video", video_id),
            self._uow() as uow,
        ):
            video = uow.videos.get(video_id)
            if not video.can_be_seen_by(current_user(uow, caller)):
                raise Hidden("video not found")
            return ProcessingProgress.of(video, self._clock.now())
