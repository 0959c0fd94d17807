"""Videos: metadata, visibility, the processing state machine and who may see what."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime

from attrs import define, field, frozen

from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.errors import InvalidTransition, ValidationError
from videoplatform.domain.events import (
    VideoAttemptFailed,
    VideoDeleted,
    VideoFailed,
    VideoProcessingStarted,
    VideoProgressed,
    VideoReady,
    VideoRequeued,
    VideoUpdated,
    VideoUploaded,
)
from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.text import one_line
from videoplatform.domain.users import Permission, User
from videoplatform.domain.visibility import Visibility

__all__ = ["Visibility"]  # its home is domain.visibility; importers name it from here too


class FailureCode(enum.StrEnum):
    """Why processing failed, as a stable code (a video's ``failure_code``)."""

    NOT_MEDIA = "not_media"  # not a file this platform reads as a video
    UNSUPPORTED_FORMAT = "unsupported_format"  # a container or codec it does not take
    NO_VIDEO = "no_video"  # nothing to show: no picture or sound in the file
    BEYOND_LIMITS = "beyond_limits"  # too long, too large, too fast
    CORRUPT = "corrupt"  # truncated or damaged: it does not decode
    SOURCE_MISSING = "source_missing"  # the uploaded file can no longer be read
    PROCESSING_ERROR = "processing_error"  # a fault of the server's, retried first


class VideoStatus(enum.Enum):
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


# uploaded → processing → ready | failed. A failed video may be processed again: started
# directly, or sent back to "uploaded" (queued) by a moderator's retry. A video stuck in
# "processing" (its worker died) is restarted by restart_processing, not by a transition.
_TRANSITIONS: dict[VideoStatus, frozenset[VideoStatus]] = {
    VideoStatus.UPLOADED: frozenset({VideoStatus.PROCESSING, VideoStatus.FAILED}),
    VideoStatus.PROCESSING: frozenset({VideoStatus.READY, VideoStatus.FAILED}),
    VideoStatus.READY: frozenset(),
    VideoStatus.FAILED: frozenset({VideoStatus.PROCESSING, VideoStatus.UPLOADED}),
}

# Without a chosen time the poster is taken a third of the way in, at most this far: the
# first frames are often black, and a fixed cap keeps long videos' posters early.
DEFAULT_POSTER_MAX_SECONDS = 10.0


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@frozen
class MediaInfo:
    duration_seconds: float
    width: int
    height: int
    video_codec: str | None
    audio_codec: str | None
    fps: float
    bitrate: int
    rotation: int = 0
    container: str | None = None
    audio_channels: int = 0
    """Channels of the audio stream processing uses (0: none, or not known)."""
    subtitle_languages: tuple[str, ...] = field(default=(), converter=_strings)
    """Languages of the text subtitle streams inside the source, in stream order
    (``"und"`` where the file does not say); processing extracts them as captions."""

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def is_audio_only(self) -> bool:
        """Sound and no picture: an audio upload (its renditions carry audio only)."""
        return self.video_codec is None and self.audio_codec is not None


@frozen
class Rendition:
    """One rung of the adaptive-bitrate ladder as stored. ``playlist_key`` is the path of
    its variant playlist relative to the video's :class:`PlaybackAssets` prefix."""

    name: str
    width: int
    height: int
    bitrate: int
    codecs: str
    playlist_key: str


# A playback path: slash-separated names of letters, digits, '_', '-' and '.', never
# starting with a dot (so no '..', no hidden files), with a known media extension.
_ASSET_PATH = re.compile(
    r"(?:[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}/){0,3}[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}"
)
ASSET_TYPES: dict[str, str] = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".aac": "audio/aac",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".vtt": "text/vtt",
}


def asset_content_type(path: str) -> str | None:
    """The content type of a playback path, or None when the path is not a valid one
    (traversal, odd characters, unknown extension)."""
    if not _ASSET_PATH.fullmatch(path) or ".." in path:
        return None
    dot = path.rfind(".")
    return ASSET_TYPES.get(path[dot:].lower()) if dot > path.rfind("/") else None


@frozen
class Poster:
    width: int
    height: int
    path: str


@frozen
class Storyboard:
    """A sprite sheet of evenly spaced stills and the WebVTT index that maps times to
    tiles (``#xywh=`` fragments), both relative to the assets prefix."""

    vtt_path: str
    sprite_path: str
    tile_width: int
    tile_height: int
    interval_seconds: float


