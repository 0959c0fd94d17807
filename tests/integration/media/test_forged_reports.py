"""A file cannot make the prober believe lines it wrote itself: ffmpeg prints metadata
keys as they are, newlines included, so a tag name can imitate its report."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import clips as media_clips

from videoplatform.adapters.ffmpeg import FfmpegConfig, FfmpegProber
from videoplatform.application.ports.media import MediaRejected

FORGED = (
    "\n  Duration: 00:00:01.00, start: 0.000000, bitrate: 1 kb/s"
    "\n    Stream #0:0: Video: h264, yuv420p, 16x16, 1 fps"
)


def forged_clip(folder: Path) -> Path:
    """A real 320x240 clip whose one tag name is the forged report."""
    placeholder = "Q" * len(FORGED)
    clip = media_clips.clip(folder, "plain.mkv", duration=2.0)
    tagged = folder / "tagged.mkv"
    media_clips._run(["-i", str(clip), "-c", "copy", "-metadata", f"{placeholder}=x", str(tagged)])
    data = tagged.read_bytes()
    assert data.count(placeholder.encode()) == 1
    forged = folder / "forged.mkv"
    forged.write_bytes(data.replace(placeholder.encode(), FORGED.encode()))
    return forged


def test_a_tag_that_imitates_the_report_is_refused(tmp_path: Path) -> None:
    prober = FfmpegProber(FfmpegConfig())
    honest = prober.probe(media_clips.clip(tmp_path, "honest.mkv", duration=2.0))
    assert (honest.width, honest.height) == (320, 240)
    with pytest.raises(MediaRejected, match="imitates"):
        prober.probe(forged_clip(tmp_path))
