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

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.media_platform import FFMPEG, process_with_platform
from videoplatform.adapters.ffmpeg import (
    FfmpegConfig,
    FfmpegProber,
    FfmpegSubtitleExtractor,
    FfmpegThumbnailer,
    FfmpegTranscoder,
)
from videoplatform.domain.ladder import DEFAULT_LADDER, plan_audio, plan_ladder

PRESET = "veryfast"
ROUNDS = 3


def _run(args: Sequence[str]) -> None:
    # Fixed commands on files this run made.
    subprocess.run(  # noqa: S603
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


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


def audio_costs(work: Path, minutes: float) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    seconds = minutes * 60
    plain = make_recording(work / "recording.mp3", seconds)
    covered = make_recording(work / "covered.mp3", seconds, make_cover(work / "cover.jpg"))
    video = make_video(work / "same-length.mp4", seconds, 640, 360)
    config = FfmpegConfig(preset=PRESET)
    prober = FfmpegProber(config)
    info = prober.probe(plain)
    rendition = _timed(
        lambda: FfmpegTranscoder(config).transcode(
            plain, info, [plan_audio(info)], work / "audio-hls", lambda _: None
        )
    )
    thumbnailer = FfmpegThumbnailer(config, prober)
    widths = [1280, 640, 320]
    waveform = _timed(
        lambda: thumbnailer.posters(plain, 0.0, widths, [work / f"w{w}.jpg" for w in widths])
    )
    cover = _timed(
        lambda: thumbnailer.posters(covered, 0.0, widths, [work / f"c{w}.jpg" for w in widths])
    )
    audio_platform = process_with_platform(work / "platform-audio", plain, PRESET)
    video_platform = process_with_platform(work / "platform-video", video, PRESET)
    video_info = prober.probe(video)
    video_ladder = _timed(
        lambda: FfmpegTranscoder(config).transcode(
            video,
            video_info,
            plan_ladder(video_info, DEFAULT_LADDER),
            work / "video-hls",
            lambda _: None,
        )
    )
    return {
        "minutes": minutes,
        "audio_platform_s": round(audio_platform, 2),
        "audio_platform_per_media_second": round(audio_platform / seconds, 4),
        "video_platform_s": round(video_platform, 2),
        "audio_over_video_platform": round(audio_platform / video_platform, 3),
        "audio_rendition_s": round(rendition, 2),
        "audio_rendition_speed_x_realtime": round(seconds / rendition, 1),
        "video_ladder_s": round(video_ladder, 2),
        "audio_rendition_over_video_ladder": round(rendition / video_ladder, 3),
        "waveform_posters_s": round(waveform, 2),
        "cover_posters_s": round(cover, 3),
        "waveform_over_audio_rendition": round(waveform / rendition, 3),
    }


def subtitle_costs(work: Path, seconds: float) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    bare = make_video(work / "talk.mp4", seconds, 1280, 720)
    subtitled = add_subtitles(bare, work / "talk-subtitled.mp4", seconds)
    # The difference is small: rounds taken in turns, medians compared, so that a busy
    # moment of the machine does not land on one side only.
    timings: dict[str, list[float]] = {"with": [], "without": []}
    for n in range(ROUNDS):
        for side, source in (("without", bare), ("with", subtitled)):
            folder = work / f"platform-{side}-{n}"
            timings[side].append(process_with_platform(folder, source, PRESET))
    with_subtitles = statistics.median(timings["with"])
    without = statistics.median(timings["without"])
    config = FfmpegConfig(preset=PRESET)
    prober = FfmpegProber(config)
    info = prober.probe(subtitled)
    extractor = FfmpegSubtitleExtractor(config, prober)
    found: list[int] = []
    extraction = _timed(
        lambda: found.append(len(extractor.extract(subtitled, info, work / "subtitles")))
    )
    ladder = _timed(
        lambda: FfmpegTranscoder(config).transcode(
            subtitled,
            info,
            plan_ladder(info, DEFAULT_LADDER),
            work / "subtitled-hls",
            lambda _: None,
        )
    )
    return {
        "clip_seconds": seconds,
        "rounds": ROUNDS,
        "streams_extracted": found[0],
        "platform_with_subtitles_s": round(with_subtitles, 2),
        "platform_without_s": round(without, 2),
        "with_over_without": round(with_subtitles / without, 3),
        "extraction_s": round(extraction, 3),
        "ladder_s": round(ladder, 2),
        "extraction_over_ladder": round(extraction / ladder, 4),
    }


def print_table(audio: dict[str, Any], subtitles: dict[str, Any]) -> None:
    print(f"\naudio upload: a {audio['minutes']:g}-minute stereo MP3 ({PRESET})")
    print(
        f"platform processing {audio['audio_platform_s']:.2f} s "
        f"({audio['audio_platform_per_media_second'] * 1000:.1f} ms per second of sound); "
        f"a 640x360 video of the same length {audio['video_platform_s']:.2f} s: "
        f"{audio['audio_over_video_platform']:.3f}x"
    )
    print(
        f"audio rendition {audio['audio_rendition_s']:.2f} s "
        f"({audio['audio_rendition_speed_x_realtime']:g}x real time), "
        f"{audio['audio_rendition_over_video_ladder']:.3f}x the video's ladder"
    )
    print(
        f"posters: waveform {audio['waveform_posters_s']:.2f} s "
        f"({audio['waveform_over_audio_rendition']:.3f}x the rendition, beside it), "
        f"cover art {audio['cover_posters_s'] * 1000:.0f} ms"
    )
    print(
        f"\nembedded subtitles: {subtitles['streams_extracted']} mov_text streams in a "
        f"{subtitles['clip_seconds']:g} s 720p clip"
    )
    print(
        f"platform processing with them {subtitles['platform_with_subtitles_s']:.2f} s, "
        f"without {subtitles['platform_without_s']:.2f} s "
        f"(medians of {subtitles['rounds']} rounds taken in turns): "
        f"{subtitles['with_over_without']:.3f}x"
    )
    print(
        f"extraction alone {subtitles['extraction_s'] * 1000:.0f} ms, "
        f"{subtitles['extraction_over_ladder']:.4f}x the ladder alone"
    )
