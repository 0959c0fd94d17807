"""The synthetic media adapters keep the media ports' promises."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from videoplatform.adapters.memory.media import (
    SyntheticMediaProber,
    SyntheticThumbnailer,
    SyntheticTranscoder,
    synthetic_clip,
)
from videoplatform.application.ports.media import MediaRejected
from videoplatform.domain.ladder import plan_ladder


def write(tmp_path: Path, data: bytes, name: str = "source.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_probe_reports_what_the_clip_declares(tmp_path: Path) -> None:
    source = write(tmp_path, synthetic_clip(width=1920, height=1080, duration=12.5, audio=False))
    info = SyntheticMediaProber().probe(source)
    assert (info.width, info.height, info.duration_seconds) == (1920, 1080, 12.5)
    assert info.has_audio is False


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a not a video", "not a media file"),
        (b'VPSYNTH1\n{"width": 1920', "truncated or corrupt"),
        (synthetic_clip(width=100_000), "picture size"),
        (synthetic_clip(duration=0), "duration"),
        (synthetic_clip(fps=10_000), "frame rate"),
        (synthetic_clip(rotation=45), "rotation"),
    ],
)
def test_probe_refuses_non_media_and_absurd_inputs_with_a_reason(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    with pytest.raises(MediaRejected, match=reason):
        SyntheticMediaProber().probe(write(tmp_path, data))


def test_poster_is_a_real_png_of_the_requested_width_and_display_aspect(tmp_path: Path) -> None:
    source = write(tmp_path, synthetic_clip(width=1920, height=1080, rotation=90))
    target = tmp_path / "poster.png"
    content_type = SyntheticThumbnailer().poster(source, 5.0, 360, target)
    data = target.read_bytes()
    assert content_type == "image/png"
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (360, 640)


def test_transcode_writes_a_master_playlist_naming_every_rung(tmp_path: Path) -> None:
    source = write(tmp_path, synthetic_clip(width=1280, height=720, duration=10.0))
    info = SyntheticMediaProber().probe(source)
    out = tmp_path / "out"
    out.mkdir()
    progress: list[int] = []
    result = SyntheticTranscoder().transcode(source, info, plan_ladder(info), out, progress.append)

    master = (out / result.master_playlist).read_text()
    variants = re.findall(r"RESOLUTION=(\d+)x(\d+)", master)
    assert variants == [("1280", "720"), ("854", "480"), ("640", "360")]
    assert progress[0] == 0
    assert progress[-1] == 100
    assert progress == sorted(progress)
    for rung in result.rungs:
        playlist = (out / rung.playlist).read_text()
        durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", playlist)]
        assert sum(durations) == pytest.approx(10.0)
        for segment in re.findall(r"^(segment_\d+\.ts)$", playlist, re.MULTILINE):
            assert (out / rung.playlist).parent.joinpath(segment).is_file()
        assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
