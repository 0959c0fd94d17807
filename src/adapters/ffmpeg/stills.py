"""Posters and storyboards: stills taken without decoding the whole file.

A poster seeks (``-ss`` before ``-i``, so the demuxer jumps to the keyframe before the
time) and decodes one frame. A storyboard decodes keyframes only (``-skip_frame nokey``),
keeps one per interval (``fps``), scales and tiles them into one JPEG sprite sheet, and
writes a WebVTT index with ``#xywh=`` fragments. ffmpeg applies the display rotation.

An audio upload has no frames: its posters are its cover art (the file's attached
picture, never upscaled, centred on a blurred, darkened copy of itself) or, without one,
a picture of its waveform (``showwavespic``, which decodes the whole sound), each on a
16:9 canvas (``domain.ladder.poster_shape``). It gets no storyboard.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from videoplatform.adapters.ffmpeg.config import FfmpegConfig
from videoplatform.adapters.ffmpeg.probe import Examined, FfmpegProber
from videoplatform.adapters.ffmpeg.process import (
    FfmpegFailed,
    base_args,
    file_url,
    input_args,
    last_error_line,
    run_ffmpeg,
)
from videoplatform.application.ports.media import MediaRejected, StoryboardOutput
from videoplatform.domain.ladder import poster_height
from videoplatform.domain.videos import MediaInfo

STORYBOARD_SPRITE = "storyboard.jpg"
STORYBOARD_VTT = "storyboard.vtt"


def even_height(width: int, info: MediaInfo) -> int:
    return poster_height(info, width)


WAVEFORM_COLOUR = "0x7fb2e5"
CANVAS_COLOUR = "0x16181d"


def audio_posters_args(
    config: FfmpegConfig,
    source: Path,
    info: MediaInfo,
    cover: int | None,
    widths: Sequence[int],
    targets: Sequence[Path],
) -> list[str]:
    """An audio upload's posters, one JPEG per width, from one run: the picture of
    stream ``cover`` (its cover art) when there is one, else the waveform of its first
    sound stream. Both are drawn at the largest width, then scaled down for the rest."""
    width = max(widths)
    height = even_height(width, info)
    if cover is not None:
        # The cover as it is (never upscaled: a small one stays sharp) on a blurred,
        # darker copy of itself that fills the canvas.
        canvas = (
            f"[0:{cover}]split=2[bg][fg];"
            f"[bg]scale=w={width}:h={height}:force_original_aspect_ratio=increase,"
            f"crop=w={width}:h={height},gblur=sigma=24,eq=brightness=-0.25[blur];"
            f"[fg]scale=w='min(iw,{width})':h='min(ih,{height})'"
            ":force_original_aspect_ratio=decrease[front];"
            "[blur][front]overlay=x=(W-w)/2:y=(H-h)/2"
        )
    else:
        # One frame of background (a generated colour, not an input), waiting for the
        # one picture showwavespic draws when the sound ends.
        canvas = (
            f"color=c={CANVAS_COLOUR}:s={width}x{height}:r=1:d=1[bg];"
            "[0:a:0]aformat=channel_layouts=mono,"
            f"showwavespic=s={width}x{height}:colors={WAVEFORM_COLOUR}:draw=full[wave];"
            "[bg][wave]overlay=format=auto"
        )
    branches = "".join(f"[p{i}]" for i in range(len(widths)))
    graph = [f"{canvas},setsar=1,split={len(widths)}{branches}"]
    for i, each in enumerate(widths):
        graph.append(
            f"[p{i}]scale=w={each}:h={even_height(each, info)}:flags=bicubic,"
            f"setsar=1,format=yuvj420p[o{i}]"
        )
    args = [
        *base_args(config), "-y", "-threads", str(config.threads),
        *input_args(config, source, info.container),
        "-filter_complex", ";".join(graph),
    ]  # fmt: skip
    return args + _jpeg_outputs(config, targets)


def _jpeg_outputs(config: FfmpegConfig, targets: Sequence[Path]) -> list[str]:
    """One JPEG per target, from the filter graph's outputs ``[o0]``, ``[o1]``..."""
    args: list[str] = []
    for i, target in enumerate(targets):
        args += [
            "-map", f"[o{i}]", "-an", "-sn", "-dn", "-frames:v", "1",
            "-c:v", "mjpeg", "-q:v", str(config.jpeg_quality),
            "-f", "image2", "-update", "1", file_url(target),
        ]  # fmt: skip
    return args


