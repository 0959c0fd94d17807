"""Choosing the video feed from settings.

``memory://`` keeps updates within the process (the embedded profile, where processing
threads run beside the API); ``redis://`` (or ``rediss://``) carries them between
workers and API processes on any machine. Nothing connects here.
"""

from __future__ import annotations

from videoplatform.adapters.memory.feed import MemoryVideoFeed
from videoplatform.application.ports.feed import VideoFeed
from videoplatform.entrypoints.resilience import Breakers, GuardedFeed
from videoplatform.entrypoints.settings import ConfigurationError, Settings, require_extra
from videoplatform.entrypoints.wiring import Closer


def open_feed(settings: Settings, closers: list[Closer], breakers: Breakers) -> VideoFeed:
    """The feed ``settings`` name; Redis behind its circuit breaker."""
    url = settings.feed_url
    scheme = url.split(":", 1)[0]
    if scheme == "memory":
        return MemoryVideoFeed()
    if scheme in ("redis", "rediss"):
        require_extra("FEED_URL", url, "redis", "redis")
        from videoplatform.adapters.redis.feed import RedisVideoFeed

        try:
            feed = RedisVideoFeed(url, settings.queue_prefix)
        except ValueError as malformed:
            raise ConfigurationError(f"VIDEOPLATFORM_FEED_URL: {malformed}") from None
        closers.append(feed.close)
        return GuardedFeed(feed, breakers)
    raise ConfigurationError(
        f"VIDEOPLATFORM_FEED_URL={url!r}: use redis://HOST:PORT/DB or memory://"
    )