@frozen
class PlaybackAssets:
    """Where a ready video's outputs live: a storage prefix private to the processing job
    that made them, and the paths under it of the master playlist, posters (largest
    first) and storyboard."""

    prefix: str
    master_playlist: str
    posters: tuple[Poster, ...] = ()
    storyboard: Storyboard | None = None
    timeline_pts: int = 0
    """Where the renditions' timeline starts, in 90 kHz MPEG-TS ticks (the first
    segment's first presentation time): captions are mapped to it (X-TIMESTAMP-MAP)."""

    def key(self, path: str) -> str | None:
        """The storage key of ``path`` under the prefix; None for a path that is not a
        valid playback path."""
        return self.prefix + path if asset_content_type(path) is not None else None


MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_TAGS = 30
MAX_TAG = 40
MAX_POSTER_AT = 24 * 3600.0


def clean_title(raw: str) -> str:
    return one_line(raw, "title", MAX_TITLE)


def control_in_description(char: str) -> bool:
    """A control character a description may not hold (line breaks and tabs it may)."""
    return ord(char) < 32 and char not in "\n\t"


def control_in_tag(char: str) -> bool:
    """A control character a tag may not hold (once its whitespace is collapsed)."""
    return ord(char) < 32


def clean_description(raw: str) -> str:
    if len(raw) > MAX_DESCRIPTION:
        raise ValidationError.field("description", f"must be at most {MAX_DESCRIPTION} characters")
    if any(control_in_description(c) for c in raw):
        raise ValidationError.field("description", "must not contain control characters")
    return raw.strip()


def normalize_tag(raw: str) -> str:
    """The stored form of a tag: inner whitespace collapsed, trimmed, case-folded."""
    return " ".join(raw.split()).casefold()


def clean_tags(raw: Iterable[str]) -> tuple[str, ...]:
    """Tags are case-folded, trimmed, de-duplicated, kept in first-seen order."""
    if isinstance(raw, str):
        raise ValidationError.field("tags", "must be a list of tags, not one string")
    seen: dict[str, None] = {}
    for tag in raw:
        norm = normalize_tag(tag)
        if not norm:
            continue
        if len(norm) > MAX_TAG or any(control_in_tag(c) for c in norm):
            raise ValidationError.field(
                "tags", f"each tag must be 1 to {MAX_TAG} printable characters"
            )
        seen[norm] = None
    if len(seen) > MAX_TAGS:
        raise ValidationError.field("tags", f"at most {MAX_TAGS} tags")
    return tuple(seen)


