"""Choosing the video feed and the event-stream cap from settings."""

from __future__ import annotations

import pytest
from attrs import evolve

from tests.unit.conftest import CHEAP_ARGON2
from videoplatform.adapters.memory.feed import MemoryVideoFeed
from videoplatform.adapters.redis.feed import RedisVideoFeed
from videoplatform.application.ports.feed import VideoFeed
from videoplatform.domain.ids import VideoId
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.resilience import GuardedFeed
from videoplatform.entrypoints.settings import ConfigurationError, Settings


def feed_of(settings: Settings) -> VideoFeed:
    with create_platform(settings) as platform:
        feed: VideoFeed = platform.container.resolve(VideoFeed)
    return feed


def test_the_default_feed_stays_in_the_process() -> None:
    assert Settings().feed_url == "memory://"
    assert isinstance(feed_of(CHEAP_ARGON2), MemoryVideoFeed)


def test_a_redis_url_chooses_redis_pub_sub_without_connecting_at_start() -> None:
    # Port 1 refuses connections: building (and closing) the platform must not connect.
    settings = evolve(CHEAP_ARGON2, feed_url="redis://127.0.0.1:1/0")
    feed = feed_of(settings)
    assert isinstance(feed, GuardedFeed)  # behind its circuit breaker
    assert isinstance(feed.inner, RedisVideoFeed)
    assert feed.inner.channel(VideoId("01ABC")) == "videoplatform.video:01ABC"


@pytest.mark.parametrize("url", ["kafka://broker:9092", "redis://host:notaport/0"])
def test_an_unknown_or_malformed_feed_url_is_refused_by_name(url: str) -> None:
    with pytest.raises(ConfigurationError, match="VIDEOPLATFORM_FEED_URL"):
        create_platform(evolve(CHEAP_ARGON2, feed_url=url))


def test_event_streams_default_to_half_the_threads_and_none_with_one_thread() -> None:
    assert Settings.in_memory(threads=8).event_stream_limit == 4
    assert Settings.in_memory(threads=1).event_stream_limit == 0
    assert Settings.in_memory(threads=1, event_streams=1).event_stream_limit == 1
    assert Settings.in_memory(threads=8, event_streams=20).event_stream_limit == 20
    with pytest.raises(ConfigurationError, match="EVENT_STREAMS"):
        Settings.in_memory(event_streams=-1)
    assert Settings.from_env({"VIDEOPLATFORM_FEED_URL": "redis://cache:6379/2"}).feed_url == (
        "redis://cache:6379/2"
    )
