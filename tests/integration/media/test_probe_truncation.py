"""The probe's end-of-file check on files whose last keyframe is far from their end.

Screen recorders often write a keyframe every few minutes, or only the first: seeking to
the last second then lands on a keyframe minutes back, and more packets follow it than
any run keeps of ffmpeg's output. Such a file is whole and must be accepted; the same
file cut short must still be refused.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from bench import clips as media_clips

from videoplatform.adapters.ffmpeg import FfmpegConfig, FfmpegProber
from videoplatform.adapters.ffmpeg.process import STDOUT_KEEP_LINES
from videoplatform.application.ports.media import MediaRejected
from videoplatform.domain.videos import FailureCode

CONFIG = FfmpegConfig(preset="ultrafast", threads=2)
# One keyframe, then 2 minutes at 60 fps with 48 kHz AAC: 7,199 video and 5,626 audio
# packets after it. A tiny, flat picture and silent audio keep it quick to make.
SECONDS = 120


def ffmpeg(*args: str) -> str:
    done = subprocess.run(
        [media_clips.ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args],
        capture_output=True, text=True, check=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return done.stdout


@pytest.fixture(scope="module")
def one_keyframe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same recording as MP4 (index first, so a cut copy still opens), Matroska and
    FLV (no index: seeking lands on the keyframe, and every packet after it is copied)."""
    directory = tmp_path_factory.mktemp("one-keyframe")
    mp4 = directory / "recording.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=64x36:rate=60:duration={SECONDS}",
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-g", str(100 * 60 * SECONDS), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "32k", "-t", str(SECONDS),
        "-movflags", "+faststart", "-y", str(mp4),
    )  # fmt: skip
    clips = {"mp4": mp4}
    for container in ("mkv", "flv"):
        clips[container] = directory / f"recording.{container}"
        ffmpeg("-i", str(mp4), "-c", "copy", "-y", str(clips[container]))
    return clips


def packets_from_the_last_keyframe(path: Path) -> int:
    """How many packets a copy from the last video keyframe to the end holds."""
    packets = [
        line.split(",")
        for line in ffmpeg("-i", str(path), "-c", "copy", "-f", "framecrc", "-").splitlines()
        if line and not line.startswith("#")
    ]
    keyframes = [i for i, fields in enumerate(packets) if fields[0] == "0" and is_key(fields)]
    assert len(keyframes) == 1, "the recording was meant to have a single keyframe"
    return len(packets) - keyframes[-1]


def is_key(fields: list[str]) -> bool:
    # framecrc prints a packet's flags only when they are not exactly "keyframe".
    flags = [f.strip().removeprefix("F=") for f in fields[6:] if f.strip().startswith("F=")]
    return not flags or bool(int(flags[0], 16) & 1)


def cut_short(path: Path, keep: float = 0.9) -> Path:
    data = path.read_bytes()
    target = path.with_name(f"cut-{path.name}")
    target.write_bytes(data[: int(len(data) * keep)])
    return target


@pytest.mark.parametrize("container", ["mp4", "mkv", "flv"])
def test_a_whole_file_with_minutes_after_its_last_keyframe_is_accepted(
    one_keyframe: dict[str, Path], container: str
) -> None:
    source = one_keyframe[container]
    assert packets_from_the_last_keyframe(source) > STDOUT_KEEP_LINES
    info = FfmpegProber(CONFIG).probe(source)
    assert info.duration_seconds == pytest.approx(SECONDS, abs=0.1)
    assert (info.width, info.height, info.fps) == (64, 36, 60)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")


@pytest.mark.parametrize("container", ["mp4", "mkv", "flv"])
def test_the_same_file_cut_short_is_refused(one_keyframe: dict[str, Path], container: str) -> None:
    with pytest.raises(MediaRejected, match="damaged or incomplete") as refused:
        FfmpegProber(CONFIG).probe(cut_short(one_keyframe[container]))
    assert refused.value.code is FailureCode.CORRUPT
