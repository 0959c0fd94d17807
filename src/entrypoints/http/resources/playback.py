"""Playback: signed URLs for a ready video's HLS playlists, segments, posters and
storyboard, and the route that serves them.

``GET /api/v1/play/{token}/{path}`` needs no login: the token is the capability. It sits
in the path, before the asset's path, because players resolve a playlist's relative URIs
(``720p/index.m3u8``, ``segment_00001.ts``) against the playlist's own URL: every URL
they derive carries the token too. For the same reason playlists are always served from
here, never redirected to storage (a player would resolve against the storage URL).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import falcon
from attrs import field, frozen

from videoplatform.application.playback import IssuedPlayback, PlaybackAsset, PlaybackService
from videoplatform.application.ports.storage import ByteRange
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import VideoId
from videoplatform.domain.shares import MAX_SHARE_TOKEN
from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.convert import read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Param, Reply, Route
from videoplatform.entrypoints.http.ranges import (
    accel_redirect,
    chosen_range,
    not_modified,
    send_bytes,
    unsatisfiable,
)
from videoplatform.entrypoints.http.resources.common import API, HttpContext, query_int, reply

PLAY = f"{API}/play"
PLAYLIST_MAX_AGE = 30
ASSET_MAX_AGE = 3600
REDIRECT_SECONDS = 300
ASSET_CSP = "sandbox"


@frozen
class PosterLink:
    width: int
    height: int
    url: str


@frozen
class StoryboardLink:
    """A sprite sheet and the WebVTT track mapping times to its tiles (``#xywh=``)."""

    vtt_url: str
    sprite_url: str
    tile_width: int
    tile_height: int
    interval_seconds: float


@frozen
class PlaybackView:
    """Signed URLs, valid until ``expires_at``, for one ready video's outputs. Request
    new ones before then; revoking the access behind them ends them at once."""

    video_id: str
    title: str
    master_url: str
    posters: list[PosterLink] = field(metadata={"doc": "largest first"})
    storyboard: StoryboardLink | None
    expires_at: datetime

    @classmethod
    def of(cls, issued: IssuedPlayback, public_url: str) -> PlaybackView:
        base = f"{public_url.rstrip('/')}{PLAY}/{issued.token}/"
        assets = issued.assets
        board = assets.storyboard
        return cls(
            video_id=issued.video.id,
            title=issued.video.title,
            master_url=base + assets.master_playlist,
            posters=[PosterLink(p.width, p.height, base + p.path) for p in assets.posters],
            storyboard=(
                StoryboardLink(
                    base + board.vtt_path,
                    base + board.sprite_path,
                    board.tile_width,
                    board.tile_height,
                    board.interval_seconds,
                )
                if board is not None
                else None
            ),
            expires_at=issued.expires_at,
        )


@frozen
class SharePlaybackBody:
    token: str = field(
        metadata={
            "doc": "the share link's token",
            "schema": {"minLength": 1, "maxLength": MAX_SHARE_TOKEN},
        }
    )
    password: str | None = None
    expires_in_seconds: int | None = field(
        default=None,
        metadata={
            "doc": "how long the URLs should last (clamped)",
            "schema": {"minimum": 1},
        },
    )


MAX_REQUESTED_LIFETIME = 366 * 86400


def _lifetime(seconds: int | None) -> timedelta | None:
    if seconds is None:
        return None
    if seconds < 1:
        raise ValidationError.field("expires_in_seconds", "must be positive")
    # The policy clamps to its own maximum; anything past a year is that maximum too,
    # and stays within what a timedelta can hold.
    return timedelta(seconds=min(seconds, MAX_REQUESTED_LIFETIME))


def _no_store(resp: falcon.Response) -> None:
    # The reply carries capabilities: no cache on the way keeps it.
    resp.cache_control = ["no-store"]


class VideoPlayback:
    def __init__(self, playback: PlaybackService, public_url: str) -> None:
        self._playback = playback
        self._public_url = public_url

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        issued = self._playback.issue(
            caller_of(req), VideoId(video_id), _lifetime(query_int(req, "expires_in_seconds"))
        )
        _no_store(resp)
        reply(resp, PlaybackView.of(issued, self._public_url))


class SharePlayback:
    def __init__(self, json_limit: int, playback: PlaybackService, public_url: str) -> None:
        self._json_limit = json_limit
        self._playback = playback
        self._public_url = public_url

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, SharePlaybackBody, self._json_limit)
        if not 1 <= len(body.token) <= MAX_SHARE_TOKEN:
            raise ValidationError.field("token", f"must be 1 to {MAX_SHARE_TOKEN} characters")
        issued = self._playback.issue_for_share(
            body.token, body.password, caller_of(req), _lifetime(body.expires_in_seconds)
        )
        _no_store(resp)
        reply(resp, PlaybackView.of(issued, self._public_url))


