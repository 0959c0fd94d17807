"""Cache-aside for the one response that is the same for every anonymous caller: a
video the public may see (public or unlisted, and ready), as rendered JSON.

Entries are dropped on every committed change to their video (domain events), all of
them at once when an account is disabled or enabled (whose videos they are is not
known without loading them), and expire after a short time anyway, so view counts are
at most that old. Nothing
personal is ever cached: signed-in callers, and any video the public may not see,
always go to the services (and their permission checks).

A read takes a ticket before it loads the video; a change in between bumps the video's
generation, and the read's (now stale) copy is then never stored. The generations live
in this process, as do the memory cache's entries: under a server with several worker
processes the cache is bypassed (``enabled_for``), because one process's invalidation
could not reach another's entries in time.

Changes committed by other processes (a worker finishing a video, another node) arrive
through the durable per-node subscription :data:`READ_CACHE` shortly after their commit;
this process's own changes arrive at once through the in-process bus.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from videoplatform.application.dispatch import Dispatcher
from videoplatform.application.events.codec import event_types
from videoplatform.application.events.consumer import DurableHandler
from videoplatform.application.ports.cache import Cache
from videoplatform.application.ports.queue import EventBus, Subscription
from videoplatform.domain.events import DomainEvent, UserDisabled, UserEnabled, VideoEvent
from videoplatform.domain.videos import Video

READ_CACHE = Subscription(
    "read-cache",
    (
        *sorted(n for n, cls in event_types().items() if issubclass(cls, VideoEvent)),
        UserDisabled.__name__,
        UserEnabled.__name__,
    ),
    per_node=True,
)

_GENERATIONS_KEPT = 100_000
_EPOCH_BYTES = 8


class PublicVideoCache:
    def __init__(
        self,
        cache: Cache,
        events: EventBus,
        ttl_seconds: float,
        *,
        shared: bool = False,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self._cache = cache
        self._ttl = ttl_seconds
        self._shared = shared
        self._lock = threading.Lock()
        self._generations: OrderedDict[str, int] = OrderedDict()
        # Stored with every entry: an entry of an older epoch is never served, so
        # bumping it drops every entry at once without knowing their keys.
        self._epoch = 0
        dispatch = dispatcher or Dispatcher(())
        dispatch.subscribe(events, VideoEvent, "read_cache.forget_video", self._forget)
        dispatch.subscribe(events, UserDisabled, "read_cache.forget_all", self._forget_all)
        dispatch.subscribe(events, UserEnabled, "read_cache.forget_all", self._forget_all)

    def enabled_for(self, multiprocess: bool) -> bool:
        """Whether to use the cache under this server (``wsgi.multiprocess``)."""
        return self._ttl > 0 and (self._shared or not multiprocess)

    @staticmethod
    def _key(video_id: str) -> str:
        return f"http:video:{video_id}"

    def ticket(self, video_id: str) -> tuple[int, int]:
        with self._lock:
            return self._epoch, self._generations.get(video_id, 0)

    def get(self, video_id: str) -> bytes | None:
        stored = self._cache.get(self._key(video_id))
        if stored is None or int.from_bytes(stored[:_EPOCH_BYTES], "big") != self._epoch:
            return None
        return stored[_EPOCH_BYTES:]

    def keep(self, video: Video, body: bytes, ticket: tuple[int, int]) -> None:
        """Store ``body`` if the public may see ``video`` and nothing changed it since
        ``ticket`` was taken; otherwise never."""
        if not video.can_be_seen_by(None):
            return
        with self._lock:
            if (self._epoch, self._generations.get(video.id, 0)) != ticket:
                return
            stamped = self._epoch.to_bytes(_EPOCH_BYTES, "big") + body
            self._cache.set(self._key(video.id), stamped, self._ttl)

    def durable_handler(self) -> DurableHandler:
        """Drops entries on changes committed anywhere (per node: this process)."""
        return DurableHandler(READ_CACHE, self._forget_any)

    def _forget_any(self, event: DomainEvent) -> None:
        if isinstance(event, VideoEvent):
            self._forget(event)
        elif isinstance(event, UserDisabled | UserEnabled):
            self._forget_all(event)

    def _forget(self, event: VideoEvent) -> None:
        with self._lock:
            self._generations[event.video_id] = self._generations.get(event.video_id, 0) + 1
            self._generations.move_to_end(event.video_id)
            while len(self._generations) > _GENERATIONS_KEPT:
                # Forgetting an old generation only makes a later read skip storing once.
                self._generations.popitem(last=False)
            self._cache.delete(self._key(event.video_id))

    def _forget_all(self, _: UserDisabled | UserEnabled) -> None:
        with self._lock:
            self._epoch += 1
