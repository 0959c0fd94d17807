"""Signed playback URLs: who may fetch a ready video's playlists, segments, posters and
storyboard, and for how long.

A playback token is a capability: ``base64url(payload) "." base64url(HMAC-SHA256)``
where the payload names the video, the *grant* (why its holder may watch: ``public``,
``user:<id>`` or ``share:<id>``), the expiry and the *generation* of the video's outputs
(a digest of their storage prefix, so reprocessing invalidates old URLs). The token goes
in the URL's path, before the asset's path, so that the relative URIs of HLS playlists
resolve to URLs that carry it too.

A valid signature is not enough: every request re-checks that the grant still holds
(the share is not revoked, the video is still public, the user still manages it), so
revoking access stops a player in the middle of a video.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import BinaryIO

import attrs
from attrs import field, frozen

from videoplatform.application.audit_recording import Auditor
from videoplatform.application.captions import CaptionService
from videoplatform.application.context import Caller, Hidden, current_user
from videoplatform.application.playback_captions import (
    CAPTIONS_DIR,
    caption_language,
    on_timeline,
    subtitle_playlist,
    with_subtitles,
)
from videoplatform.application.playback_tokens import (
    ASSET_NOT_FOUND,
    NOT_READY,
    REVOKED,
    STALE,
    Grant,
    GrantKind,
    PlaybackClaims,
    generation_of,
    sign,
    verify,
)
from videoplatform.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from videoplatform.application.ports.storage import ByteRange, ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.shares import ShareService
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.captions import CaptionTrack
from videoplatform.domain.errors import Conflict, NotFound, PermissionDenied
from videoplatform.domain.ids import ShareId, UserId, VideoId
from videoplatform.domain.shares import ShareTarget, ShareTargetKind
from videoplatform.domain.videos import PlaybackAssets, Video, VideoStatus, asset_content_type

MIN_SECRET_BYTES = 32
MIN_LIFETIME = timedelta(minutes=1)
DEFAULT_LIFETIME = timedelta(hours=6)
LISTED_ALIGNMENT = timedelta(hours=1)


@frozen
class PlaybackPolicy:
    """The signing secret (never logged) and how long issued URLs live at most."""

    secret: bytes = field(repr=False)
    lifetime: timedelta = DEFAULT_LIFETIME

    def __attrs_post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the playback secret must be at least {MIN_SECRET_BYTES} bytes")
        if self.lifetime < MIN_LIFETIME:
            raise ValueError("the playback lifetime must be at least a minute")

    def clamp(self, asked: timedelta | None) -> timedelta:
        if asked is None:
            return self.lifetime
        return max(MIN_LIFETIME, min(asked, self.lifetime))


@frozen
class IssuedPlayback:
    """Signed access to a ready video's outputs until ``expires_at``."""

    video: Video
    assets: PlaybackAssets
    token: str
    expires_at: datetime


@frozen
class PlaybackAsset:
    """One output a verified token may fetch now: stored bytes at ``key``, or bytes
    written for this request (``content``: a master playlist listing caption tracks,
    a track's playlist or its WebVTT), which never come from storage directly."""

    key: str
    path: str
    content_type: str
    expires_at: datetime
    modified_at: datetime
    content: bytes | None = field(default=None, repr=False)

    @property
    def is_playlist(self) -> bool:
        return self.path.lower().endswith(".m3u8")

    @property
    def is_generated(self) -> bool:
        return self.content is not None


