"""The watch page: the player, and what there is to know about the video."""

from __future__ import annotations

import falcon

from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import VideoStatus
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
