"""The watch page: the player, and what there is to know about the video."""

from __future__ import annotations

import falcon

from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import VideoStatus
from videoplatform.entrypoints.http.resources.common import send_attachment
from videoplatform.entrypoints.http.resources.playback import PLAY
from videoplatform.entrypoints.web.cards import poster_url
from videoplatform.entrypoints.web.context import Site

PLAYER_POSTER_WIDTH = 1280


class Watch:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor = self._site.visitor(req, resp)
        platform = self._site.platform
        # Hidden and missing videos are the same 404 (the use case decides).
        video = platform.videos.get(visitor.caller, VideoId(video_id))
        playback = None
        if video.status is VideoStatus.READY and video.assets is not None:
            issued = platform.playback.issue(visitor.caller, video.id)
            base = f"{PLAY}/{issued.token}/"
            board = issued.assets.storyboard
            playback = {
                "master": base + issued.assets.master_playlist,
                "poster": poster_url(issued, PLAYER_POSTER_WIDTH),
                "storyboard": base + board.vtt_path if board else None,
            }
        category = next((c for c in platform.categories.list() if c.id == video.category_id), None)
        owner = platform.users.channel_names([video.owner_id]).get(video.owner_id, "")
        self._site.pages.render(
            req,
            resp,
            "watch.html",
            visitor,
            video=video,
            playback=playback,
            category=category,
            owner_name=owner,
            manages=visitor.user is not None and video.is_managed_by(visitor.user),
        )


class WatchView:
    """``POST /watch/{id}/view``: the player counts one view of the video, once per
    viewing, after a few seconds of playback."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor, _ = self._site.posted(req, resp, member=False)
        self._site.platform.videos.record_view(visitor.caller, VideoId(video_id))
        resp.status = falcon.HTTP_204


EXTENSIONS = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "video/x-msvideo": ".avi",
    "video/mp2t": ".ts",
    "video/mpeg": ".mpg",
    "video/x-flv": ".flv",
    "video/x-ms-asf": ".wmv",
    "video/3gpp": ".3gp",
    "video/ogg": ".ogv",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
    "audio/wav": ".wav",
    "audio/flac": ".flac",
    "audio/aiff": ".aiff",
}
"""The file name's extension for a sniffed type (none for the others)."""


class WatchSource:
    """``GET /watch/{id}/source``: the uploaded file, for its owner and moderators."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor = self._site.member(req, resp)
        source = self._site.platform.videos.open_source(visitor.caller, VideoId(video_id))
        # A title may hold what a file name may not: no folder ever comes from it.
        title = source.video.title.replace("/", "_").replace("\\", "_")
        name = title + EXTENSIONS.get(source.media_type.mime, "")
        resp.cache_control = ["private", "no-store"]
        send_attachment(resp, name, source.media_type.mime, source.video.source_size, source.chunks)
