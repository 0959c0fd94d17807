"""Tiny real video clips generated with ffmpeg's lavfi sources, for benches and tests
(which import them from here: no benchmark imports from tests/).

Each function writes one clip into ``directory`` and returns its path. They use the
ffmpeg of imageio-ffmpeg and only lavfi sources (``testsrc2`` picture, ``sine`` tone),
so they need nothing but that binary; clips are small and fast to make (ultrafast x264).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42"
"""The first bytes of an MP4 file: enough for an upload to be taken as a video (on
synthetic media, processing then refuses it, as it refuses anything but a synthetic
clip)."""


def ffmpeg_exe() -> str:
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _run(args: list[str]) -> None:
    subprocess.run(  # noqa: S603 - the bundled ffmpeg, on arguments made here
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def clip(
    directory: Path,
    name: str = "clip.mp4",
    *,
    width: int = 320,
    height: int = 240,
    duration: float = 2.0,
    fps: int = 25,
    audio: bool = True,
    rotation: int = 0,
    gop: int | None = None,
    pix_fmt: str = "yuv420p",
) -> Path:
    """A ``testsrc2`` clip (with a 440 Hz ``sine`` when ``audio``), container from the
    name's extension. ``rotation`` (clockwise degrees, like a phone's ``rotate`` tag)
    is stored as display-matrix side data; the pixels stay ``width`` x ``height``.
    ``gop`` sets the keyframe interval in frames (x264's default otherwise)."""
    target = directory / name
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={duration}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}"]
    # testsrc2 rounds sizes down to even; scale brings odd ones back.
    codecs = ["-vf", f"scale={width}:{height},setsar=1"]
    codecs += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt]
    if gop is not None:
        codecs += ["-g", str(gop)]
    if audio:
        codecs += ["-c:a", "aac", "-b:a", "64k"]
    _run([*inputs, *codecs, "-t", str(duration), str(target)])
    if rotation % 360:
        rotated = directory / f"rotated-{name}"
        # -display_rotation is counter-clockwise; the clockwise tag's opposite.
        _run(
            [
                "-display_rotation",
                str(-rotation % 360),
                "-i",
                str(target),
                "-c",
                "copy",
                str(rotated),
            ]
        )
        rotated.replace(target)
    return target


def landscape(directory: Path, duration: float = 2.0) -> Path:
    return clip(directory, "landscape.mp4", width=320, height=180, duration=duration)


def portrait_by_rotation(directory: Path) -> Path:
    """Stored 320x180, shown 180x320: a phone video shot upright."""
    return clip(directory, "portrait.mp4", width=320, height=180, rotation=90)


def odd_size(directory: Path) -> Path:
    """853x479 pixels (4:4:4, as 4:2:0 needs even sizes), in Matroska."""
    return clip(directory, "odd.mkv", width=853, height=479, duration=1.0, pix_fmt="yuv444p")


def no_audio(directory: Path) -> Path:
    return clip(directory, "silent.mp4", audio=False)


def very_short(directory: Path) -> Path:
    return clip(directory, "short.mp4", duration=0.5)


def under_half_a_second(directory: Path) -> Path:
    """Shorter than the HLS muxer's shortest measured segment (0.5 s)."""
    return clip(directory, "blink.mp4", duration=0.3)


def long_clip(directory: Path, duration: float = 600.0, fps: int = 5) -> Path:
    """A long, small clip (a keyframe every 2 s) for seek and storyboard costs."""
    return clip(
        directory,
        "long.mp4",
        width=320,
        height=180,
        duration=duration,
        fps=fps,
        gop=2 * fps,
        audio=False,
    )


def truncated(directory: Path) -> Path:
    """A clip cut in half (index at the front, so it opens but its data ends early)."""
    whole = directory / "whole-faststart.mp4"
    source = clip(directory, "to-cut.mp4", duration=2.0)
    _run(["-i", str(source), "-c", "copy", "-movflags", "+faststart", str(whole)])
    data = whole.read_bytes()
    target = directory / "truncated.mp4"
    target.write_bytes(data[: len(data) // 2])
    return target


def cut_before_index(directory: Path) -> Path:
    """A clip cut in half with its index at the end: it begins like an MP4, but nothing
    in it can be read (what an upload cut short leaves)."""
    data = clip(directory, "index-last.mp4", duration=2.0).read_bytes()
    target = directory / "cut-before-index.mp4"
    target.write_bytes(data[: len(data) // 2])
    return target


def not_media(directory: Path) -> Path:
    target = directory / "notes.mp4"
    target.write_text("These are not the frames you are looking for.\n" * 50)
    return target


ClipMaker = Callable[[Path], Path]
"""One of the functions above that take only the directory."""
