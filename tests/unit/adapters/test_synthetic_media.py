"""The synthetic media adapters take audio uploads and embedded subtitles, so that the
whole platform processes them in memory as it does with ffmpeg."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest

from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.media import (
    COVER_RGB,
    MAGIC,
    TIMELINE_START,
    WAVEFORM_RGB,
    SyntheticMediaProber,
    SyntheticStoryboarder,
    SyntheticSubtitleExtractor,
    SyntheticThumbnailer,
    SyntheticTranscoder,
    synthetic_audio,
    synthetic_clip,
)
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.application.ports.media import MediaRejected, SubtitleText
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.ladder import plan_audio, plan_ladder
from videoplatform.domain.videos import FailureCode, VideoStatus
from videoplatform.entrypoints.bootstrap import Platform


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "source"
    path.write_bytes(data)
    return path


def png_size_and_colour(path: Path) -> tuple[int, int, bytes]:
    import zlib

    data = path.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    pixels = zlib.decompress(data[idat + 4 : idat + 4 + length])
    return width, height, pixels[1:4]


def test_a_clip_made_without_the_new_keys_is_byte_for_byte_an_old_one() -> None:
    old = {"width": 640, "height": 360, "duration": 2.0, "fps": 25.0, "audio": True, "rotation": 0}
    assert synthetic_clip(width=640, height=360, duration=2.0, fps=25.0) == (
        MAGIC + json.dumps(old).encode() + b"\n"
    )


def test_an_old_clip_still_probes_as_a_video_with_stereo_sound(tmp_path: Path) -> None:
    old = {"width": 640, "height": 360, "duration": 2.0, "fps": 25.0, "audio": True, "rotation": 0}
    info = SyntheticMediaProber().probe(write(tmp_path, MAGIC + json.dumps(old).encode() + b"\n"))
    assert (info.width, info.video_codec, info.audio_channels) == (640, "synthetic", 2)
    assert info.subtitle_languages == () and not info.is_audio_only


def test_an_audio_clip_is_sound_alone(tmp_path: Path) -> None:
    info = SyntheticMediaProber().probe(write(tmp_path, synthetic_audio(duration=90, channels=1)))
    assert info.is_audio_only
    assert (info.width, info.height, info.fps, info.audio_channels) == (0, 0, 0.0, 1)
    assert info.duration_seconds == 90


def test_a_clip_without_picture_or_sound_is_refused(tmp_path: Path) -> None:
    silent = synthetic_clip(width=0, height=0, audio=False)
    with pytest.raises(MediaRejected, match="no picture or sound") as refused:
        SyntheticMediaProber().probe(write(tmp_path, silent))
    assert refused.value.code is FailureCode.NO_VIDEO


def test_uploads_of_recordings_are_accepted_like_videos() -> None:
    prober = SyntheticMediaProber()
    assert prober.accepts(b"ID3\x04\x00\x00\x00\x00\x00\x00")
    assert prober.accepts(b"fLaC\x00\x00\x00\x22")
    assert not prober.accepts(b"MThd\x00\x00\x00\x06")  # MIDI: a score, not a recording
    assert not prober.accepts(b"%PDF-1.7\n")


def test_an_audio_clip_gets_16_9_posters_red_for_a_cover_blue_for_a_waveform(
    tmp_path: Path,
) -> None:
    for cover, colour in ((True, COVER_RGB), (False, WAVEFORM_RGB)):
        source = write(tmp_path, synthetic_audio(cover=cover))
        target = tmp_path / "poster.png"
        SyntheticThumbnailer().posters(source, 3.0, [640], [target])
        assert png_size_and_colour(target) == (640, 360, bytes(colour))


def test_an_audio_clip_has_no_storyboard_and_one_audio_only_rendition(tmp_path: Path) -> None:
    source = write(tmp_path, synthetic_audio(duration=9.0))
    info = SyntheticMediaProber().probe(source)
    with pytest.raises(ValueError, match="no pictures"):
        SyntheticStoryboarder().storyboard(source, info, tmp_path / "board")
    out = tmp_path / "hls"
    result = SyntheticTranscoder().transcode(source, info, [plan_audio(info)], out, lambda _: None)
    assert [(r.name, r.width, r.height, r.codecs) for r in result.rungs] == [
        ("audio", 0, 0, "mp4a.40.2")
    ]
    master = (out / result.master_playlist).read_text()
    assert 'CODECS="mp4a.40.2"' in master and "RESOLUTION" not in master
    assert result.start_pts == TIMELINE_START


def test_declared_subtitles_come_out_as_webvtt_in_order(tmp_path: Path) -> None:
    source = write(
        tmp_path,
        synthetic_clip(subtitles=["eng", {"language": "fra", "text": "Bonjour <b>tous</b>"}]),
    )
    prober = SyntheticMediaProber()
    info = prober.probe(source)
    assert info.subtitle_languages == ("eng", "fra")
    found = SyntheticSubtitleExtractor(prober).extract(source, info, tmp_path / "subtitles")
    assert [s.language for s in found] == ["eng", "fra"]
    assert found[0].webvtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:10.000\n")
    assert "Subtitle 0 (eng)" in found[0].webvtt
    assert "Bonjour <b>tous</b>" in found[1].webvtt
    video = SyntheticMediaProber().probe(write(tmp_path, synthetic_clip()))
    assert SyntheticSubtitleExtractor().extract(source, video, tmp_path / "none") == ()


# -- the whole platform, in memory ------------------------------------------------------


def test_an_audio_upload_becomes_a_ready_video_with_posters_and_no_storyboard(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    owner = make_user()
    upload = UploadVideo(
        title="A podcast",
        source=io.BytesIO(synthetic_audio(duration=30.0, channels=1, subtitles=["eng"])),
    )
    video = platform.videos.upload(owner, upload)
    assert platform.processing.process("job-1", video.id) is ProcessingOutcome.READY
    ready = platform.videos.get(owner, video.id)
    assert ready.status is VideoStatus.READY
    assert ready.media_info is not None and ready.media_info.is_audio_only
    assert [(r.name, r.width, r.height, r.codecs) for r in ready.renditions] == [
        ("audio", 0, 0, "mp4a.40.2")
    ]
    assets = ready.assets
    assert assets is not None and assets.storyboard is None
    assert assets.timeline_pts == TIMELINE_START
    assert [(p.width, p.height) for p in assets.posters] == [(1280, 720), (640, 360), (320, 180)]
    stored = storage.keys()
    keys = [key for key in stored if key.startswith(assets.prefix)]
    assert assets.prefix + assets.master_playlist in keys
    assert not any("storyboard" in key or key.endswith(".vtt") for key in keys)


def test_a_videos_subtitles_are_handed_on_and_a_failed_extraction_is_no_failure(
    platform: Platform, make_user: MakeUser, tmp_path: Path
) -> None:
    from videoplatform.application.ports.media import MediaTools
    from videoplatform.application.ports.storage import ObjectStorage
    from videoplatform.application.ports.system import Clock
    from videoplatform.application.processing.config import ProcessingConfig
    from videoplatform.application.processing.workspace import Workshop

    owner = make_user()
    data = synthetic_clip(duration=6.0, subtitles=["eng", "fra"])
    video = platform.videos.upload(owner, UploadVideo(title="Subtitled", source=io.BytesIO(data)))
    storage = platform.container.resolve(ObjectStorage)
    clock = platform.container.resolve(Clock)
    config = ProcessingConfig(work_dir=tmp_path / "work")

    class Broken:
        def extract(self, source: Path, info: object, output_dir: Path) -> tuple[SubtitleText, ...]:
            raise RuntimeError("ffmpeg exited with status 1")

    prober = SyntheticMediaProber()
    tools = MediaTools(
        prober,
        SyntheticThumbnailer(prober),
        SyntheticStoryboarder(),
        SyntheticTranscoder(),
        SyntheticSubtitleExtractor(prober),
    )
    produced = Workshop(storage, clock, tools, config).produce(video, 1, "p/1/", lambda _: None)
    assert [s.language for s in produced.subtitles] == ["eng", "fra"]
    assert produced.assets.storyboard is not None
    assert produced.assets.timeline_pts == TIMELINE_START
    stored = storage.keys()
    assert not any(k.startswith("p/1/") and "subtitles" in k for k in stored)

    broken = MediaTools(
        prober,
        SyntheticThumbnailer(prober),
        SyntheticStoryboarder(),
        SyntheticTranscoder(),
        Broken(),
    )
    again = Workshop(storage, clock, broken, config).produce(video, 2, "p/2/", lambda _: None)
    assert again.subtitles == ()
    assert [r.name for r in again.renditions] == [r.spec.name for r in plan_ladder(again.info)]
