"""The API's video view built directly for lists writes what the cattrs view writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.videos import (
    FailureCode,
    MediaInfo,
    PlaybackAssets,
    Rendition,
    Video,
    VideoStatus,
    Visibility,
)
from videoplatform.entrypoints.http.convert import dump, instant, json_bytes
from videoplatform.entrypoints.http.views import VideoView

CREATED = datetime(2026, 12, 7, 11, 23, 4, 916455, tzinfo=UTC)


def uploaded() -> Video:
    return Video(
        id=VideoId("01M983WEAJF6AXNFFVNWT19S4W"),
        owner_id=UserId("01M983WDJZ6A4WT58B3MK9AMSS"),
        title="Morning, river — été",
        description="Mist on the water.\nThe first boats.",
        tags=("river", "morning"),
        visibility=Visibility.UNLISTED,
        source_key="videos/01M983WEAJF6AXNFFVNWT19S4W/source",
        source_size=123_456_789,
        created_at=CREATED,
        updated_at=CREATED,
    )


def ready() -> Video:
    video = uploaded()
    video.category_id = CategoryId("01M983WDJZ6A4WT58B3MK9AMST")
    video.visibility = Visibility.PUBLIC
    video.status = VideoStatus.READY
    video.progress = 100
    video.view_count = 42
    video.poster_at_seconds = 3.5
    video.media_info = MediaInfo(
        duration_seconds=61.25,
        width=1920,
        height=1080,
        video_codec="h264",
        audio_codec="aac",
        fps=29.97,
        bitrate=6_000_000,
        rotation=90,
        container="mp4",
        audio_channels=2,
        subtitle_languages=("en", "und"),
    )
    video.renditions = tuple(
        Rendition(f"{h}p", w, h, rate, "avc1.640028,mp4a.40.2", f"{h}p/index.m3u8")
        for w, h, rate in ((1920, 1080, 5_000_000), (640, 360, 800_000))
    )
    video.assets = PlaybackAssets(prefix="videos/x/out/", master_playlist="master.m3u8")
    # An instant in another zone is written in UTC all the same.
    video.updated_at = (CREATED + timedelta(hours=1)).astimezone(timezone(timedelta(hours=2)))
    return video


def failed() -> Video:
    video = uploaded()
    video.status = VideoStatus.FAILED
    video.last_error = "The file is not a video we can read."
    video.failure_code = FailureCode(next(iter(FailureCode)).value)
    return video


def audio_only() -> Video:
    video = ready()
    video.media_info = MediaInfo(
        duration_seconds=200.0,
        width=0,
        height=0,
        video_codec=None,
        audio_codec="opus",
        fps=0.0,
        bitrate=128_000,
    )
    return video


@pytest.mark.parametrize("make", [uploaded, ready, failed, audio_only])
def test_the_direct_view_is_the_cattrs_view(make: object) -> None:
    video = make()  # type: ignore[operator]
    direct = VideoView.data(video)
    # The same document, byte for byte: the same fields in the same order, the same
    # values, instants written the same way.
    assert json_bytes(direct) == json_bytes(dump(VideoView.of(video)))


def test_the_direct_view_writes_instants_in_utc() -> None:
    data = orjson.loads(json_bytes(VideoView.data(ready())))
    assert data["created_at"] == "2026-12-07T11:23:04.916455+00:00"
    assert data["updated_at"] == "2026-12-07T12:23:04.916455+00:00"
    assert data["kind"] == "video"
    assert VideoView.data(audio_only())["kind"] == "audio"
    assert VideoView.data(uploaded())["kind"] is None


def test_replies_are_json_in_utf8_and_keep_what_orjson_refuses() -> None:
    assert orjson.loads(json_bytes({"title": "été", "n": 1.5})) == {"title": "été", "n": 1.5}
    assert json_bytes({"title": "été"}) == '{"title":"été"}'.encode()
    assert json_bytes({"n": 2**70}) == b'{"n": 1180591620717411303424}'


@pytest.mark.parametrize(
    "moment",
    [
        CREATED,
        datetime(2026, 1, 1, tzinfo=UTC),  # no microseconds: none written
        datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_an_instant_left_a_datetime_is_written_as_instant_writes_it(moment: datetime) -> None:
    assert json_bytes({"at": moment}) == f'{{"at":"{instant(moment)}"}}'.encode()
    # Beside a value only the standard library writes, too.
    both = json.loads(json_bytes({"at": moment, "n": 2**70}))
    assert both == {"at": instant(moment), "n": 2**70}
