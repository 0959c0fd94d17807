"""Reading a video for a caller under the access policy: one place decides what is
hidden (reported exactly like a missing video) and what is refused."""

from __future__ import annotations

from videoplatform.application.context import Hidden
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.domain.errors import PermissionDenied
from videoplatform.domain.ids import VideoId
from videoplatform.domain.users import User
from videoplatform.domain.videos import Video


def visible_video(uow: UnitOfWork, user: User | None, video_id: VideoId) -> Video:
    """The video if ``user`` (None: the public) may see it; Hidden otherwise."""
    video = uow.videos.get(video_id)
    if not video.can_be_seen_by(user):
        raise Hidden("video not found")
    return video


def managed_video(uow: UnitOfWork, user: User, video_id: VideoId, refusal: str) -> Video:
    """The video if ``user`` may change it; PermissionDenied (``refusal``) when they may
    only see it, Hidden when they may not even see it."""
    video = visible_video(uow, user, video_id)
    if not video.is_managed_by(user):
        raise PermissionDenied(refusal)
    return video
