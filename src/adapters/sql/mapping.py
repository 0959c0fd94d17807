"""Explicit conversion between rows and domain objects (no ORM instrumentation)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from videoplatform.adapters.sql.types import json_value
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.captions import CaptionKind, CaptionOrigin, CaptionTrack
from videoplatform.domain.categories import Category
from videoplatform.domain.files import FolderPath, StoredFile
from videoplatform.domain.ids import (
    AuditEventId,
    CaptionId,
    CategoryId,
    FileId,
    ShareId,
    TokenId,
    UserId,
    VideoId,
)
from videoplatform.domain.shares import Share, ShareTarget, ShareTargetKind
from videoplatform.domain.uploads import (
    ResumableUpload,
    UploadId,
    UploadKind,
    UploadPart,
    UploadResult,
)
from videoplatform.domain.users import (
    ApiToken,
    Email,
    Role,
    Scope,
    SecondFactor,
    TokenKind,
    User,
    UserStatus,
    scopes_text,
)
from videoplatform.domain.videos import (
    FailureCode,
    MediaInfo,
    PlaybackAssets,
    Poster,
    Rendition,
    Storyboard,
    Video,
    VideoStatus,
    Visibility,
)

Row = Mapping[Any, Any]


def user_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email.value,
        "display_name": user.display_name,
        "password_hash": user.password_hash,
        "roles": ",".join(sorted(r.value for r in user.roles)),
        "status": user.status.value,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "default_visibility": user.default_visibility.value,
        **_second_factor_row(user.second_factor),
        "pending_email": None if user.pending_email is None else user.pending_email.value,
        "bio": user.bio,
        "avatar": user.avatar,
        "mail_on_processing": user.mail_on_processing,
    }


def _second_factor_row(held: SecondFactor | None) -> dict[str, Any]:
    return {
        "totp_secret": None if held is None else held.sealed_secret,
        "totp_confirmed_at": None if held is None else held.confirmed_at,
        "totp_last_step": 0 if held is None else held.last_step,
        "recovery_codes": "" if held is None else " ".join(held.recovery_digests),
    }


def user_from(row: Row) -> User:
    return User(
        id=UserId(row["id"]),
        email=Email(row["email"]),
        display_name=row["display_name"],
        password_hash=row["password_hash"],
        roles=frozenset(Role(r) for r in row["roles"].split(",") if r),
        status=UserStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        default_visibility=Visibility(row["default_visibility"]),
        second_factor=None
        if row["totp_secret"] is None
        else SecondFactor(
            row["totp_secret"],
            row["totp_confirmed_at"],
            row["totp_last_step"],
            tuple(row["recovery_codes"].split()),
        ),
        pending_email=None if row["pending_email"] is None else Email(row["pending_email"]),
        bio=row["bio"],
        avatar=row["avatar"],
        mail_on_processing=bool(row["mail_on_processing"]),
        version=row["version"],
    )


def token_row(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "user_id": token.user_id,
        "kind": token.kind.value,
        "name": token.name,
        "token_hash": token.token_hash,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "scopes": scopes_text(token.scopes),
        "parent_id": token.parent_id,
    }


def token_from(row: Row) -> ApiToken:
    return ApiToken(
        id=TokenId(row["id"]),
        user_id=UserId(row["user_id"]),
        kind=TokenKind(row["kind"]),
        name=row["name"],
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        scopes=frozenset(Scope(name) for name in row["scopes"].split()),
        parent_id=None if row["parent_id"] is None else TokenId(row["parent_id"]),
        version=row["version"],
    )


def _media_info(data: dict[str, Any] | None) -> MediaInfo | None:
    return None if data is None else MediaInfo(**data)


# The JSON columns of videos (FrozenJsonText) come back as text. Each distinct text is
# parsed once per process into the immutable values it holds (frozen attrs classes and
# tuples, safe to share between aggregates): a list page maps twenty rows, and parsing
# then building these values cost more than its query. The texts repeat: a first page
# is read again and again, and videos of one ladder share their renditions' text.
PARSED_TEXTS = 4096


@lru_cache(maxsize=PARSED_TEXTS)
def _tags_of(text: str) -> tuple[str, ...]:
    return tuple(json_value(text))


@lru_cache(maxsize=PARSED_TEXTS)
def _media_info_of(text: str | None) -> MediaInfo | None:
    return None if text is None else _media_info(json_value(text))


@lru_cache(maxsize=PARSED_TEXTS)
def _renditions_of(text: str) -> tuple[Rendition, ...]:
    return tuple(
        Rendition(r["name"], r["width"], r["height"], r["bitrate"], r["codecs"], r["playlist_key"])
        for r in json_value(text)
    )


@lru_cache(maxsize=PARSED_TEXTS)
def _assets_of(text: str | None) -> PlaybackAssets | None:
    return None if text is None else _assets(json_value(text))


# Enum members by value: a dict lookup costs a tenth of calling the enum, and a list page
# maps two per row.
_VISIBILITIES = {v.value: v for v in Visibility}
_STATUSES = {s.value: s for s in VideoStatus}


def _media_info_data(info: MediaInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "duration_seconds": info.duration_seconds,
        "width": info.width,
        "height": info.height,
        "video_codec": info.video_codec,
        "audio_codec": info.audio_codec,
        "fps": info.fps,
        "bitrate": info.bitrate,
        "rotation": info.rotation,
        "container": info.container,
        "audio_channels": info.audio_channels,
        "subtitle_languages": list(info.subtitle_languages),
    }


def _assets_data(assets: PlaybackAssets | None) -> dict[str, Any] | None:
    if assets is None:
        return None
    board = assets.storyboard
    return {
        "prefix": assets.prefix,
        "master_playlist": assets.master_playlist,
        "posters": [{"width": p.width, "height": p.height, "path": p.path} for p in assets.posters],
        "storyboard": None
        if board is None
        else {
            "vtt_path": board.vtt_path,
            "sprite_path": board.sprite_path,
            "tile_width": board.tile_width,
            "tile_height": board.tile_height,
            "interval_seconds": board.interval_seconds,
        },
        "timeline_pts": assets.timeline_pts,
    }


def _assets(data: dict[str, Any] | None) -> PlaybackAssets | None:
    if data is None:
        return None
    board = data["storyboard"]
    return PlaybackAssets(
        prefix=data["prefix"],
        master_playlist=data["master_playlist"],
        posters=tuple(Poster(**p) for p in data["posters"]),
        storyboard=None if board is None else Storyboard(**board),
        timeline_pts=data.get("timeline_pts", 0),
    )


def video_row(video: Video) -> dict[str, Any]:
    """Every column but ``view_count``, which only atomic increments change, and
    ``owner_disabled``, which only the owner-wide update changes."""
    return {
        "id": video.id,
        "owner_id": video.owner_id,
        "title": video.title,
        "description": video.description,
        "category_id": video.category_id,
        "tags": list(video.tags),
        "visibility": video.visibility.value,
        "status": video.status.value,
        "source_key": video.source_key,
        "source_size": video.source_size,
        "source_sha256": video.source_sha256,
        "media_info": _media_info_data(video.media_info),
        "renditions": [
            {
                "name": r.name,
                "width": r.width,
                "height": r.height,
                "bitrate": r.bitrate,
                "codecs": r.codecs,
                "playlist_key": r.playlist_key,
            }
            for r in video.renditions
        ],
        "assets": _assets_data(video.assets),
        "poster_at_seconds": video.poster_at_seconds,
        "progress": video.progress,
        "last_error": video.last_error,
        "failure_code": video.failure_code.value if video.failure_code else None,
        "processing_attempts": video.processing_attempts,
        "reprocessing": video.reprocessing,
        "attempt_base": video.attempt_base,
        "created_at": video.created_at,
        "updated_at": video.updated_at,
    }


def video_from(row: Row) -> Video:
    return Video(
        id=VideoId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        title=row["title"],
        description=row["description"],
        category_id=CategoryId(row["category_id"]) if row["category_id"] else None,
        tags=_tags_of(row["tags"]),
        visibility=_VISIBILITIES[row["visibility"]],
        status=_STATUSES[row["status"]],
        source_key=row["source_key"],
        source_size=row["source_size"],
        source_sha256=row["source_sha256"],
        media_info=_media_info_of(row["media_info"]),
        renditions=_renditions_of(row["renditions"]),
        assets=_assets_of(row["assets"]),
        poster_at_seconds=row["poster_at_seconds"],
        progress=row["progress"],
        last_error=row["last_error"],
        failure_code=FailureCode(row["failure_code"]) if row["failure_code"] else None,
        view_count=row["view_count"],
        processing_attempts=row["processing_attempts"],
        reprocessing=bool(row["reprocessing"]),
        attempt_base=row["attempt_base"],
        owner_disabled=bool(row["owner_disabled"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def file_row(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": stored.id,
        "owner_id": stored.owner_id,
        "name": stored.name,
        "folder": stored.folder.value,
        "size": stored.size,
        "content_type": stored.content_type,
        "sha256": stored.sha256,
        "storage_key": stored.storage_key,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }


def file_from(row: Row) -> StoredFile:
    return StoredFile(
        id=FileId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        name=row["name"],
        folder=FolderPath(row["folder"]),
        size=row["size"],
        content_type=row["content_type"],
        sha256=row["sha256"],
        storage_key=row["storage_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def caption_row(track: CaptionTrack) -> dict[str, Any]:
    return {
        "id": track.id,
        "video_id": track.video_id,
        "language": track.language,
        "label": track.label,
        "kind": track.kind.value,
        "origin": track.origin.value,
        "storage_key": track.storage_key,
        "cue_count": track.cue_count,
        "size": track.size,
        "created_at": track.created_at,
        "updated_at": track.updated_at,
    }


def caption_from(row: Row) -> CaptionTrack:
    return CaptionTrack(
        id=CaptionId(row["id"]),
        video_id=VideoId(row["video_id"]),
        language=row["language"],
        label=row["label"],
        kind=CaptionKind(row["kind"]),
        origin=CaptionOrigin(row["origin"]),
        storage_key=row["storage_key"],
        cue_count=row["cue_count"],
        size=row["size"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def upload_row(upload: ResumableUpload) -> dict[str, Any]:
    result = upload.result
    return {
        "id": upload.id,
        "owner_id": upload.owner_id,
        "kind": upload.kind.value,
        "metadata": dict(upload.metadata),
        "length": upload.length,
        "upload_offset": upload.offset,
        "parts": [[part.key, part.size] for part in upload.parts],
        "created_at": upload.created_at,
        "expires_at": upload.expires_at,
        "result_kind": None if result is None else result.kind.value,
        "result_id": None if result is None else result.id,
        "completing_since": upload.completing_since,
    }


def upload_from(row: Row) -> ResumableUpload:
    kind = row["result_kind"]
    return ResumableUpload(
        id=UploadId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        kind=UploadKind(row["kind"]),
        metadata={str(k): str(v) for k, v in row["metadata"].items()},
        length=row["length"],
        offset=row["upload_offset"],
        parts=[UploadPart(str(key), int(size)) for key, size in row["parts"]],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        result=None if kind is None else UploadResult(UploadKind(kind), row["result_id"]),
        completing_since=row["completing_since"],
        version=row["version"],
    )


def share_row(share: Share) -> dict[str, Any]:
    return {
        "id": share.id,
        "owner_id": share.owner_id,
        "target_kind": share.target.kind.value,
        "target_id": share.target.id,
        "token_hash": share.token_hash,
        "created_at": share.created_at,
        "expires_at": share.expires_at,
        "password_hash": share.password_hash,
        "max_uses": share.max_uses,
        "use_count": share.use_count,
        "revoked_at": share.revoked_at,
    }


def share_from(row: Row) -> Share:
    return Share(
        id=ShareId(row["id"]),
        owner_id=UserId(row["owner_id"]),
        target=ShareTarget(ShareTargetKind(row["target_kind"]), row["target_id"]),
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        password_hash=row["password_hash"],
        max_uses=row["max_uses"],
        use_count=row["use_count"],
        revoked_at=row["revoked_at"],
        version=row["version"],
    )


def category_row(category: Category) -> dict[str, Any]:
    return {
        "id": category.id,
        "name": category.name,
        "slug": category.slug,
        "created_at": category.created_at,
    }


def category_from(row: Row) -> Category:
    return Category(
        id=CategoryId(row["id"]),
        name=row["name"],
        slug=row["slug"],
        created_at=row["created_at"],
        version=row["version"],
    )


def audit_content(event: AuditEvent) -> dict[str, Any]:
    """The columns an audit event's hash covers (everything it says)."""
    return {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "actor_id": event.actor_id,
        "action": event.action.value,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "result": event.result.value,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "metadata": dict(event.metadata),
    }


def audit_from(row: Row) -> AuditEvent:
    return AuditEvent(
        id=AuditEventId(row["id"]),
        occurred_at=row["occurred_at"],
        actor_id=UserId(row["actor_id"]) if row["actor_id"] else None,
        action=AuditAction(row["action"]),
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        result=AuditResult(row["result"]),
        ip=row["ip"],
        user_agent=row["user_agent"],
        metadata=row["metadata"],
    )
