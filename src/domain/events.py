"""Domain events recorded by aggregates and drained by the unit of work after commit."""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from videoplatform.domain.ids import FileId, ShareId, UserId, VideoId


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
class DataExportRequested(DomainEvent):
    """The account's owner asked for an archive of their data (``export_id``)."""

    user_id: UserId
    export_id: str


@frozen
class UserDeleted(DomainEvent):
    """The account is gone, with its videos, files and links."""

    user_id: UserId


@frozen
class UserDisabled(DomainEvent):
    user_id: UserId


@frozen
class UserEnabled(DomainEvent):
    user_id: UserId


@frozen
class UserProfileChanged(DomainEvent):
    """The display name (shown beside the user's videos) or a preference changed."""

    user_id: UserId
    renamed: bool = False


@frozen
class PasswordResetRequested(DomainEvent):
    """The account's owner asked for a password reset code."""

    user_id: UserId


@frozen
class VerificationRequested(DomainEvent):
    """The owner of a pending account asked for a new verification code."""

    user_id: UserId


@frozen
class EmailChangeRequested(DomainEvent):
    """The account's owner asked to move it to another address (a code goes there)."""

    user_id: UserId


@frozen
class EmailChanged(DomainEvent):
    """The account moved to a new address; the old one is told."""

    user_id: UserId
    old_email: str


@frozen
class RegistrationAttempted(DomainEvent):
    """Someone tried to register the address of this existing account."""

    user_id: UserId


@frozen
class RolesChanged(DomainEvent):
    user_id: UserId
    roles: tuple[str, ...]


@frozen
class VideoEvent(DomainEvent):
    """Anything that changed a video (what caches of it listen for)."""

    video_id: VideoId


@frozen
class VideoUploaded(VideoEvent):
    owner_id: UserId


@frozen
class VideoProcessingStarted(VideoEvent):
    pass


@frozen
class VideoProgressed(VideoEvent):
    """Processing reported how far it got (percent)."""

    progress: int


@frozen
class VideoAttemptFailed(VideoEvent):
    """A processing attempt failed; the video waits for the next one."""

    reason: str


@frozen
class VideoReady(VideoEvent):
    pass


@frozen
class VideoRequeued(VideoEvent):
    """A video was queued for processing again: a failed one by a moderator, or one
    whose job was lost, by the sweep."""


@frozen
class VideoFailed(VideoEvent):
    reason: str


@frozen
class VideoUpdated(VideoEvent):
    """Metadata or visibility changed."""


@frozen
class VideoDeleted(VideoEvent):
    pass


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


@frozen
class AccessRefused(DomainEvent):
    """A caller was refused access: not signed in, lacking the permission, or asking for
    what they may not see (hidden or missing alike). Nothing changed, so no unit of work
    commits it: it is raised where the refusal happens and recorded in the audit trail,
    as ``denied`` with ``reason``, after the caller has been answered."""

    audit_id: str
    """The id its audit record takes: a second attempt to record it cannot add another."""
    actor_id: UserId | None
    action: str
    """An ``AuditAction`` value (``video.read``...)."""
    resource_type: str
    resource_id: str | None
    reason: str
    """The refusal's error code (``not_found``, ``permission_denied``...)."""
    ip: str | None
    user_agent: str | None


@frozen
class SearchPerformed(DomainEvent):
    """Someone searched (the first page of a search). Search analytics record the query
    as the engine read it and how many videos matched, never who asked or from where."""

    query: str
    results: int
    public: bool = False
    """A video everyone may see was among the results (the query may be offered to
    others as a completion)."""


@frozen
class SearchResultOpened(DomainEvent):
    """Someone opened a result of a search: the query, the video and its position
    (1 for the first result). Recorded like :class:`SearchPerformed`."""

    query: str
    video_id: VideoId
    position: int