def poster_args(
    config: FfmpegConfig, source: Path, info: MediaInfo, at_seconds: float, width: int, target: Path
) -> list[str]:
    height = even_height(width, info)
    return [
        *base_args(config), "-y", "-threads", str(config.threads),
        "-ss", f"{at_seconds:.3f}",
        *input_args(config, source, info.container),
        "-map", "0:V:0", "-an", "-sn", "-dn", "-frames:v", "1",
        "-vf", f"scale=w={width}:h={height}:flags=bicubic,setsar=1,format=yuvj420p",
        "-c:v", "mjpeg", "-q:v", str(config.jpeg_quality),
        "-f", "image2", "-update", "1", file_url(target),
    ]  # fmt: skip


def posters_args(
    config: FfmpegConfig,
    source: Path,
    info: MediaInfo,
    at_seconds: float,
    widths: Sequence[int],
    targets: Sequence[Path],
) -> list[str]:
    """One seek and one decoded frame, split into one scaled JPEG per width."""
    branches = "".join(f"[p{i}]" for i in range(len(widths)))
    graph = [f"[0:V:0]split={len(widths)}{branches}"]
    for i, width in enumerate(widths):
        height = even_height(width, info)
        graph.append(
            f"[p{i}]scale=w={width}:h={height}:flags=bicubic,setsar=1,format=yuvj420p[o{i}]"
        )
    args = [
        *base_args(config), "-y", "-threads", str(config.threads),
        "-ss", f"{at_seconds:.3f}",
        *input_args(config, source, info.container),
        "-filter_complex", ";".join(graph),
    ]  # fmt: skip
    return args + _jpeg_outputs(config, targets)


class FfmpegThumbnailer:
    """Thumbnailer on ffmpeg: a JPEG of one frame at (or just before) the asked time,
    clamped into the video; for an audio upload, its cover art or its waveform."""

    def __init__(self, config: FfmpegConfig, prober: FfmpegProber | None = None) -> None:
        self._config = config
        self._prober = prober or FfmpegProber(config)

    def _examine(self, source: Path) -> Examined:
        """The prober remembers each file version: posters come in several widths of a
        source that processing has just probed."""
        return self._prober.examine(source)

    def poster(self, source: Path, at_seconds: float, width: int, target: Path) -> str:
        if not math.isfinite(at_seconds) or at_seconds < 0 or not 2 <= width <= 4096:
            raise MediaRejected("invalid poster time or width")
        examined = self._examine(source)
        info = examined.info
        width -= width % 2
        if info.is_audio_only:
            return self._audio_posters(source, examined, [width], [target])
        # Seeking past the last frame yields nothing: stay a frame or two inside.
        latest = max(0.0, info.duration_seconds - 2.0 / info.fps)
        args = poster_args(self._config, source, info, min(at_seconds, latest), width, target)
        self._run(args, "poster", self._config.still_timeout_seconds)
        if not target.is_file() or target.stat().st_size == 0:
            raise RuntimeError("poster failed: ffmpeg wrote no image")
        return "image/jpeg"

    def posters(
        self, source: Path, at_seconds: float, widths: Sequence[int], targets: Sequence[Path]
    ) -> str:
        if len(widths) != len(targets) or not widths:
            raise ValueError("one target per width, at least one")
        if not math.isfinite(at_seconds) or at_seconds < 0:
            raise MediaRejected("invalid poster time")
        if any(not 2 <= w <= 4096 for w in widths):
            raise MediaRejected("invalid poster width")
        examined = self._examine(source)
        info = examined.info
        even = [w - w % 2 for w in widths]
        if info.is_audio_only:
            return self._audio_posters(source, examined, even, list(targets))
        latest = max(0.0, info.duration_seconds - 2.0 / info.fps)
        args = posters_args(
            self._config, source, info, min(at_seconds, latest), even, list(targets)
        )
        self._run(args, "posters", self._config.still_timeout_seconds)
        if any(not t.is_file() or t.stat().st_size == 0 for t in targets):
            raise RuntimeError("posters failed: ffmpeg wrote no image")
        return "image/jpeg"

    def _audio_posters(
        self, source: Path, examined: Examined, widths: list[int], targets: list[Path]
    ) -> str:
        cover = examined.dump.cover
        args = audio_posters_args(
            self._config,
            source,
            examined.info,
            None if cover is None else cover.index,
            widths,
            targets,
        )
        # A waveform decodes the whole sound, which takes as long as a transcode's
        # decoding: it gets the transcode's time, not a still's.
        timeout = self._config.still_timeout_seconds
        if cover is None:
            timeout = max(timeout, self._config.timeout_seconds)
        self._run(args, "posters", timeout)
        if any(not t.is_file() or t.stat().st_size == 0 for t in targets):
            raise RuntimeError("posters failed: ffmpeg wrote no image")
        return "image/jpeg"

    def _run(self, args: list[str], what: str, timeout: float) -> None:
        try:
            run_ffmpeg(args, self._config, timeout=timeout)
        except FfmpegFailed as failure:
            raise RuntimeError(
                f"{what} failed: {failure.reason}: {last_error_line(failure.stderr)}"
            ) from None


