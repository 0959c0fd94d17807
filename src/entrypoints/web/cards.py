"""A video as a poster in a grid: what every list page shows of it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from attrs import frozen

from videoplatform.application.playback import IssuedPlayback
from videoplatform.domain.videos import Video
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.resources.playback import PLAY
from videoplatform.entrypoints.web.session import Visitor

GRID_POSTER_WIDTH = 320
"""The narrowest poster at least this wide is shown in grids (the widest when none is)."""


@frozen
class Card:
    id: str
    title: str
    poster_url: str | None
    duration_seconds: float | None
    view_count: int
    created_at: datetime
    owner_id: str
    owner_name: str
    status: str
    visibility: str


def poster_url(issued: IssuedPlayback, width: int = GRID_POSTER_WIDTH) -> str | None:
    posters = issued.assets.posters  # largest first
    if not posters:
        return None
    fitting = [p for p in posters if p.width >= width]
    chosen = fitting[-1] if fitting else posters[0]
    return f"{PLAY}/{issued.token}/{chosen.path}"


def cards(platform: Platform, visitor: Visitor, videos: Sequence[Video]) -> list[Card]:
    issued = platform.playback.issue_listed(visitor.caller, videos)
    names = platform.users.channel_names(v.owner_id for v in videos)
    shown = []
    for video in videos:
        playback = issued.get(video.id)
        info = video.media_info
        shown.append(
            Card(
                id=video.id,
                title=video.title,
                poster_url=poster_url(playback) if playback else None,
                duration_seconds=info.duration_seconds if info else None,
                view_count=video.view_count,
                created_at=video.created_at,
                owner_id=video.owner_id,
                owner_name=names.get(video.owner_id, ""),
                status=video.status.value,
                visibility=video.visibility.value,
            )
        )
    return shown
