"""What the API returns: explicit views of domain objects. Secrets (hashes, digests) and
internals (storage keys) never appear in a view."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from attrs import field, frozen

from videoplatform.application.pagination import Page
from videoplatform.application.ports.feed import ProcessingProgress
from videoplatform.application.video_documents import video_document
from videoplatform.domain.audit import AuditEvent
from videoplatform.domain.categories import Category
from videoplatform.domain.files import StoredFile
from videoplatform.domain.shares import Share
from videoplatform.domain.users import ApiToken, User, scopes_text
from videoplatform.domain.videos import FailureCode, Video
from videoplatform.entrypoints.http.convert import dump


@frozen
class UserView:
    """A user account."""

    id: str
    email: str
    display_name: str
    roles: list[str]
    status: Literal["pending", "active", "disabled"]
    created_at: datetime
    default_visibility: Literal["public", "unlisted", "private"]
    """Of the user's new uploads when an upload does not say."""
    two_factor: bool = field(
        default=False, metadata={"doc": "whether logging in asks for a one-time code too"}
    )
    bio: str = field(default="", metadata={"doc": "a few words about the user"})
    mail_on_processing: bool = field(
        default=True, metadata={"doc": "mailed when a video of theirs is ready or failed"}
    )
    avatar_url: str | None = field(
        default=None,
        metadata={"doc": "their avatar (add ?size=small for the small one); null for none"},
    )

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id,
            email=user.email.value,
            display_name=user.display_name,
            roles=sorted(r.value for r in user.roles),
            status=user.status.value,
            created_at=user.created_at,
            default_visibility=user.default_visibility.value,
            two_factor=user.two_factor_on,
            bio=user.bio,
            mail_on_processing=user.mail_on_processing,
            avatar_url=None
            if user.avatar is None
            else f"/api/v1/users/{user.id}/avatar?v={user.avatar}",
        )


@frozen
class SessionView:
    """A bearer token, shown once. Send it as ``Authorization: Bearer <token>``."""

    token: str
    token_id: str
    user_id: str
    expires_at: datetime | None


@frozen
class TokenView:
    """A personal API token (its secret is never shown again)."""

    id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    scopes: list[str] = field(metadata={"doc": "what it may be used for"})
    parent_id: str | None = field(
        metadata={"doc": "the personal token that made it (it is revoked with that one)"}
    )

    @classmethod
    def of(cls, token: ApiToken) -> TokenView:
        return cls(
            token.id,
            token.name,
            token.created_at,
            token.expires_at,
            token.revoked_at,
            scopes_text(token.scopes).split(),
            token.parent_id,
        )


@frozen
class RenditionView:
    name: str
    width: int
    height: int
    bitrate: int
    codecs: str


@frozen
class MediaInfoView:
    duration_seconds: float
    width: int
    height: int
    video_codec: str | None
    audio_codec: str | None
    fps: float
    bitrate: int
    rotation: int
    audio_channels: int
    subtitle_languages: list[str]


@frozen
class VideoView:
    """A video and its processing state."""

    id: str
    owner_id: str
    title: str
    description: str
    category_id: str | None
    tags: list[str]
    visibility: Literal["public", "unlisted", "private"]
    status: Literal["uploaded", "processing", "ready", "failed"]
    reprocessing: bool
    progress: int
    last_error: str | None
    failure_code: FailureCode | None
    kind: Literal["video", "audio"] | None
    """What processing found: a picture (``video``) or sound only (``audio``)."""
    size: int
    poster_at_seconds: float | None
    media_info: MediaInfoView | None
    renditions: list[RenditionView]
    created_at: datetime
    updated_at: datetime
    view_count: int

    @classmethod
    def of(cls, video: Video) -> VideoView:
        info = video.media_info
        return cls(
            id=video.id,
            owner_id=video.owner_id,
            title=video.title,
            description=video.description,
            category_id=video.category_id,
            tags=list(video.tags),
            visibility=video.visibility.value,
            status=video.status.value,
            reprocessing=video.reprocessing,
            progress=video.progress,
            last_error=video.last_error,
            failure_code=video.failure_code,
            kind=None if info is None else "audio" if info.is_audio_only else "video",
            view_count=video.view_count,
            size=video.source_size,
            poster_at_seconds=video.poster_at_seconds,
            media_info=None
            if info is None
            else MediaInfoView(
                info.duration_seconds,
                info.width,
                info.height,
                info.video_codec,
                info.audio_codec,
                info.fps,
                info.bitrate,
                info.rotation,
                info.audio_channels,
                list(info.subtitle_languages),
            ),
            renditions=[
                RenditionView(r.name, r.width, r.height, r.bitrate, r.codecs)
                for r in video.renditions
            ],
            created_at=video.created_at,
            updated_at=video.updated_at,
        )

    @staticmethod
    def data(video: Video) -> dict[str, Any]:
        """``dump(VideoView.of(video))``, built directly: the video's document
        (``application.video_documents``, what lists read stored) with its view count.
        The view then cattrs cost a list more than its query."""
        document = video_document(video)
        document["view_count"] = video.view_count
        return document


