"""Videos: upload, metadata, visibility-checked reads and lists, views, deletion."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from attrs import field, frozen

from videoplatform.application import quota
from videoplatform.application.context import (
    Caller,
    current_user,
    require_permission,
    require_user,
    viewing_user,
)
from videoplatform.application.essentials import Essentials, UseCases
from videoplatform.application.limits import Limits
from videoplatform.application.pagination import (
    Page,
    clamp_limit,
    decode_cursor,
    encode_cursor,
    parse_instant,
)
from videoplatform.application.ports.media import MediaProber
from videoplatform.application.ports.persistence import (
    UnitOfWork,
    VideoListQuery,
    VideoSort,
)
from videoplatform.application.ports.storage import ByteRange, ObjectStorage
from videoplatform.application.streams import MeteredReader, peek
from videoplatform.application.video_access import managed_video, visible_video
from videoplatform.application.video_commands import UpdateVideo, UploadVideo, VideoFilter
from videoplatform.application.video_jobs import process_video_job, video_prefix
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import QuotaExceeded, ValidationError
from videoplatform.domain.ids import VideoId
from videoplatform.domain.media_types import SNIFF_LENGTH, MediaType, sniff
from videoplatform.domain.uploads import UnsupportedMedia
from videoplatform.domain.users import Permission
from videoplatform.domain.videos import (
    Video,
    clean_description,
    clean_tags,
    clean_title,
    normalize_tag,
)


@frozen
class SourceDownload:
    """A video's uploaded file: its type as sniffed, and its bytes."""

    video: Video
    media_type: MediaType
    chunks: Iterator[bytes] = field(repr=False)


T = TypeVar("T")


