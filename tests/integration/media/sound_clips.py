"""Tiny sound recordings and subtitled videos generated with ffmpeg's lavfi sources, for
the audio-upload and subtitle tests (the same bundled ffmpeg as bench/clips.py).

Each function writes one file into ``directory`` and returns its path. Tones are sines
(``aevalsrc`` for several channels, so each channel is its own tone), covers solid
colours, subtitles SubRip files muxed in as the container's own text format.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from bench import clips as media_clips

COVER_RGB = (220, 30, 30)


def run(args: Sequence[str]) -> None:
    subprocess.run(
        [media_clips.ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def _tone(channels: int, duration: float, volume_db: float, rate: int) -> list[str]:
    """A lavfi input of ``channels`` sines (440, 550, 660... Hz), ``volume_db`` below full
    scale."""
    amplitude = 10 ** (volume_db / 20)
    expressions = "|".join(f"{amplitude:.5f}*sin({440 + 110 * n}*2*PI*t)" for n in range(channels))
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    source = f"aevalsrc={expressions}:s={rate}:d={duration}:c={layout}"
    return ["-f", "lavfi", "-i", source]


def recording(
    directory: Path,
    name: str,
    *,
    channels: int = 2,
    duration: float = 3.0,
    volume_db: float = -6.0,
    rate: int = 44100,
    codec: Sequence[str] = (),
    container: Sequence[str] = (),
) -> Path:
    """A tone in the format the name's extension (or ``container``) says."""
    target = directory / name
    run([*_tone(channels, duration, volume_db, rate), *codec, *container, str(target)])
    return target


def mp3(directory: Path, *, channels: int = 2, duration: float = 3.0, id3: bool = True) -> Path:
    """An MP3; without ``id3`` it starts with a bare frame (no tag in front)."""
    tag = ["-id3v2_version", "3"] if id3 else ["-id3v2_version", "0", "-write_xing", "0"]
    name = "song.mp3" if id3 else "bare.mp3"
    return recording(
        directory,
        name,
        channels=channels,
        duration=duration,
        codec=["-c:a", "libmp3lame", "-b:a", "128k", *tag],
    )


def cover_image(directory: Path, rgb: tuple[int, int, int] = COVER_RGB) -> Path:
    target = directory / "cover.jpg"
    colour = "0x{:02x}{:02x}{:02x}".format(*rgb)
    run(["-f", "lavfi", "-i", f"color=c={colour}:s=300x300", "-frames:v", "1", str(target)])
    return target


def mp3_with_cover(directory: Path, duration: float = 3.0) -> Path:
    """An MP3 whose ID3 tag carries a solid red 300x300 JPEG as its front cover."""
    plain = mp3(directory, duration=duration)
    target = directory / "with-cover.mp3"
    run(
        [
            "-i", str(plain), "-i", str(cover_image(directory)),
            "-map", "0", "-map", "1", "-c", "copy", "-id3v2_version", "3",
            "-disposition:v", "attached_pic",
            "-metadata:s:v", "comment=Cover (front)",
            str(target),
        ]
    )  # fmt: skip
    return target


def flac(directory: Path, channels: int = 2, duration: float = 3.0) -> Path:
    return recording(directory, f"tone-{channels}.flac", channels=channels, duration=duration)


def wav(directory: Path, channels: int = 2, duration: float = 3.0) -> Path:
    return recording(
        directory,
        f"tone-{channels}.wav",
        channels=channels,
        duration=duration,
        codec=["-c:a", "pcm_s16le"],
    )


def m4a(directory: Path, channels: int = 2, duration: float = 3.0, volume_db: float = -6.0) -> Path:
    return recording(
        directory,
        f"tone-{channels}-{-volume_db:g}dB.m4a",
        channels=channels,
        duration=duration,
        volume_db=volume_db,
        codec=["-c:a", "aac", "-b:a", "192k"],
    )


def surround(directory: Path, duration: float = 3.0) -> Path:
    """5.1 AAC in an M4A."""
    return m4a(directory, channels=6, duration=duration)


def ogg_vorbis(directory: Path) -> Path:
    return recording(directory, "tone.ogg", codec=["-c:a", "libvorbis"])


def ogg_opus(directory: Path) -> Path:
    return recording(directory, "tone.opus", rate=48000, codec=["-c:a", "libopus"])


def adts_aac(directory: Path) -> Path:
    return recording(directory, "tone.aac", codec=["-c:a", "aac"], container=["-f", "adts"])


def aiff(directory: Path) -> Path:
    return recording(directory, "tone.aiff", codec=["-c:a", "pcm_s16be"])


def sound_in_mp4(directory: Path) -> Path:
    """AAC alone in an MP4 of the ``isom`` brand: a video container by its first bytes."""
    return recording(
        directory,
        "sound-only.mp4",
        codec=["-c:a", "aac"],
        container=["-f", "mp4", "-brand", "isom"],
    )


def srt(
    directory: Path, name: str, cues: Sequence[str], seconds: float = 1.0, step: float = 1.0
) -> Path:
    """A SubRip file: one cue every ``step`` seconds from 0.5 s, each ``seconds`` long."""
    lines = []
    for n, text in enumerate(cues):
        start = 0.5 + n * step
        end = start + seconds
        lines += [str(n + 1), f"{_srt_time(start)} --> {_srt_time(end)}", text, ""]
    target = directory / name
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _srt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d},{rest % 1000:03d}"


def subtitled(
    directory: Path,
    name: str,
    tracks: Sequence[tuple[str, Path]],
    *,
    duration: float = 2.0,
    audio: bool = True,
) -> Path:
    """A testsrc2 clip (with a tone when ``audio``) carrying one subtitle stream per
    (language, SubRip file) in ``tracks``: mov_text in an MP4, subrip in Matroska."""
    target = directory / name
    args = ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={duration}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}"]
    for _, path in tracks:
        args += ["-i", str(path)]
    first_subtitle = 2 if audio else 1
    args += ["-map", "0:v"] + (["-map", "1:a"] if audio else [])
    for n in range(len(tracks)):
        args += ["-map", f"{first_subtitle + n}:s"]
    text = "mov_text" if name.endswith(".mp4") else "srt"
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:s", text]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k"]
    for n, (language, _) in enumerate(tracks):
        args += [f"-metadata:s:s:{n}", f"language={language}"]
    run([*args, "-t", str(duration), str(target)])
    return target