@frozen
class ProcessingView:
    """Where a video is in processing."""

    id: str
    status: Literal["uploaded", "processing", "ready", "failed"]
    progress: int
    attempts: int
    last_error: str | None
    failure_code: FailureCode | None
    reprocessing: bool

    @classmethod
    def of(cls, state: ProcessingProgress) -> ProcessingView:
        return cls(
            state.video_id,
            state.status.value,
            state.progress,
            state.attempts,
            state.last_error,
            state.failure_code,
            state.reprocessing,
        )


@frozen
class FileView:
    """A stored file."""

    id: str
    owner_id: str
    name: str
    folder: str
    size: int
    content_type: str
    sha256: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, stored: StoredFile) -> FileView:
        return cls(
            stored.id,
            stored.owner_id,
            stored.name,
            stored.folder.value,
            stored.size,
            stored.content_type,
            stored.sha256,
            stored.created_at,
            stored.updated_at,
        )


@frozen
class ShareView:
    """A share link (its token is shown only when it is created)."""

    id: str
    target_type: Literal["video", "file"]
    target_id: str
    created_at: datetime
    expires_at: datetime | None
    password_protected: bool
    max_uses: int | None
    use_count: int
    revoked_at: datetime | None

    @classmethod
    def of(cls, share: Share) -> ShareView:
        return cls(
            share.id,
            share.target.kind.value,
            share.target.id,
            share.created_at,
            share.expires_at,
            share.requires_password,
            share.max_uses,
            share.use_count,
            share.revoked_at,
        )


@frozen
class CreatedShareView:
    """A new share link. ``token`` is shown this once."""

    share: ShareView
    token: str
    url: str


@frozen
class SharedFileView:
    """A file as a link's recipient sees it: no owner, folder or internal details."""

    id: str
    name: str
    size: int
    content_type: str
    created_at: datetime

    @classmethod
    def of(cls, stored: StoredFile) -> SharedFileView:
        return cls(stored.id, stored.name, stored.size, stored.content_type, stored.created_at)


@frozen
class RedeemedShareView:
    """What a share link opens: a video or a file."""

    target_type: Literal["video", "file"]
    video: VideoView | None = None
    file: SharedFileView | None = None


@frozen
class AuditEventView:
    id: str
    occurred_at: datetime
    actor_id: str | None
    action: str
    resource_type: str
    resource_id: str | None
    result: Literal["success", "failure", "denied"]
    ip: str | None
    user_agent: str | None
    metadata: dict[str, str]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventView:
        return cls(
            event.id,
            event.occurred_at,
            event.actor_id,
            event.action.value,
            event.resource_type,
            event.resource_id,
            event.result.value,
            event.ip,
            event.user_agent,
            dict(event.metadata),
        )


@frozen
class CategoryView:
    id: str
    name: str
    slug: str

    @classmethod
    def of(cls, category: Category) -> CategoryView:
        return cls(category.id, category.name, category.slug)


def page_of(page: Page[Any], view: Any) -> dict[str, object]:
    """A page as JSON-ready data: its items through ``view.data`` where the view has
    one, else ``view.of``."""
    direct = getattr(view, "data", None)
    items = (
        [direct(item) for item in page.items]
        if direct is not None
        else [dump(view.of(item)) for item in page.items]
    )
    return {"items": items, "next_cursor": page.next_cursor}
