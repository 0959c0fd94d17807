"""The embedded profile with real ffmpeg: an uploaded clip becomes a ready video with a
ladder, posters and a storyboard, playable through signed URLs; hostile inputs fail with
a reason and leave no outputs."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import falcon.testing
import pytest
from bench import clips as media_clips

from tests.unit.conftest import MP4_HEAD
from videoplatform.application.context import Caller
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.ids import VideoId
from videoplatform.domain.uploads import UnsupportedMedia
from videoplatform.domain.videos import VideoStatus
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app
from videoplatform.entrypoints.settings import Settings

PASSWORD = "long enough passphrase"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        media_backend="ffmpeg",
        x264_preset="ultrafast",
        hls_segment_seconds=1,
        poster_widths="320,160",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    with create_platform(settings) as embedded:
        yield embedded


def _upload(platform: Platform, caller: Caller, source: Path) -> VideoId:
    video = platform.videos.upload(
        caller, UploadVideo(title=source.name, source=io.BytesIO(source.read_bytes()))
    )
    return video.id


def _smuggle(platform: Platform, caller: Caller, source: Path) -> VideoId:
    """A video whose stored source is ``source``, which the upload refuses (as it must):
    bytes stored before that check existed, or that fooled it. Processing has to refuse
    them on its own."""
    with pytest.raises(UnsupportedMedia):
        _upload(platform, caller, source)
    video = platform.videos.upload(caller, UploadVideo(source.name, io.BytesIO(MP4_HEAD)))
    storage = platform.container.resolve(ObjectStorage)
    storage.put(video.source_key, io.BytesIO(source.read_bytes()))
    return video.id


def test_an_uploaded_clip_becomes_ready_and_plays_through_signed_urls(
    platform: Platform, tmp_path: Path
) -> None:
    owner = platform.users.register(RegisterUser("o@example.com", PASSWORD, "Owner"))
    caller = Caller(owner.id)
    source = media_clips.clip(tmp_path, "source.mp4", width=640, height=360, duration=3.0)
    video_id = _upload(platform, caller, source)

    assert platform.processing.process("job-1", video_id) is ProcessingOutcome.READY

    video = platform.videos.get(caller, video_id)
    assert video.status is VideoStatus.READY and video.progress == 100
    assert video.media_info is not None
    assert (video.media_info.width, video.media_info.height) == (640, 360)
    assert video.media_info.has_audio
    assert [(r.name, r.width, r.height) for r in video.renditions] == [("360p", 640, 360)]
    assert video.assets is not None
    assert [(p.width, p.height) for p in video.assets.posters] == [(320, 180), (160, 90)]
    assert video.assets.storyboard is not None

    # Played as a player would: the master through its signed URL, then every URI in
    # each playlist resolved relative to the playlist that names it.
    client = falcon.testing.TestClient(create_app(platform, HttpOptions()))
    issued = platform.playback.issue(caller, video.id)
    base = f"/api/v1/play/{issued.token}/"
    master_url = base + issued.assets.master_playlist
    master = client.simulate_get(master_url)
    assert master.status_code == 200, master.text
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    variants = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    assert len(variants) == 1
    variant_url = urljoin(master_url, variants[0])
    variant = client.simulate_get(variant_url)
    assert variant.status_code == 200
    segments = [line for line in variant.text.splitlines() if line and not line.startswith("#")]
    durations = [float(d) for d in re.findall(r"#EXTINF:([0-9.]+),", variant.text)]
    assert len(segments) == len(durations) >= 3
    assert abs(sum(durations) - 3.0) < 0.2
    for segment in segments:
        reply = client.simulate_get(urljoin(variant_url, segment))
        assert reply.status_code == 200
        assert reply.content[:1] == b"\x47"  # an MPEG-TS sync byte
    poster = client.simulate_get(base + issued.assets.posters[0].path)
    assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"  # JPEG


def test_a_playlist_disguised_as_a_video_fails_with_a_reason_and_no_outputs(
    platform: Platform, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read\n")
    hostile = tmp_path / "hostile.mp4"
    hostile.write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n"
        f"file://{secret}\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n"
    )
    owner = platform.users.register(RegisterUser("o@example.com", PASSWORD, "Owner"))
    caller = Caller(owner.id)
    video_id = _smuggle(platform, caller, hostile)

    assert platform.processing.process("job-1", video_id) is ProcessingOutcome.FAILED
    state = platform.processing.progress(caller, video_id)
    assert state.status is VideoStatus.FAILED
    assert state.last_error
    out = tmp_path / "data" / "objects" / "videos" / video_id / "out"
    assert not out.exists() or [p for p in out.rglob("*") if p.is_file()] == []


def test_non_media_and_truncated_uploads_fail_with_reasons(
    platform: Platform, tmp_path: Path
) -> None:
    owner = platform.users.register(RegisterUser("o@example.com", PASSWORD, "Owner"))
    caller = Caller(owner.id)
    for source, stage in (
        (media_clips.not_media(tmp_path), _smuggle),
        (media_clips.truncated(tmp_path), _upload),
    ):
        video_id = stage(platform, caller, source)
        assert platform.processing.process("job-1", video_id) is ProcessingOutcome.FAILED
        state = platform.processing.progress(caller, video_id)
        assert state.status is VideoStatus.FAILED and state.last_error, source.name


def test_a_picture_beyond_the_configured_limits_fails_before_any_transcoding(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        media_backend="ffmpeg",
        media_max_width=320,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    with create_platform(settings) as platform:
        owner = platform.users.register(RegisterUser("o@example.com", PASSWORD, "Owner"))
        caller = Caller(owner.id)
        source = media_clips.clip(tmp_path, "wide.mp4", width=640, height=360, duration=1.0)
        video_id = _upload(platform, caller, source)
        assert platform.processing.process("job-1", video_id) is ProcessingOutcome.FAILED
        state = platform.processing.progress(caller, video_id)
        assert state.last_error is not None and "640x360" in state.last_error
        out = tmp_path / "data" / "objects" / "videos" / video_id / "out"
        assert not out.exists() or [p for p in out.rglob("*") if p.is_file()] == []