class VideoService(UseCases):
    def __init__(
        self,
        essentials: Essentials,
        storage: ObjectStorage,
        limits: Limits,
        prober: MediaProber,
    ) -> None:
        super().__init__(essentials)
        self._storage = storage
        self._limits = limits
        self._prober = prober

    def upload(self, caller: Caller, command: UploadVideo) -> Video:
        """Stream the source into storage, then record the video and its processing job
        in one transaction. If that transaction fails the stored bytes are removed.

        The source must be a media container this platform reads, judged from its first
        bytes once the caller's right to upload is established (UnsupportedMedia
        otherwise, with nothing stored): every way in (HTTP, tus, an embedder) gets the
        same rule.

        The source counts against the owner's quota (items and bytes, shared with
        files): refused before a byte is read when nothing is left or the declared size
        does not fit, stopped while streaming at the room that was left, and checked
        again at commit against the owner's parallel uploads."""
        video_id = VideoId(self._ids.new_id())
        # Validate the metadata before reading a byte of a possibly huge body.
        clean_title(command.title)
        clean_description(command.description)
        clean_tags(command.tags)
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_UPLOAD, "video", None),
            self._uow() as uow,
        ):
            owner = require_permission(uow, caller, Permission.VIDEO_UPLOAD)
            uow.users.lock(owner.id)  # the owner's parallel uploads take turns from here
            if command.category_id is not None:
                uow.categories.get(command.category_id)
            limit = quota.room(self._limits, uow, owner.id, command.declared_size)
        # Never past the room left: an oversized body is read no further than the limit.
        head, source = peek(command.source, min(SNIFF_LENGTH, limit + 1))
        if len(head) > limit:  # too big, whatever it is (a short head may not tell)
            raise QuotaExceeded(f"video is larger than the {limit}-byte limit")
        if head and not self._prober.accepts(head):  # an empty one is refused below
            raise UnsupportedMedia(
                f"the upload's bytes are {sniff(head).mime}, "
                "not a video or sound recording this platform reads"
            )
        key = video_prefix(video_id) + "source"
        return quota.store_then_record(
            self._storage,
            key,
            source,
            limit,
            lambda metered: self._record_once(caller, video_id, command, key, metered),
            what="video",
            discard=lambda: self._storage.delete_prefix(video_prefix(video_id)),
            empty_field="source",
        )

    def _record_once(
        self,
        caller: Caller,
        video_id: VideoId,
        command: UploadVideo,
        key: str,
        metered: MeteredReader,
    ) -> Video:
        with self._uow() as uow:
            owner = require_permission(uow, caller, Permission.VIDEO_UPLOAD)
            uow.users.lock(owner.id)  # the owner's parallel uploads take turns from here
            if command.category_id is not None:  # it may have gone while we streamed
                uow.categories.get(command.category_id)
            quota.check_commit(self._limits, uow, owner.id, metered.size)
            now = self._clock.now()
            video = Video.upload(
                id=video_id,
                owner=owner,
                title=command.title,
                description=command.description,
                category_id=command.category_id,
                tags=command.tags,
                visibility=command.visibility or owner.default_visibility,
                source_key=key,
                source_size=metered.size,
                source_sha256=metered.sha256,
                now=now,
            )
            uow.videos.add(video)
            uow.outbox.add(process_video_job(self._ids, video_id, now))
            self._audit.record(
                uow,
                caller,
                AuditAction.VIDEO_UPLOAD,
                "video",
                video_id,
                metadata={"size": str(metered.size), "sha256": metered.sha256},
            )
            uow.commit()
            return video

    def get(self, caller: Caller, video_id: VideoId) -> Video:
        """A video the caller may see; NotFound otherwise (private ones are not revealed)."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_READ, "video", video_id),
            self._uow() as uow,
        ):
            user = viewing_user(uow, caller)
            video = visible_video(uow, user, video_id)
            if user is not None and user.id != video.owner_id and not video.can_be_seen_by(None):
                # A moderator looking at what the public cannot see: worth a trace.
                self._audit.privileged_read(uow, caller, AuditAction.VIDEO_READ, "video", video_id)
            return video

    @staticmethod
    def _visible(uow: UnitOfWork, caller: Caller, video_id: VideoId) -> Video:
        return visible_video(uow, current_user(uow, caller), video_id)

    def list(
        self,
        caller: Caller,
        filters: VideoFilter | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Video]:
        """Videos the caller may see in lists: public and ready ones, plus the caller's
        own; moderators see everything. Unlisted videos of others never appear."""
        filters = filters or VideoFilter()
        size = clamp_limit(limit)
        with self._uow() as uow:
            rows = uow.videos.list_page(_list_query(uow, caller, filters, cursor), size + 1)
        return _page(rows, size, filters, [(r.view_count, r.created_at, r.id) for r in rows])

    def list_documents(
        self,
        caller: Caller,
        filters: VideoFilter | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[str]:
        """The page :meth:`list` gives, each video as the JSON text of its document
        with its view count (``application.video_documents``): what the HTTP API writes,
        read without building the videos."""
        filters = filters or VideoFilter()
        size = clamp_limit(limit)
        with self._uow() as uow:
            rows = uow.videos.list_documents(_list_query(uow, caller, filters, cursor), size + 1)
        keys = [(r.view_count, r.created_at, r.id) for r in rows]
        return _page([r.json for r in rows], size, filters, keys)

    def update(self, caller: Caller, video_id: VideoId, command: UpdateVideo) -> Video:
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_UPDATE, "video", video_id),
            self._uow() as uow,
        ):
            video = self._managed(uow, caller, video_id)
            if command.category_id is not None:
                uow.categories.get(command.category_id)
            video.update_metadata(
                now=self._clock.now(),
                title=command.title,
                description=command.description,
                category_id=command.category_id,
                clear_category=command.clear_category,
                tags=command.tags,
                visibility=command.visibility,
                poster_at_seconds=command.poster_at_seconds,
            )
            uow.videos.save(video)
            changed = sorted(
                name
                for name in (
                    "title",
                    "description",
                    "category_id",
                    "tags",
                    "visibility",
                    "poster_at_seconds",
                )
                if getattr(command, name) is not None
            )
            self._audit.record(
                uow,
                caller,
                AuditAction.VIDEO_UPDATE,
                "video",
                video_id,
                metadata={
                    "fields": ",".join(changed + (["category"] if command.clear_category else []))
                },
            )
            uow.commit()
        return video

    @staticmethod
    def _managed(uow: UnitOfWork, caller: Caller, video_id: VideoId) -> Video:
        """A video the caller may change; Hidden if they may not even see it."""
        user = require_user(uow, caller)
        return managed_video(
            uow, user, video_id, "only the owner or a moderator may change this video"
        )

    def delete(self, caller: Caller, video_id: VideoId) -> None:
        """Delete the record, then its bytes. Its share links stop working at once (they
        need the video) and are revoked by a durable handler of VideoDeleted."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_DELETE, "video", video_id),
            self._uow() as uow,
        ):
            video = self._managed(uow, caller, video_id)
            video.mark_deleted(now)
            uow.videos.delete(video_id)
            self._audit.record(
                uow,
                caller,
                AuditAction.VIDEO_DELETE,
                "video",
                video_id,
                metadata={"title": video.title},
            )
            uow.commit()
        # After commit: a crash here leaves unreferenced bytes, never a record without them.
        self._storage.delete_prefix(video_prefix(video_id))

    def open_source(self, caller: Caller, video_id: VideoId) -> SourceDownload:
        """The uploaded file of a video its owner (or a moderator) manages, as it was
        uploaded: its type (sniffed from its first bytes) and its bytes. Hidden for a
        video the caller may not see, PermissionDenied for one they may only watch; a
        moderator's download of someone else's is audited like any privileged read."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_READ, "video", video_id),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            video = managed_video(uow, user, video_id, "only the owner may download the original")
            if video.owner_id != user.id:
                self._audit.privileged_read(uow, caller, AuditAction.VIDEO_READ, "video", video_id)
        head = b""
        if video.source_size > 0:
            first = ByteRange(0, min(SNIFF_LENGTH, video.source_size) - 1)
            head = b"".join(self._storage.get(video.source_key, first))
        return SourceDownload(video, sniff(head), self._storage.get(video.source_key))

    def record_view(self, caller: Caller, video_id: VideoId) -> None:
        """Count one view of a video the caller may see (atomic increment)."""
        with self._uow() as uow:
            self._visible(uow, caller, video_id)
            uow.videos.increment_views(video_id)
            uow.commit()


def _list_query(
    uow: UnitOfWork, caller: Caller, filters: VideoFilter, cursor: str | None
) -> VideoListQuery:
    after = _video_keyset(_cursor_kind(filters), filters.sort, cursor) if cursor else None
    user = viewing_user(uow, caller)
    return VideoListQuery(
        # Own unpublished videos show while the user still manages them, exactly as
        # Video.can_be_seen_by decides for a single read.
        viewer_id=user.id if user and user.can(Permission.VIDEO_UPLOAD) else None,
        see_all=bool(user and user.can(Permission.VIDEO_MODERATE)),
        owner_id=filters.owner_id,
        category_id=filters.category_id,
        tag=normalize_tag(filters.tag) if filters.tag else None,
        visibility=filters.visibility,
        status=filters.status,
        sort=filters.sort,
        after=after,
    )


def _cursor_kind(filters: VideoFilter) -> str:
    return f"videos:{filters.sort.value}"


def _page(
    items: Sequence[T], size: int, filters: VideoFilter, keys: Sequence[tuple[int, datetime, str]]
) -> Page[T]:
    """The first ``size`` of ``items`` (up to ``size + 1`` were read: one more means
    another page), whose (view count, created at, id) are ``keys``."""
    nxt = None
    if len(items) > size:
        view_count, created_at, last_id = keys[size - 1]
        key: str | int = view_count if filters.sort is VideoSort.MOST_VIEWED else _ts(created_at)
        nxt = encode_cursor(_cursor_kind(filters), [key, last_id])
    return Page(tuple(items[:size]), nxt)


def _ts(moment: datetime) -> str:
    return moment.isoformat()


def _video_keyset(kind: str, sort: VideoSort, cursor: str) -> tuple[datetime | int, str]:
    key = decode_cursor(kind, cursor)
    if len(key) != 2 or not isinstance(key[1], str):
        raise ValidationError.field("cursor", "malformed cursor")
    value, last_id = key[0], str(key[1])
    if sort is VideoSort.MOST_VIEWED:
        if not isinstance(value, int):
            raise ValidationError.field("cursor", "malformed cursor")
        return value, last_id
    return parse_instant(str(value)), last_id