def asset_etag(asset: PlaybackAsset, size: int) -> str:
    """Outputs never change under their key (each processing run writes a new prefix),
    so the key and size name one representation; bytes written per request (a master
    playlist listing caption tracks) are named by their digest."""
    if asset.content is not None:
        return hashlib.sha256(asset.content).hexdigest()[:32]
    return hashlib.sha256(f"{asset.key}\x00{size}".encode()).hexdigest()[:32]


class PlayAsset:
    def __init__(
        self, playback: PlaybackService, redirect_downloads: bool, accel_redirect_prefix: str
    ) -> None:
        self._playback = playback
        self._redirect_downloads = redirect_downloads
        self._accel_redirect_prefix = accel_redirect_prefix

    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str, path: str) -> None:
        playback = self._playback
        asset = playback.authorize(token, path)
        left = playback.seconds_left(asset)
        if self._redirect_downloads and not asset.is_playlist and not asset.is_generated:
            url = playback.download_url(asset, max(1, min(REDIRECT_SECONDS, left)))
            if url is not None:
                resp.status = falcon.HTTP_307
                resp.location = url
                resp.cache_control = ["no-store"]
                return
        if self._accel_redirect_prefix and not asset.is_generated:
            # The front server answers ranges and conditional requests for the file.
            _asset_headers(resp, asset, left)
            resp.content_type = asset.content_type
            accel_redirect(resp, self._accel_redirect_prefix, asset.key)
            return
        size = playback.size(asset)  # before any caching header: a 404 is not cached
        _asset_headers(resp, asset, left)
        etag = asset_etag(asset, size)
        resp.set_header("ETag", f'"{etag}"')
        # Bytes written per request (a master listing caption tracks) have no modification
        # time that a deleted track would move forward: they are validated by ETag alone.
        modified = None if asset.is_generated else asset.modified_at
        if modified is not None:
            resp.last_modified = modified
        resp.set_header("Accept-Ranges", "bytes")
        if not_modified(req, etag, modified):
            resp.status = falcon.HTTP_304
            return
        picked = chosen_range(req, size, etag)
        if picked == "unsatisfiable":
            raise unsatisfiable(resp, size)
        resp.content_type = asset.content_type
        wanted = picked if isinstance(picked, ByteRange) else None
        send_bytes(resp, wanted, size, playback.open(asset, wanted, prefer_file=True))


def _asset_headers(resp: falcon.Response, asset: PlaybackAsset, seconds_left: int) -> None:
    max_age = min(PLAYLIST_MAX_AGE if asset.is_playlist else ASSET_MAX_AGE, seconds_left)
    resp.cache_control = ["private", f"max-age={max_age}"]
    resp.set_header("X-Content-Type-Options", "nosniff")
    resp.set_header("Content-Security-Policy", ASSET_CSP)


TEXT = {"type": "string"}
EXPIRES = Param(
    "expires_in_seconds",
    "query",
    {"type": "integer", "minimum": 1},
    "how long the URLs should last; clamped to between a minute and the server's maximum",
)
ASSET_HEADERS = {
    "ETag": "names the asset's bytes, quoted",
    "Cache-Control": "private; never beyond the URL's expiry",
    "X-Content-Type-Options": "nosniff",
}
ISSUED = (
    "URLs under /api/v1/play/{token}/ for the master playlist, posters and storyboard. "
    "Players fetch the variant playlists and segments through the playlists' relative "
    "URIs, which keep the token. Every fetch re-checks that the access behind the URL "
    "still holds."
)


