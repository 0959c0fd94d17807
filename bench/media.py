"""Media processing: the one-process ladder against one ffmpeg process per rendition,
with the VMAF of every rung, plus ladder, platform, poster, storyboard and probe times.

Everything is measured in one run on the same sources, each timing repeated (3 rounds by
default) with the measurements taken in turns, and reported as medians with their spread
(:mod:`bench.media_timing`), so the ratios hold on a noisy, shared machine. The printed
lines say on what: preset, ffmpeg threads, usable CPUs, the clip, and the load average
before and after. Goals (issues "media processing" and 18):

- one-process ladder >= 1.5x faster than one process per rendition at ``ultrafast`` and
  >= 1.25x at ``veryfast``, at equal VMAF (within 0.5 on every rung);
- ladder time / clip duration <= 0.70x at ``veryfast`` for 1080p30 on 2 cores;
- processing overhead: the platform's whole processing <= 1.10x the bare ffmpeg command
  doing the same ladder;
- poster from the middle of a 10-minute file <= 0.3 s, its storyboard <= 6 s, probe <= 100 ms.

Audio uploads and embedded subtitles (:mod:`bench.media_audio`) are reported beside them:
an N-minute recording per second of sound and against a video of the same length, and
a video with two subtitle streams against the same video without.

The baseline is how MediaCMS and PeerTube transcode: each rendition is its own ffmpeg
run that decodes the whole source again. Its rungs use the same encoder settings as the
platform's (bitrate, GOP, segment length, preset), so only the process layout differs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from bench import media_audio
from bench.media_platform import (
    FFMPEG,
    config_for,
    fresh_prober,
    ladder_command,
    make_adapters,
    process_with_platform,
)
from bench.media_timing import (
    ROUNDS,
    Measure,
    Took,
    conditions,
    cpus,
    in_turns,
    met,
    per,
    ratios,
    show,
    timed,
    walls,
)
from videoplatform.adapters.ffmpeg import FfmpegTranscoder
from videoplatform.domain.ladder import DEFAULT_LADDER, PlannedRung, plan_ladder
from videoplatform.domain.videos import MediaInfo

PRESETS = ("ultrafast", "veryfast")
PLATFORM_PRESET = "veryfast"
"""The preset of the overhead figure (the platform's default)."""
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


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def per_rendition(
    source: Path, info: MediaInfo, rungs: Sequence[PlannedRung], out: Path, preset: str
) -> None:
    """One ffmpeg process per rung, one after the other: the baseline layout."""
    for rung in rungs:
        _run(ladder_command(source, info, [rung], out / rung.spec.name, preset))


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


@frozen
class Clip:
    path: Path
    seconds: float
    width: int
    height: int
    fps: int
    encoded: str

    @property
    def bitrate_mbps(self) -> float:
        return self.path.stat().st_size * 8 / self.seconds / 1e6


def ladder_comparison(work: Path, seconds: float, rounds: int = ROUNDS) -> dict[str, Any]:
    """Every ladder timing, ``rounds`` times in turns: the one-process ladder and one
    process per rendition at each preset, then the bare ffmpeg ladder command and the
    platform's whole processing (each right after the other, so their ratio is taken
    on the same state of the machine)."""
    clip = Clip(work / "src1080.mp4", seconds, 1920, 1080, 30, "x264 medium, CRF 20, GOP 60")
    make_source(clip.path, seconds=seconds, width=clip.width, height=clip.height, preset="medium")
    prober, _, _, transcoder_for = make_adapters()
    info = prober.probe(clip.path)
    rungs = plan_ladder(info, DEFAULT_LADDER)
    measures: dict[str, Measure] = {}
    for preset in PRESETS:
        transcoder = transcoder_for(preset)

        def one(n: int, transcoder: FfmpegTranscoder = transcoder, preset: str = preset) -> Took:
            out = _fresh(work / f"one-{preset}")
            return timed(lambda: transcoder.transcode(clip.path, info, rungs, out, _quiet))

        def many(n: int, preset: str = preset) -> Took:
            out = _fresh(work / f"many-{preset}")
            return timed(lambda: per_rendition(clip.path, info, rungs, out, preset))

        measures[f"one-{preset}"], measures[f"many-{preset}"] = one, many

    def bare(n: int) -> Took:
        command = ladder_command(clip.path, info, rungs, _fresh(work / "bare"), PLATFORM_PRESET)
        return timed(lambda: _run(command))

    def platform(n: int) -> Took:
        try:
            return process_with_platform(_fresh(work / "platform"), clip.path, PLATFORM_PRESET)
        finally:
            shutil.rmtree(work / "platform", ignore_errors=True)

    measures["bare"], measures["platform"] = bare, platform
    before = conditions(FFMPEG)
    samples = in_turns(measures, rounds)
    results: dict[str, Any] = {
        "clip": {
            "seconds": seconds,
            "size": f"{clip.width}x{clip.height}",
            "fps": clip.fps,
            "encoded": clip.encoded,
            "bitrate_mbps": round(clip.bitrate_mbps, 1),
        },
        "rounds": rounds,
        "ffmpeg_threads": config_for(PLATFORM_PRESET).threads,
        "conditions": before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "rungs": [r.spec.name for r in rungs],
    }
    for preset in PRESETS:
        together, apart = samples[f"one-{preset}"], samples[f"many-{preset}"]
        scores: list[dict[str, Any]] = [
            {
                "rung": rung.spec.name,
                "one_process": round(
                    vmaf(_variant(work / f"one-{preset}", rung), clip.path, rung), 2
                ),
                "per_rendition": round(
                    vmaf(_variant(work / f"many-{preset}" / rung.spec.name, rung), clip.path, rung),
                    2,
                ),
            }
            for rung in rungs
        ]
        results[preset] = {
            "one_process_s": walls(together),
            "per_rendition_s": walls(apart),
            "speedup": ratios(apart, together),
            "ladder_over_duration": per(together, seconds),
            "cpu_s": cpus(together),
            "cpu_over_duration": per(together, seconds, cpu=True),
            "vmaf": scores,
            "worst_vmaf_gap": round(
                max(abs(s["one_process"] - s["per_rendition"]) for s in scores), 2
            ),
        }
    results["platform"] = {
        "preset": PLATFORM_PRESET,
        "bare_ffmpeg_s": walls(samples["bare"]),
        "platform_s": walls(samples["platform"]),
        "ratio": ratios(samples["platform"], samples["bare"]),
        "bare_cpu_s": cpus(samples["bare"]),
        "platform_cpu_s": cpus(samples["platform"]),
        "cpu_ratio": ratios(samples["platform"], samples["bare"], cpu=True),
    }
    return results


def _quiet(_percent: int) -> None:
    """A progress callback that ignores the progress."""


def long_file_checks(work: Path, minutes: float, samples: int) -> dict[str, Any]:
    """Probe, poster and storyboard of a long file, ``samples`` times each in turns."""
    source = make_source(
        work / "long720.mp4", seconds=minutes * 60, width=1280, height=720, preset="ultrafast"
    )
    prober, thumbnailer, storyboarder, _ = make_adapters()
    info = prober.probe(source)
    middle = info.duration_seconds / 2
    found = in_turns(
        {
            # A prober remembers each file it probed (for the posters and subtitles that
            # follow): every sample takes a new one, or all but the first would measure
            # a lookup.
            "probe": lambda n: timed(lambda: fresh_prober().probe(source)),
            "poster": lambda n: timed(
                lambda: thumbnailer.poster(source, middle, 1280, work / "poster.jpg")
            ),
            "storyboard": lambda n: timed(
                lambda: storyboarder.storyboard(source, info, _fresh(work / "board"))
            ),
        },
        samples,
    )
    return {
        "file_minutes": minutes,
        "rounds": samples,
        "probe_s": walls(found["probe"]),
        "poster_s": walls(found["poster"]),
        "storyboard_s": walls(found["storyboard"]),
    }


def print_table(results: dict[str, Any]) -> None:
    ladder = results["ladder"]
    clip = ladder["clip"]
    rungs = ", ".join(ladder["rungs"])
    print(
        f"\nladder of {rungs} on a {clip['seconds']:g} s {clip['size']} {clip['fps']} fps clip "
        f"({clip['encoded']}, {clip['bitrate_mbps']:.1f} Mbit/s); ffmpeg threads "
        f"{ladder['ffmpeg_threads']} (decoder, filter graph, each x264 encoder)"
    )
    print(_conditions_line(ladder))
    print(
        f"times: median [lowest-highest] of {ladder['rounds']} rounds taken in turns; "
        "ratios: median [spread] of the rounds' own ratios"
    )
    goals = {"ultrafast": 1.5, "veryfast": 1.25}
    for preset in PRESETS:
        row = ladder[preset]
        print(
            f"{preset:<10} one process {show(row['one_process_s'])}, per rendition "
            f"{show(row['per_rendition_s'])}: speed-up {show(row['speedup'], 'x')} "
            f"(goal >= {goals[preset]}: {met(row['speedup'], goals[preset], at_least=True)}); "
            f"worst VMAF gap {row['worst_vmaf_gap']:.2f}"
        )
        for score in row["vmaf"]:
            print(
                f"    VMAF {score['rung']:<6} one process {score['one_process']:6.2f}"
                f"   per rendition {score['per_rendition']:6.2f}"
            )
    platform = ladder["platform"]
    print(
        f"processing overhead (whole processing through the platform / the bare ffmpeg "
        f"command doing the same ladder, {platform['preset']}): "
        f"{show(platform['ratio'], 'x')} (goal <= 1.10: {met(platform['ratio'], 1.10)}); "
        f"platform {show(platform['platform_s'])}, bare ffmpeg {show(platform['bare_ffmpeg_s'])}; "
        f"in CPU time {show(platform['cpu_ratio'], 'x')}"
    )
    veryfast = ladder["veryfast"]
    print(
        f"ladder time / clip duration at veryfast for 1080p30: "
        f"{show(veryfast['ladder_over_duration'], 'x')} "
        f"(goal <= 0.70: {met(veryfast['ladder_over_duration'], 0.70)}); preset veryfast, "
        f"{ladder['ffmpeg_threads']} ffmpeg threads, {_cpus(ladder)}, the clip above; "
        f"CPU time / clip duration {show(veryfast['cpu_over_duration'], 'x')} "
        f"(on {_usable(ladder)} idle cores the ladder could take "
        f"{veryfast['cpu_over_duration']['median'] / _usable(ladder):.2f}x at best)"
    )
    long = results["long"]
    print(f"\non a {long['file_minutes']:g}-minute 720p file ({long['rounds']} rounds in turns)")
    for label, figure, limit in (
        ("probe", long["probe_s"], 0.1),
        ("poster", long["poster_s"], 0.3),
        ("storyboard", long["storyboard_s"], 6.0),
    ):
        print(
            f"{label:<11}{show(figure, ' ms', 1000, 1)} (goal <= {limit * 1000:g} ms: "
            f"{met(figure, limit)})"
        )


def _usable(ladder: dict[str, Any]) -> int:
    found = ladder["conditions"]
    return int(found["cpus_usable"] or found["cpus_in_machine"] or 1)


def _cpus(ladder: dict[str, Any]) -> str:
    found = ladder["conditions"]
    return f"{_usable(ladder)} CPUs usable ({found['cpus_in_machine']} in the machine)"


def _conditions_line(ladder: dict[str, Any]) -> str:
    found = ladder["conditions"]
    load = " ".join(f"{x:g}" for x in found["load_average"])
    after = " ".join(f"{x:g}" for x in ladder["load_average_after"])
    return (
        f"on {_cpus(ladder)}, {found['ffmpeg']}; load average (1, 5, 15 min) {load} before, "
        f"{after} after (other programs running make times longer, not CPU time)"
    )


def chart(results: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ladder = results["ladder"]
    fig, (speed, quality) = plt.subplots(1, 2, figsize=(11, 4))
    xs = range(len(PRESETS))
    for offset, key, label in (
        (-0.2, "one_process_s", "one process"),
        (0.2, "per_rendition_s", "per rendition"),
    ):
        figures = [ladder[p][key] for p in PRESETS]
        speed.bar(
            [x + offset for x in xs],
            [f["median"] for f in figures],
            0.4,
            yerr=[
                [f["median"] - f["min"] for f in figures],
                [f["max"] - f["median"] for f in figures],
            ],
            label=label,
        )
    speed.set_xticks(list(xs), list(PRESETS))
    speed.set_ylabel("seconds")
    speed.set_title(f"ladder time, {ladder['clip']['seconds']:g} s 1080p clip (median, spread)")
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
    rounds: int = ROUNDS,
    samples: int = 5,
    chart_to: Path | None = None,
    audio_minutes: float = 3.0,
    subtitled_seconds: float = 60.0,
) -> dict[str, Any]:
    """Every media figure; ``rounds`` (at least 3 for a spread worth the name) samples of
    each timing, taken in turns, ``samples`` of the long file's cheap ones."""
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        work = Path(tmp)
        results = {
            "ladder": ladder_comparison(work, clip_seconds, rounds),
            "long": long_file_checks(work, long_minutes, max(samples, rounds)),
            "audio": media_audio.audio_costs(work / "audio", audio_minutes, rounds),
            "subtitles": media_audio.subtitle_costs(work / "subtitles", subtitled_seconds, rounds),
        }
    print_table(results)
    media_audio.print_table(results["audio"], results["subtitles"])
    if chart_to is not None:
        chart(results, chart_to)
        print(f"chart written to {chart_to}")
    return results
