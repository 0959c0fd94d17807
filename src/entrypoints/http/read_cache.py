"""Cache-aside for the one response that is the same for every anonymous caller: a
video the public may see (public or unlisted, and ready), as rendered JSON.

Entries are dropped on every committed change to their video (domain events), and
expire after a short time anyway, so view counts are at most that old. Nothing
personal is ever cached: signed-in callers, and any video the public may not see,
always go to the services (and their permission checks).
"""

from __future__ import annotations

from application.ports.cache import Cache
from application.ports.queue import EventBus
from domain.events import VideoEvent
from domain.videos import Video


class PublicVideoCache:
    def __init__(self, cache: Cache, events: EventBus, ttl_seconds: float) -> None:
        self._cache = cache
        self._ttl = ttl_seconds
        events.subscribe(VideoEvent, self._forget)

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    @staticmethod
    def _key(video_id: str) -> str:
        return f"http:video:{video_id}"

    def get(self, video_id: str) -> bytes | None:
        return self._cache.get(self._key(video_id)) if self.enabled else None

    def keep(self, video: Video, body: bytes) -> None:
        """Store ``body`` if the public may see ``video``; otherwise never."""
        if self.enabled and video.can_be_seen_by(None):
            self._cache.set(self._key(video.id), body, self._ttl)

    def _forget(self, event: VideoEvent) -> None:
        self._cache.delete(self._key(event.video_id))