class PlaybackService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        storage: ObjectStorage,
        shares: ShareService,
        policy: PlaybackPolicy,
        captions: CaptionService,
        audit: Auditor,
    ) -> None:
        self._audit = audit
        self._uow = uow_factory
        self._clock = clock
        self._storage = storage
        self._shares = shares
        self._policy = policy
        self._captions = captions

    # -- issuing ------------------------------------------------------------------------

    def issue(
        self, caller: Caller, video_id: VideoId, lifetime: timedelta | None = None
    ) -> IssuedPlayback:
        """URLs for a video the caller can see. Its owner and moderators get a grant of
        their own (it lasts while they may manage the video); anyone else watches a
        public or unlisted video under a public grant (it lasts while the video stays
        so). Hidden for a video the caller cannot see; Conflict(NOT_READY) before the
        video is ready. A refusal is audited like any refused read."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_READ, "video", video_id),
            self._uow() as uow,
        ):
            user = current_user(uow, caller)
            video = uow.videos.get(video_id)
            if not video.can_be_seen_by(user):
                raise Hidden("video not found")
        grant = Grant.user(user.id) if user and video.is_managed_by(user) else Grant.public()
        return self._issue(video, grant, lifetime)

    def issue_for_share(
        self,
        token: str,
        password: str | None = None,
        caller: Caller | None = None,
        lifetime: timedelta | None = None,
    ) -> IssuedPlayback:
        """URLs for the video a share link opens: one use of the link (counted, audited,
        refused like any redemption); they work while the link is neither revoked nor
        expired, even once its uses are spent."""
        item = self._shares.redeem_video(token, password, caller)
        if item.video is None:  # pragma: no cover - redeem_video guarantees a video
            raise NotFound("share not found")
        return self._issue(item.video, Grant.share(item.share.id), lifetime)

    def issue_listed(
        self, caller: Caller, videos: Iterable[Video]
    ) -> dict[VideoId, IssuedPlayback]:
        """URLs (for their posters) of the ready videos of a list the caller may see,
        those it may not and those not ready left out. They expire at the same moment
        for an hour of requests, so a page's poster URLs stay the same and browsers
        keep the images."""
        with self._uow() as uow:
            user = current_user(uow, caller)
        now = self._clock.now()
        lifetime = self._policy.lifetime
        if lifetime >= 2 * LISTED_ALIGNMENT:
            lifetime -= timedelta(seconds=now.timestamp() % LISTED_ALIGNMENT.total_seconds())
        issued = {}
        for video in videos:
            if video.status is VideoStatus.READY and video.can_be_seen_by(user):
                managed = user is not None and video.is_managed_by(user)
                grant = Grant.user(user.id) if user and managed else Grant.public()
                issued[video.id] = self._issue(video, grant, lifetime)
        return issued

    def _issue(self, video: Video, grant: Grant, lifetime: timedelta | None) -> IssuedPlayback:
        if video.status is not VideoStatus.READY or video.assets is None:
            raise Conflict("the video is not ready for playback yet", code=NOT_READY)
        expires = int((self._clock.now() + self._policy.clamp(lifetime)).timestamp())
        claims = PlaybackClaims(video.id, grant, expires, generation_of(video.assets.prefix))
        token = sign(self._policy.secret, claims)
        return IssuedPlayback(video, video.assets, token, claims.expires_at)

    # -- serving ------------------------------------------------------------------------

    def authorize(self, token: str, path: str) -> PlaybackAsset:
        """The asset at ``path`` if the token is genuine, unexpired and its grant still
        holds. PermissionDenied with SIGNATURE_INVALID, EXPIRED, STALE (the video was
        reprocessed or is no longer ready) or REVOKED (the grant no longer holds);
        NotFound for a deleted video or a path that names no playback asset."""
        now = self._clock.now()
        claims = verify(self._policy.secret, token, now)
        content_type = asset_content_type(path)
        if content_type is None:
            raise NotFound("no such playback asset", code=ASSET_NOT_FOUND)
        with self._uow() as uow:
            video = uow.videos.get(claims.video_id)
            assets = video.assets
            if (
                video.status is not VideoStatus.READY
                or assets is None
                or not hmac.compare_digest(generation_of(assets.prefix), claims.generation)
            ):
                raise PermissionDenied("the video was processed again since", code=STALE)
            if not _grant_holds(uow, claims.grant, video, now):
                raise PermissionDenied("access to this video was withdrawn", code=REVOKED)
            # Caption tracks live beside the outputs, not in them: only the master
            # playlist and the captions/ paths beside it (where the master's relative
            # URIs lead) need them.
            captions_dir = assets.master_playlist.rpartition("/")[0]
            captions_dir = f"{captions_dir}/{CAPTIONS_DIR}" if captions_dir else CAPTIONS_DIR
            tracks = (
                uow.captions.list_for_video(video.id)
                if path == assets.master_playlist or path.startswith(captions_dir)
                else []
            )
        expires = claims.expires_at
        if path.startswith(captions_dir):
            caption_path = path[len(captions_dir) - len(CAPTIONS_DIR) :]
            return self._caption_asset(
                video, assets, tracks, caption_path, path, content_type, expires
            )
        key = assets.key(path)
        if key is None:  # pragma: no cover - asset_content_type accepted the path
            raise NotFound("no such playback asset", code=ASSET_NOT_FOUND)
        asset = PlaybackAsset(key, path, content_type, expires, video.updated_at)
        if tracks:
            master = b"".join(self.open_stored(asset)).decode("utf-8")
            listed = with_subtitles(master, tracks).encode("utf-8")
            changed = max([video.updated_at, *(t.updated_at for t in tracks)])
            return attrs.evolve(asset, modified_at=changed, content=listed)
        return asset

    def _caption_asset(
        self,
        video: Video,
        assets: PlaybackAssets,
        tracks: list[CaptionTrack],
        caption_path: str,
        path: str,
        content_type: str,
        expires: datetime,
    ) -> PlaybackAsset:
        """A caption track's playlist or WebVTT (``captions/<language>.<ext>``), written
        for this request."""
        for suffix in (".m3u8", ".vtt"):
            language = caption_language(caption_path, suffix)
            track = next((t for t in tracks if t.language == language), None)
            if track is None:
                continue
            if suffix == ".m3u8":
                duration = video.media_info.duration_seconds if video.media_info else 0.0
                text = subtitle_playlist(track, duration)
            else:
                text = on_timeline(self._captions.read(track), assets.timeline_pts)
            changed = max(video.updated_at, track.updated_at)
            return PlaybackAsset(
                track.storage_key, path, content_type, expires, changed, text.encode("utf-8")
            )
        raise NotFound("no such playback asset", code=ASSET_NOT_FOUND)

    def size(self, asset: PlaybackAsset) -> int:
        """NotFound(ASSET_NOT_FOUND) when the output is not in storage."""
        if asset.content is not None:
            return len(asset.content)
        try:
            return self._storage.stat(asset.key).size
        except NotFound:
            raise NotFound("no such playback asset", code=ASSET_NOT_FOUND) from None

    def open(
        self,
        asset: PlaybackAsset,
        byte_range: ByteRange | None = None,
        *,
        prefer_file: bool = False,
    ) -> Iterator[bytes] | BinaryIO:
        """The asset's bytes (or a range); with ``prefer_file``, a whole asset kept on a
        local filesystem comes as an open file (for sendfile)."""
        if asset.content is not None:
            if byte_range is None:
                return iter([asset.content])
            return iter([asset.content[byte_range.start : byte_range.end + 1]])
        return self.open_stored(asset, byte_range, prefer_file=prefer_file)

    def open_stored(
        self,
        asset: PlaybackAsset,
        byte_range: ByteRange | None = None,
        *,
        prefer_file: bool = False,
    ) -> Iterator[bytes] | BinaryIO:
        try:
            if prefer_file and byte_range is None:
                local = self._storage.open_file(asset.key)
                if local is not None:
                    return local
            return self._storage.get(asset.key, byte_range)
        except NotFound:
            raise NotFound("no such playback asset", code=ASSET_NOT_FOUND) from None

    def download_url(self, asset: PlaybackAsset, expires_seconds: int) -> str | None:
        """A short-lived direct storage URL for the asset, when the storage has them
        (never for bytes written per request)."""
        if asset.content is not None:
            return None
        return self._storage.download_url(
            asset.key,
            expires_seconds=expires_seconds,
            content_type=asset.content_type,
            content_disposition="inline",
        )

    def seconds_left(self, asset: PlaybackAsset) -> int:
        return max(0, int((asset.expires_at - self._clock.now()).total_seconds()))


def _grant_holds(uow: UnitOfWork, grant: Grant, video: Video, now: datetime) -> bool:
    """Whether the reason a URL was issued for still holds: one or two point lookups."""
    if grant.kind is GrantKind.PUBLIC:
        return video.can_be_seen_by(None)
    if grant.kind is GrantKind.USER:
        try:
            user = uow.users.get(UserId(grant.subject))
        except NotFound:
            return False
        return user.is_active and video.can_be_seen_by(user)
    try:
        share = uow.shares.get(ShareId(grant.subject))
        owner = uow.users.get(share.owner_id)
    except NotFound:
        return False
    # The use was counted when the URLs were issued: only revocation, expiry and the
    # owner's right to share end them (not the link's spent uses, nor its password).
    return (
        share.target == ShareTarget(ShareTargetKind.VIDEO, video.id)
        and not share.is_revoked()
        and (share.expires_at is None or now < share.expires_at)
        and share.is_backed_by(owner)
    )