def storyboard_interval(duration: float, config: FfmpegConfig) -> float:
    """Seconds between tiles: at least the configured minimum, wider for long videos so
    there are never more than ``storyboard_max_tiles`` tiles (whole seconds past 1 s)."""
    wanted = max(config.storyboard_min_interval_seconds, duration / config.storyboard_max_tiles)
    return float(math.ceil(wanted)) if wanted > 1 else wanted


def vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def storyboard_vtt(
    duration: float, interval: float, count: int, columns: int, tile_w: int, tile_h: int
) -> str:
    cues = ["WEBVTT", ""]
    for n in range(count):
        start = n * interval
        end = min(duration, start + interval)
        x, y = (n % columns) * tile_w, (n // columns) * tile_h
        cues += [
            f"{vtt_time(start)} --> {vtt_time(end)}",
            f"{STORYBOARD_SPRITE}#xywh={x},{y},{tile_w},{tile_h}",
            "",
        ]
    return "\n".join(cues)


def storyboard_args(
    config: FfmpegConfig,
    source: Path,
    info: MediaInfo,
    interval: float,
    layout: tuple[int, int],
    tile: tuple[int, int],
    target: Path,
) -> list[str]:
    columns, rows = layout
    tile_w, tile_h = tile
    graph = (
        f"fps=fps=1/{interval:g}:round=down:eof_action=pass,"
        f"scale=w={tile_w}:h={tile_h}:flags=bilinear,setsar=1,"
        f"tile=layout={columns}x{rows},format=yuvj420p"
    )
    return [
        *base_args(config), "-y", "-threads", str(config.threads),
        "-skip_frame", "nokey",
        *input_args(config, source, info.container),
        "-map", "0:V:0", "-an", "-sn", "-dn",
        "-filter_threads", str(config.threads),
        "-vf", graph, "-fps_mode", "passthrough", "-frames:v", "1",
        "-c:v", "mjpeg", "-q:v", str(config.jpeg_quality),
        "-f", "image2", "-update", "1", file_url(target),
    ]  # fmt: skip


class FfmpegStoryboarder:
    """Storyboarder on ffmpeg (keyframes only: a tile shows the last keyframe at or
    before its time, so long GOPs repeat a picture)."""

    def __init__(self, config: FfmpegConfig) -> None:
        self._config = config

    def storyboard(self, source: Path, info: MediaInfo, output_dir: Path) -> StoryboardOutput:
        if not source.is_file():
            raise MediaRejected("the file is missing")
        if info.is_audio_only:
            raise ValueError("an audio upload has no pictures for a storyboard")
        config = self._config
        interval = storyboard_interval(info.duration_seconds, config)
        count = max(1, math.ceil(info.duration_seconds / interval))
        columns = min(count, config.storyboard_columns)
        rows = math.ceil(count / columns)
        tile_w = config.storyboard_tile_width - config.storyboard_tile_width % 2
        tile_h = even_height(tile_w, info)
        output_dir.mkdir(parents=True, exist_ok=True)
        sprite = output_dir / STORYBOARD_SPRITE
        args = storyboard_args(
            config, source, info, interval, (columns, rows), (tile_w, tile_h), sprite
        )
        try:
            run_ffmpeg(args, config, timeout=config.still_timeout_seconds)
        except FfmpegFailed as failure:
            raise RuntimeError(
                f"storyboard failed: {failure.reason}: {last_error_line(failure.stderr)}"
            ) from None
        if not sprite.is_file() or sprite.stat().st_size == 0:
            raise RuntimeError("storyboard failed: ffmpeg wrote no sprite sheet")
        vtt = storyboard_vtt(info.duration_seconds, interval, count, columns, tile_w, tile_h)
        (output_dir / STORYBOARD_VTT).write_text(vtt)
        return StoryboardOutput(STORYBOARD_VTT, STORYBOARD_SPRITE, tile_w, tile_h, interval)
