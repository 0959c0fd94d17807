"""Audio uploads and embedded subtitles: what they cost, as ratios within one run.

- an N-minute recording (stereo MP3, music-like: tones over pink noise) processed by the
  platform, per second of sound, and against the same platform processing a video clip
  of the same length (640x360, so the ladder has one rung: the cheapest video there is);
  its parts alone: the audio rendition, the waveform poster (a whole decode) and the
  cover-art poster (one picture);
- a video with two text subtitle streams processed by the platform against the same
  video without them (extraction runs beside the ladder, so it should cost next to
  nothing), and the extraction alone against the ladder alone.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.media_platform import FFMPEG, process_with_platform
from bench.media_timing import ROUNDS, Took, in_turns, per, ratios, show, spread, timed, walls
from videoplatform.adapters.ffmpeg import (
    FfmpegConfig,
    FfmpegProber,
    FfmpegSubtitleExtractor,
    FfmpegThumbnailer,
    FfmpegTranscoder,
)
from videoplatform.domain.ladder import DEFAULT_LADDER, plan_audio, plan_ladder

PRESET = "veryfast"


def _run(args: Sequence[str]) -> None:
    # Fixed commands on files this run made.
    subprocess.run(  # noqa: S603
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )


def make_recording(path: Path, seconds: float, cover: Path | None = None) -> Path:
    """A stereo MP3 (192 kb/s) of two tones over pink noise, with ``cover`` as its front
    cover when given."""
    tones = f"aevalsrc=0.3*sin(220*2*PI*t)|0.3*sin(330*2*PI*t):s=44100:d={seconds}:c=stereo"
    noise = f"anoisesrc=c=pink:a=0.1:r=44100:d={seconds}"
    args = ["-f", "lavfi", "-i", tones, "-f", "lavfi", "-i", noise]
    if cover is not None:
        args += ["-i", str(cover)]
    args += ["-filter_complex", "[1]aformat=channel_layouts=stereo[n];[0][n]amix=inputs=2[a]"]
    args += ["-map", "[a]"]
    if cover is not None:
        args += ["-map", "2", "-c:v", "copy", "-disposition:v", "attached_pic"]
    _run([*args, "-c:a", "libmp3lame", "-b:a", "192k", "-id3v2_version", "3", str(path)])
    return path


def make_cover(path: Path) -> Path:
    _run(["-f", "lavfi", "-i", "testsrc2=s=600x600", "-frames:v", "1", str(path)])
    return path


def make_video(path: Path, seconds: float, width: int, height: int) -> Path:
    _run(
        [
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path),
        ]
    )  # fmt: skip
    return path


def _srt(path: Path, seconds: float, words: str) -> Path:
    """A cue every 2 s, as dialogue has them."""
    lines = []
    for n in range(int(seconds // 2)):
        start, end = 2 * n, 2 * n + 1.5
        lines += [str(n + 1), f"{_srt_time(start)} --> {_srt_time(end)}", f"{words} {n}", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _srt_time(seconds: float) -> str:
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d},{millis:03d}"


def add_subtitles(video: Path, target: Path, seconds: float) -> Path:
    """``video`` with two mov_text streams (eng, fra) added, everything else copied."""
    english = _srt(target.with_suffix(".en.srt"), seconds, "Line of dialogue")
    french = _srt(target.with_suffix(".fr.srt"), seconds, "Ligne de dialogue")
    _run(
        [
            "-i", str(video), "-i", str(english), "-i", str(french),
            "-map", "0", "-map", "1", "-map", "2", "-c", "copy", "-c:s", "mov_text",
            "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra",
            str(target),
        ]
    )  # fmt: skip
    return target


def audio_costs(work: Path, minutes: float, rounds: int = ROUNDS) -> dict[str, Any]:
    """Each audio timing ``rounds`` times, in turns."""
    work.mkdir(parents=True, exist_ok=True)
    seconds = minutes * 60
    plain = make_recording(work / "recording.mp3", seconds)
    covered = make_recording(work / "covered.mp3", seconds, make_cover(work / "cover.jpg"))
    video = make_video(work / "same-length.mp4", seconds, 640, 360)
    config = FfmpegConfig(preset=PRESET)
    prober = FfmpegProber(config)
    info = prober.probe(plain)
    video_info = prober.probe(video)
    thumbnailer = FfmpegThumbnailer(config, prober)
    widths = [1280, 640, 320]

    taken = in_turns(
        {
            "rendition": lambda n: timed(
                lambda: FfmpegTranscoder(config).transcode(
                    plain, info, [plan_audio(info)], _fresh(work / "audio-hls"), _quiet
                )
            ),
            "waveform": lambda n: timed(
                lambda: thumbnailer.posters(
                    plain, 0.0, widths, [work / f"w{w}.jpg" for w in widths]
                )
            ),
            "cover": lambda n: timed(
                lambda: thumbnailer.posters(
                    covered, 0.0, widths, [work / f"c{w}.jpg" for w in widths]
                )
            ),
            "audio_platform": lambda n: _processed(work / "platform-audio", plain),
            "video_platform": lambda n: _processed(work / "platform-video", video),
            "video_ladder": lambda n: timed(
                lambda: FfmpegTranscoder(config).transcode(
                    video,
                    video_info,
                    plan_ladder(video_info, DEFAULT_LADDER),
                    _fresh(work / "video-hls"),
                    _quiet,
                )
            ),
        },
        rounds,
    )
    return {
        "minutes": minutes,
        "rounds": rounds,
        "audio_platform_s": walls(taken["audio_platform"]),
        "audio_platform_per_media_second": per(taken["audio_platform"], seconds),
        "video_platform_s": walls(taken["video_platform"]),
        "audio_over_video_platform": ratios(taken["audio_platform"], taken["video_platform"]),
        "audio_rendition_s": walls(taken["rendition"]),
        "audio_rendition_speed_x_realtime": spread(
            [seconds / t.wall for t in taken["rendition"]], 1
        ),
        "video_ladder_s": walls(taken["video_ladder"]),
        "audio_rendition_over_video_ladder": ratios(taken["rendition"], taken["video_ladder"]),
        "waveform_posters_s": walls(taken["waveform"]),
        "cover_posters_s": walls(taken["cover"]),
        "waveform_over_audio_rendition": ratios(taken["waveform"], taken["rendition"]),
    }


def subtitle_costs(work: Path, seconds: float, rounds: int = ROUNDS) -> dict[str, Any]:
    """The platform with and without subtitles, and extraction against the ladder alone:
    ``rounds`` times each, in turns (the difference is small: a busy moment of the
    machine must not land on one side only)."""
    work.mkdir(parents=True, exist_ok=True)
    bare = make_video(work / "talk.mp4", seconds, 1280, 720)
    subtitled = add_subtitles(bare, work / "talk-subtitled.mp4", seconds)
    config = FfmpegConfig(preset=PRESET)
    prober = FfmpegProber(config)
    info = prober.probe(subtitled)
    extractor = FfmpegSubtitleExtractor(config, prober)
    found: list[int] = []

    taken = in_turns(
        {
            "without": lambda n: _processed(work / "platform-without", bare),
            "with": lambda n: _processed(work / "platform-with", subtitled),
            "extraction": lambda n: timed(
                lambda: found.append(
                    len(extractor.extract(subtitled, info, _fresh(work / "subtitles")))
                )
            ),
            "ladder": lambda n: timed(
                lambda: FfmpegTranscoder(config).transcode(
                    subtitled,
                    info,
                    plan_ladder(info, DEFAULT_LADDER),
                    _fresh(work / "subtitled-hls"),
                    _quiet,
                )
            ),
        },
        rounds,
    )
    return {
        "clip_seconds": seconds,
        "rounds": rounds,
        "streams_extracted": found[0],
        "platform_with_subtitles_s": walls(taken["with"]),
        "platform_without_s": walls(taken["without"]),
        "with_over_without": ratios(taken["with"], taken["without"]),
        "extraction_s": walls(taken["extraction"]),
        "ladder_s": walls(taken["ladder"]),
        "extraction_over_ladder": ratios(taken["extraction"], taken["ladder"]),
    }


def _processed(folder: Path, source: Path) -> Took:
    """``source`` processed by the platform in ``folder`` (emptied first, removed after)."""
    try:
        return process_with_platform(_fresh(folder), source, PRESET)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _quiet(_percent: int) -> None:
    """A progress callback that ignores the progress."""


def print_table(audio: dict[str, Any], subtitles: dict[str, Any]) -> None:
    print(
        f"\naudio upload: a {audio['minutes']:g}-minute stereo MP3 ({PRESET}); "
        f"median [lowest-highest] of {audio['rounds']} rounds taken in turns"
    )
    print(
        f"platform processing {show(audio['audio_platform_s'])} "
        f"({show(audio['audio_platform_per_media_second'], ' ms', 1000, 1)} per second of "
        f"sound); a 640x360 video of the same length {show(audio['video_platform_s'])}: "
        f"{show(audio['audio_over_video_platform'], 'x', digits=3)}"
    )
    print(
        f"audio rendition {show(audio['audio_rendition_s'])} "
        f"({show(audio['audio_rendition_speed_x_realtime'], 'x', digits=1)} real time), "
        f"{show(audio['audio_rendition_over_video_ladder'], 'x', digits=3)} the video's ladder"
    )
    print(
        f"posters: waveform {show(audio['waveform_posters_s'])} "
        f"({show(audio['waveform_over_audio_rendition'], 'x', digits=3)} the rendition, "
        f"beside it), cover art {show(audio['cover_posters_s'], ' ms', 1000, 0)}"
    )
    print(
        f"\nembedded subtitles: {subtitles['streams_extracted']} mov_text streams in a "
        f"{subtitles['clip_seconds']:g} s 720p clip ({subtitles['rounds']} rounds in turns)"
    )
    print(
        f"platform processing with them {show(subtitles['platform_with_subtitles_s'])}, "
        f"without {show(subtitles['platform_without_s'])}: "
        f"{show(subtitles['with_over_without'], 'x', digits=3)}"
    )
    print(
        f"extraction alone {show(subtitles['extraction_s'], ' ms', 1000, 0)}, "
        f"{show(subtitles['extraction_over_ladder'], 'x', digits=4)} the ladder alone"
    )