def routes(c: HttpContext) -> list[Route]:
    tag = "playback"
    asset = {"type": "string", "contentMediaType": "*/*"}
    return [
        Route(
            f"{API}/videos/{{video_id}}/playback",
            VideoPlayback(c.platform.playback, c.public_url),
            (
                Operation(
                    "GET",
                    "Get playback URLs",
                    tag,
                    (Reply(200, "Signed URLs for the video's outputs", PlaybackView),),
                    params=(EXPIRES,),
                    auth="optional",
                    errors=(404, 409, 422),
                    description=(
                        f"{ISSUED} The owner and moderators get URLs that last while they "
                        "may manage the video; anyone else may watch a public or unlisted "
                        "video, under URLs that stop once it is made private. 404 for a "
                        "video the caller cannot see; 409 video_not_ready before it is ready."
                    ),
                ),
            ),
        ),
        Route(
            f"{API}/public/shares/playback",
            SharePlayback(c.json_limit, c.platform.playback, c.public_url),
            (
                Operation(
                    "POST",
                    "Get playback URLs through a share",
                    tag,
                    (Reply(200, "Signed URLs for the shared video's outputs", PlaybackView),),
                    body=Body(SharePlaybackBody),
                    auth="optional",
                    errors=(401, 404, 409, 410, 429),
                    description=(
                        f"Public. Counts one use of the link and is audited. {ISSUED} The "
                        "URLs stop when the link is revoked or expires. 401 "
                        "share_password_required / share_password_wrong; 410 share_expired "
                        "/ share_revoked / share_exhausted / share_unavailable; 409 "
                        "share_not_playable (a link to a file) or video_not_ready."
                    ),
                    scope=Scope.READ,
                ),
            ),
        ),
        Route(
            f"{PLAY}/{{token}}/{{path:path}}",
            PlayAsset(c.platform.playback, c.redirect_downloads, c.accel_redirect_prefix),
            (
                Operation(
                    "GET",
                    "Fetch a playback asset",
                    tag,
                    (
                        Reply(
                            200,
                            "The asset: a playlist, segment, poster or storyboard file",
                            media="*/*",
                            schema=asset,
                            headers=ASSET_HEADERS,
                        ),
                        Reply(
                            206,
                            "The requested byte range",
                            media="*/*",
                            schema=asset,
                            headers={**ASSET_HEADERS, "Content-Range": "bytes START-END/SIZE"},
                        ),
                        Reply(304, "Unchanged (If-None-Match, or else If-Modified-Since)"),
                        Reply(
                            307,
                            "With S3 storage, for anything but a playlist: fetch it from this "
                            "short-lived URL",
                            headers={"Location": "a presigned URL valid for 5 minutes at most"},
                        ),
                    ),
                    params=(
                        Param("Range", "header", TEXT, "one byte range, e.g. bytes=0-1023"),
                        Param("If-None-Match", "header", TEXT, "an ETag from a previous fetch"),
                        Param("If-Modified-Since", "header", TEXT, "an HTTP date"),
                        Param("If-Range", "header", TEXT, "the ETag the range applies to"),
                    ),
                    auth="none",
                    errors=(403, 404, 416),
                    description=(
                        "No login: the token in the path is the capability. `path` is the "
                        "asset's path under the video's outputs and may contain slashes "
                        "(720p/segment_00001.ts). A video with caption tracks lists them "
                        "in its master playlist as the SUBTITLES group `subs`; each track "
                        "is at captions/{language}.m3u8 (one WebVTT segment, "
                        "captions/{language}.vtt, its cues on the renditions' timeline). "
                        "403 playback_signature_invalid (altered "
                        "or malformed), playback_expired, playback_stale (the video was "
                        "processed again), playback_revoked (the share was revoked or has "
                        "expired, the video was made private, the user lost access); 404 "
                        "for a deleted video or an unknown asset."
                    ),
                ),
            ),
        ),
    ]
