"""Domain events recorded by aggregates and drained by the unit of work after commit."""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from domain.ids import FileId, ShareId, UserId, VideoId


@frozen
class DomainEvent:
    occurred_at: datetime

    @property
    def name(self) -> str:
        return type(self).__name__


@frozen
class UserRegistered(DomainEvent):
    user_id: UserId
    email: str


@frozen
class UserActivated(DomainEvent):
    user_id: UserId


@frozen
class UserDisabled(DomainEvent):
    user_id: UserId


@frozen
class RolesChanged(DomainEvent):
    user_id: UserId
    roles: tuple[str, ...]


@frozen
class VideoUploaded(DomainEvent):
    video_id: VideoId
    owner_id: UserId


@frozen
class VideoProcessingStarted(DomainEvent):
    video_id: VideoId


@frozen
class VideoReady(DomainEvent):
    video_id: VideoId


@frozen
class VideoFailed(DomainEvent):
    video_id: VideoId
    reason: str


@frozen
class VideoDeleted(DomainEvent):
    video_id: VideoId


@frozen
class FileStored(DomainEvent):
    file_id: FileId
    owner_id: UserId


@frozen
class FileDeleted(DomainEvent):
    file_id: FileId


@frozen
class ShareCreated(DomainEvent):
    share_id: ShareId


@frozen
class ShareRevoked(DomainEvent):
    share_id: ShareId


@frozen
class ShareRedeemed(DomainEvent):
    share_id: ShareId
    use_count: int
