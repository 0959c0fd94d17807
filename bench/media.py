"""Media processing: the one-process ladder against one ffmpeg process per rendition,
with the VMAF of every rung, plus ladder, platform, poster, storyboard and probe times.

Everything is measured in one run on the same sources, so the ratios hold on a noisy,
shared machine. Goals (issue "media processing"):

- one-process ladder >= 1.5x faster than one process per rendition at ``ultrafast`` and
  >= 1.25x at ``veryfast``, at equal VMAF (within 0.5 on every rung);
- a 1080p ladder at ``veryfast`` in <= 0.75x the clip's duration;
- the platform's whole processing <= 1.10x the bare ffmpeg ladder command;
- poster from the middle of a 10-minute file <= 0.3 s, its storyboard <= 6 s, probe <= 100 ms.

Audio uploads and embedded subtitles (:mod:`bench.media_audio`) are reported beside them:
an N-minute recording per second of sound and against a video of the same length, and
a video with two subtitle streams against the same video without.

The baseline is how MediaCMS and PeerTube transcode: each rendition is its own ffmpeg
run that decodes the whole source again. Its rungs use the same encoder settings as the
platform's (bitrate, GOP, segment length, preset), so only the process layout differs.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench import media_audio
from bench.media_platform import (
    FFMPEG,
    fresh_prober,
    ladder_command,
    make_adapters,
    process_with_platform,
)
from videoplatform.domain.ladder import DEFAULT_LADDER, PlannedRung, plan_ladder
from videoplatform.domain.videos import MediaInfo

PRESETS = ("ultrafast", "veryfast")
VMAF_SCORE = re.compile(r"VMAF score: ([0-9.]+)")


def _run(args: Sequence[str]) -> None:
    # The commands are built here and by the platform's transcoder; nothing comes from
    # outside.
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True)  # noqa: S603


def make_source(path: Path, *, seconds: float, width: int, height: int, preset: str) -> Path:
    """A camera-like test clip (moving pattern, light sensor noise, a tone) at a phone's
    bitrate: about 8 Mbit/s for 1080p, 6 for 720p."""
    _run(
        [
            FFMPEG,
            "-hide_banner",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate=30:duration={seconds},noise=alls=2:allf=t",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-crf",
            "20" if preset != "ultrafast" else "23",
            "-g",
            "60",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ]
    )
    return path


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def per_rendition(
    source: Path, info: MediaInfo, rungs: Sequence[PlannedRung], out: Path, preset: str
) -> float:
    """One ffmpeg process per rung, one after the other: the baseline layout."""
    started = time.perf_counter()
    for rung in rungs:
        _run(ladder_command(source, info, [rung], out / rung.spec.name, preset))
    return time.perf_counter() - started


def vmaf(distorted_playlist: Path, source: Path, rung: PlannedRung) -> float:
    """VMAF of one rung against the source scaled to the rung's size."""
    result = subprocess.run(  # noqa: S603 - a fixed command on files this run made
        [
            FFMPEG,
            "-hide_banner",
            "-nostdin",
            "-protocol_whitelist",
            "file",
            "-i",
            str(distorted_playlist),
            "-i",
            str(source),
            "-lavfi",
            f"[1:v]scale={rung.width}:{rung.height}:flags=bicubic[ref];"
            "[0:v][ref]libvmaf=n_threads=2",
            "-f",
            "null",
            "-",
        ],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    found = VMAF_SCORE.findall(result.stderr)
    if not found:
        raise RuntimeError("ffmpeg printed no VMAF score")
    return float(found[-1])


def _variant(folder: Path, rung: PlannedRung) -> Path:
    matches = sorted(folder.rglob("*.m3u8"))
    named = [m for m in matches if rung.spec.name in m.parts and m.name != "master.m3u8"]
    if not named:
        raise RuntimeError(f"no playlist for {rung.spec.name} under {folder}")
    return named[0]


def ladder_comparison(work: Path, seconds: float) -> dict[str, Any]:
    source = make_source(
        work / "src1080.mp4", seconds=seconds, width=1920, height=1080, preset="medium"
    )
    prober, _, _, transcoder_for = make_adapters()
    info = prober.probe(source)
    rungs = plan_ladder(info, DEFAULT_LADDER)
    results: dict[str, Any] = {"clip_seconds": seconds, "rungs": [r.spec.name for r in rungs]}
    for preset in PRESETS:
        transcoder = transcoder_for(preset)
        one_dir, many_dir = work / f"one-{preset}", work / f"many-{preset}"
        for folder in (one_dir, many_dir):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        one = _timed(partial(transcoder.transcode, source, info, rungs, one_dir, lambda _p: None))
        many = per_rendition(source, info, rungs, many_dir, preset)
        scores: list[dict[str, Any]] = []
        for rung in rungs:
            scores.append(
                {
                    "rung": rung.spec.name,
                    "one_process": round(vmaf(_variant(one_dir, rung), source, rung), 2),
                    "per_rendition": round(
                        vmaf(_variant(many_dir / rung.spec.name, rung), source, rung), 2
                    ),
                }
            )
        worst = max(abs(s["one_process"] - s["per_rendition"]) for s in scores)
        results[preset] = {
            "one_process_s": round(one, 2),
            "per_rendition_s": round(many, 2),
            "speedup": round(many / one, 2),
            "ladder_over_duration": round(one / seconds, 2),
            "vmaf": scores,
            "worst_vmaf_gap": round(worst, 2),
        }
    bare = _timed(lambda: _run(ladder_command(source, info, rungs, work / "bare", "veryfast")))
    whole = process_with_platform(work / "platform", source, "veryfast")
    results["platform"] = {
        "bare_ffmpeg_s": round(bare, 2),
        "platform_s": round(whole, 2),
        "ratio": round(whole / bare, 2),
    }
    return results


def long_file_checks(work: Path, minutes: float, samples: int) -> dict[str, Any]:
    source = make_source(
        work / "long720.mp4", seconds=minutes * 60, width=1280, height=720, preset="ultrafast"
    )
    prober, thumbnailer, storyboarder, _ = make_adapters()
    # A prober remembers each file it probed (for the posters and subtitles that follow):
    # every sample takes a new one, or all but the first would measure a lookup.
    probes = [_timed(lambda: fresh_prober().probe(source)) for _ in range(samples)]
    info = prober.probe(source)
    posters = [
        _timed(
            lambda: thumbnailer.poster(source, info.duration_seconds / 2, 1280, work / "poster.jpg")
        )
        for _ in range(samples)
    ]
    board = _timed(lambda: storyboarder.storyboard(source, info, work / "board"))
    return {
        "file_minutes": minutes,
        "probe_s_median": round(statistics.median(probes), 3),
        "poster_s_median": round(statistics.median(posters), 3),
        "storyboard_s": round(board, 2),
    }


def _goal(value: float, limit: float, *, at_least: bool = False) -> str:
    met = value >= limit if at_least else value <= limit
    return "yes" if met else "NO"


def print_table(results: dict[str, Any]) -> None:
    ladder = results["ladder"]
    rungs = ", ".join(ladder["rungs"])
    print(f"\nladder of {rungs} on a {ladder['clip_seconds']:g} s 1080p30 clip")
    header = ("preset", "one process", "per rendition", "speed-up", "goal", "x duration")
    print(f"{header[0]:<10}" + "".join(f"{h:>15}" for h in header[1:]) + "  worst VMAF gap")
    goals = {"ultrafast": 1.5, "veryfast": 1.25}
    for preset in PRESETS:
        row = ladder[preset]
        cells = (
            f"{row['one_process_s']:.2f} s",
            f"{row['per_rendition_s']:.2f} s",
            f"{row['speedup']:.2f}x",
            f">= {goals[preset]}: {_goal(row['speedup'], goals[preset], at_least=True)}",
            f"{row['ladder_over_duration']:.2f}x",
        )
        print(
            f"{preset:<10}" + "".join(f"{c:>15}" for c in cells) + f"  {row['worst_vmaf_gap']:.2f}"
        )
        for score in row["vmaf"]:
            print(
                f"    VMAF {score['rung']:<6} one process {score['one_process']:6.2f}"
                f"   per rendition {score['per_rendition']:6.2f}"
            )
    platform = ladder["platform"]
    print(
        f"platform processing {platform['platform_s']:.2f} s vs bare ffmpeg "
        f"{platform['bare_ffmpeg_s']:.2f} s: {platform['ratio']:.2f}x "
        f"(goal <= 1.10: {_goal(platform['ratio'], 1.10)})"
    )
    veryfast = ladder["veryfast"]["ladder_over_duration"]
    print(f"veryfast ladder / clip duration: {veryfast:.2f}x (<= 0.75: {_goal(veryfast, 0.75)})")
    long = results["long"]
    print(f"\non a {long['file_minutes']:g}-minute 720p file")
    for label, value, limit in (
        ("probe", long["probe_s_median"], 0.1),
        ("poster", long["poster_s_median"], 0.3),
        ("storyboard", long["storyboard_s"], 6.0),
    ):
        met = _goal(value, limit)
        print(f"{label:<11}{value * 1000:9.1f} ms (goal <= {limit * 1000:g} ms: {met})")


def chart(results: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ladder = results["ladder"]
    fig, (speed, quality) = plt.subplots(1, 2, figsize=(11, 4))
    xs = range(len(PRESETS))
    speed.bar(
        [x - 0.2 for x in xs],
        [ladder[p]["one_process_s"] for p in PRESETS],
        0.4,
        label="one process",
    )
    speed.bar(
        [x + 0.2 for x in xs],
        [ladder[p]["per_rendition_s"] for p in PRESETS],
        0.4,
        label="per rendition",
    )
    speed.set_xticks(list(xs), list(PRESETS))
    speed.set_ylabel("seconds")
    speed.set_title(f"ladder time, {ladder['clip_seconds']:g} s 1080p clip")
    speed.legend()
    for preset, marker in zip(PRESETS, "os", strict=True):
        rungs = [s["rung"] for s in ladder[preset]["vmaf"]]
        quality.plot(
            rungs,
            [s["one_process"] for s in ladder[preset]["vmaf"]],
            marker=marker,
            label=f"{preset} one process",
        )
        quality.plot(
            rungs,
            [s["per_rendition"] for s in ladder[preset]["vmaf"]],
            marker=marker,
            linestyle="--",
            label=f"{preset} per rendition",
        )
    quality.set_ylabel("VMAF")
    quality.set_title("quality of every rung")
    quality.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)


def run(
    *,
    clip_seconds: float = 10.0,
    long_minutes: float = 10.0,
    samples: int = 5,
    chart_to: Path | None = None,
    audio_minutes: float = 3.0,
    subtitled_seconds: float = 60.0,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        work = Path(tmp)
        results = {
            "ladder": ladder_comparison(work, clip_seconds),
            "long": long_file_checks(work, long_minutes, samples),
            "audio": media_audio.audio_costs(work / "audio", audio_minutes),
            "subtitles": media_audio.subtitle_costs(work / "subtitles", subtitled_seconds),
        }
    print_table(results)
    media_audio.print_table(results["audio"], results["subtitles"])
    if chart_to is not None:
        chart(results, chart_to)
        print(f"chart written to {chart_to}")
    return results