@define(eq=False, kw_only=True)
class Video(Aggregate):
    id: VideoId
    owner_id: UserId
    title: str
    description: str = ""
    category_id: CategoryId | None = None
    tags: tuple[str, ...] = ()
    visibility: Visibility = Visibility.PRIVATE
    status: VideoStatus = VideoStatus.UPLOADED
    source_key: str
    source_size: int = 0
    source_sha256: str = ""
    media_info: MediaInfo | None = None
    renditions: tuple[Rendition, ...] = ()
    assets: PlaybackAssets | None = None
    poster_at_seconds: float | None = None
    progress: int = 0
    last_error: str | None = None
    """Why the last attempt failed, written for the owner."""
    failure_code: FailureCode | None = None
    """The same, as a stable code for programs."""
    view_count: int = 0
    created_at: datetime
    updated_at: datetime
    processing_attempts: int = field(default=0)
    """Attempts ever started: the number of the latest is the claim (see
    :meth:`holds_attempt`), so it only grows; a stale worker's number never comes back."""
    attempt_base: int = 0
    """Attempts made before the current run (a retry or a reprocessing starts a new run,
    with a fresh budget of automatic attempts)."""
    reprocessing: bool = False
    """A ready video is being processed again (its owner or a moderator asked): it stays
    ready, playing its current renditions, until the new ones replace them."""
    owner_disabled: bool = False
    """The owner's account is disabled: the video is hidden from everyone but moderators
    until it is enabled again. Set for all of an owner's videos at once by the
    repository (``set_owner_disabled``), never by saving one video."""

    @classmethod
    def upload(
        cls,
        *,
        id: VideoId,
        owner: User,
        title: str,
        description: str,
        category_id: CategoryId | None,
        tags: Iterable[str],
        visibility: Visibility,
        source_key: str,
        source_size: int,
        source_sha256: str,
        now: datetime,
    ) -> Video:
        video = cls(
            id=id,
            owner_id=owner.id,
            title=clean_title(title),
            description=clean_description(description),
            category_id=category_id,
            tags=clean_tags(tags),
            visibility=visibility,
            source_key=source_key,
            source_size=source_size,
            source_sha256=source_sha256,
            created_at=now,
            updated_at=now,
        )
        video.record(VideoUploaded(occurred_at=now, video_id=id, owner_id=owner.id))
        return video

    # -- the state machine -------------------------------------------------------------

    def _move(self, to: VideoStatus, now: datetime) -> None:
        if to not in _TRANSITIONS[self.status]:
            raise InvalidTransition(
                f"video {self.id}: {self.status.value} → {to.value} is not allowed"
            )
        self.status = to
        self.updated_at = now

    def start_processing(self, now: datetime) -> None:
        self._move(VideoStatus.PROCESSING, now)
        self.progress = 0
        self.last_error = None
        self.failure_code = None
        self.processing_attempts += 1
        self.record(VideoProcessingStarted(occurred_at=now, video_id=self.id))

    def restart_processing(self, now: datetime) -> None:
        """Start a new attempt on a video already processing: its job was delivered again
        because the worker running it died or gave the attempt up. The attempt counter
        is the claim: only the attempt holding the latest number may finish the video
        (see :meth:`holds_attempt`), so an earlier attempt still running loses."""
        if self.status is not VideoStatus.PROCESSING:
            raise InvalidTransition(f"video {self.id} is not processing")
        self.progress = 0
        self.processing_attempts += 1
        self.updated_at = now
        self.record(VideoProcessingStarted(occurred_at=now, video_id=self.id))

    @property
    def is_processing(self) -> bool:
        """Whether an attempt may be under way: a first processing, or a reprocessing
        of a ready video."""
        return self.status is VideoStatus.PROCESSING or (
            self.status is VideoStatus.READY and self.reprocessing
        )

    @property
    def run_attempts(self) -> int:
        """Attempts made in the current run."""
        return self.processing_attempts - self.attempt_base

    def holds_attempt(self, attempt: int) -> bool:
        """Whether processing attempt number ``attempt`` is still the one in charge."""
        return self.is_processing and self.processing_attempts == attempt

    def request_reprocessing(self, now: datetime) -> None:
        """Process a ready video again (with the settings of today): it stays ready and
        playable on its current renditions while the new ones are made, with a fresh
        budget of automatic attempts. InvalidTransition (code ``video_not_ready``) for a
        video that is not ready, (``already_reprocessing``) for one already queued."""
        if self.status is not VideoStatus.READY:
            raise InvalidTransition(
                f"video {self.id} is {self.status.value}; only a ready video is processed "
                "again (a failed one is retried)",
                code="video_not_ready",
            )
        if self.reprocessing:
            raise InvalidTransition(
                f"video {self.id} is already being processed again", code="already_reprocessing"
            )
        self.reprocessing = True
        self.attempt_base = self.processing_attempts
        self.progress = 0
        self.last_error = None
        self.failure_code = None
        self.updated_at = now
        self.record(VideoRequeued(occurred_at=now, video_id=self.id))

    def start_reprocessing(self, now: datetime) -> None:
        """Start (or restart) an attempt at reprocessing; the attempt counter is the
        claim, as for :meth:`restart_processing`."""
        if not (self.status is VideoStatus.READY and self.reprocessing):
            raise InvalidTransition(f"video {self.id} is not waiting to be processed again")
        self.progress = 0
        self.processing_attempts += 1
        self.updated_at = now
        self.record(VideoProcessingStarted(occurred_at=now, video_id=self.id))

    def note_failed_attempt(
        self, reason: str, now: datetime, code: FailureCode = FailureCode.PROCESSING_ERROR
    ) -> None:
        """Keep the reason an attempt failed while the video waits for the next one."""
        if not self.is_processing:
            raise InvalidTransition(f"video {self.id} is not processing")
        self.last_error = reason[:2000] or "unknown error"
        self.failure_code = code
        self.updated_at = now
        self.record(VideoAttemptFailed(occurred_at=now, video_id=self.id, reason=self.last_error))

    def requeue(self, now: datetime) -> None:
        """A moderator's retry of a failed video: back to "uploaded", waiting for a
        worker, with a fresh budget of automatic attempts. The last error stays visible
        until processing starts again."""
        self._move(VideoStatus.UPLOADED, now)
        self.progress = 0
        self.attempt_base = self.processing_attempts
        self.record(VideoRequeued(occurred_at=now, video_id=self.id))

    def resume_stranded(self, now: datetime) -> None:
        """A video waiting or processing (or reprocessing) that nothing happened to for
        too long: its job was lost. It is queued again as it is (a new job restarts any
        attempt)."""
        if not (self.status is VideoStatus.UPLOADED or self.is_processing):
            raise InvalidTransition(f"video {self.id} is {self.status.value}, not waiting")
        self.updated_at = now
        self.record(VideoRequeued(occurred_at=now, video_id=self.id))

    def poster_time(self, duration_seconds: float) -> float:
        """When to take the poster: the owner's choice while it lies within the video,
        else a third of the way in, at most :data:`DEFAULT_POSTER_MAX_SECONDS`."""
        chosen = self.poster_at_seconds
        if chosen is not None and 0 <= chosen < duration_seconds:
            return chosen
        return max(0.0, min(duration_seconds / 3, DEFAULT_POSTER_MAX_SECONDS))

    def report_progress(self, percent: int, now: datetime) -> None:
        if not self.is_processing:
            raise InvalidTransition(f"video {self.id} is not processing")
        # Progress never goes backwards and stays within 0-100.
        self.progress = max(self.progress, min(100, max(0, percent)))
        self.updated_at = now
        self.record(VideoProgressed(occurred_at=now, video_id=self.id, progress=self.progress))

    def mark_ready(
        self,
        *,
        media_info: MediaInfo,
        renditions: Iterable[Rendition],
        assets: PlaybackAssets,
        now: datetime,
    ) -> None:
        ladder = tuple(renditions)
        if not ladder:
            raise InvalidTransition(f"video {self.id} cannot be ready without renditions")
        if self.status is VideoStatus.READY and self.reprocessing:
            self.updated_at = now  # new renditions replace the current ones
        else:
            self._move(VideoStatus.READY, now)
        self.reprocessing = False
        self.media_info = media_info
        self.renditions = ladder
        self.assets = assets
        self.progress = 100
        self.last_error = None
        self.failure_code = None
        self.record(VideoReady(occurred_at=now, video_id=self.id))

    def mark_failed(
        self, reason: str, now: datetime, code: FailureCode = FailureCode.PROCESSING_ERROR
    ) -> None:
        """Processing failed for good. A video being processed again stays ready on its
        current renditions, with the reason kept for its owner."""
        if self.status is VideoStatus.READY and self.reprocessing:
            self.reprocessing = False
            self.updated_at = now
        else:
            self._move(VideoStatus.FAILED, now)
        self.last_error = reason[:2000] or "unknown error"
        self.failure_code = code
        self.record(VideoFailed(occurred_at=now, video_id=self.id, reason=self.last_error))

    # -- metadata -----------------------------------------------------------------------

    def update_metadata(
        self,
        *,
        now: datetime,
        title: str | None = None,
        description: str | None = None,
        category_id: CategoryId | None = None,
        clear_category: bool = False,
        tags: Iterable[str] | None = None,
        visibility: Visibility | None = None,
        poster_at_seconds: float | None = None,
    ) -> None:
        """Change the given fields. Everything is validated before anything changes.
        ``poster_at_seconds`` chooses the poster's time for the next processing run."""
        if poster_at_seconds is not None and not 0 <= poster_at_seconds <= MAX_POSTER_AT:
            raise ValidationError.field(
                "poster_at_seconds", f"must be between 0 and {MAX_POSTER_AT:g} seconds"
            )
        new_title = clean_title(title) if title is not None else self.title
        new_description = (
            clean_description(description) if description is not None else self.description
        )
        new_tags = clean_tags(tags) if tags is not None else self.tags
        self.title, self.description, self.tags = new_title, new_description, new_tags
        if clear_category:
            self.category_id = None
        elif category_id is not None:
            self.category_id = category_id
        if visibility is not None:
            self.visibility = visibility
        if poster_at_seconds is not None:
            self.poster_at_seconds = poster_at_seconds
        self.updated_at = now
        self.record(VideoUpdated(occurred_at=now, video_id=self.id))

    def mark_deleted(self, now: datetime) -> None:
        self.record(VideoDeleted(occurred_at=now, video_id=self.id))

    # -- access policy ------------------------------------------------------------------

    def is_managed_by(self, user: User | None) -> bool:
        """Owner (while still allowed to upload) or a moderator may change this video."""
        if user is None or not user.is_active:
            return False
        if user.can(Permission.VIDEO_MODERATE):
            return True
        return user.id == self.owner_id and user.can(Permission.VIDEO_UPLOAD)

    def can_be_seen_by(self, user: User | None, *, via_share: bool = False) -> bool:
        """Private: owner and moderators. Unlisted: anyone holding the id. Public: anyone.
        A disabled owner's video: moderators only.
        Without a share, others only see a video once it is ready. A share link is the
        owner's explicit grant: its holder sees the video whatever its visibility and
        state (and so learns that it is still processing rather than "not found")."""
        if self.owner_disabled:
            # A disabled owner's content is gone for everyone (shares included) but
            # the moderators who may need to look at it.
            return user is not None and user.can(Permission.VIDEO_MODERATE)
        if self.is_managed_by(user):
            return True
        if user is not None and not user.can(Permission.VIDEO_VIEW):
            return False
        if via_share:
            return True
        if self.status is not VideoStatus.READY:
            return False
        return self.visibility in (Visibility.PUBLIC, Visibility.UNLISTED)
