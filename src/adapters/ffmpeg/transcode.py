"""HLS ladders in one ffmpeg run: decode once, ``split`` into one scaled branch per rung,
encode each with a fixed GOP so keyframes (and so segment boundaries) line up across
renditions, and let the HLS muxer write every variant and the master playlist.

Three engines share the command's shape:

* ``CPU``: software decode, ``scale``, libx264;
* ``GPU_NVENC``: NVDEC decode into CUDA frames, ``scale_cuda``, ``h264_nvenc``;
* ``GPU_DECODE``: NVDEC decode and ``scale_cuda`` on the GPU, ``hwdownload`` and libx264
  on the CPU (GPUs without an encoder, such as the H100 or A100).

With CUDA frames ffmpeg does not rotate on its own, so rotated sources get an explicit
``transpose_cuda``. Each variant carries its own AAC audio (muxed into its segments), the
form every HLS player accepts; sources without audio give video-only variants.

An audio upload (sound, no picture) gets one audio-only rendition instead
(:func:`audio_args`, on the CPU whatever the GPU setting: there is nothing to decode or
scale there): AAC-LC in MPEG-TS segments of the same length, mono kept mono and more than
two channels downmixed to stereo. With ``loudnorm`` set, the sound of every rendition
(audio-only or not) is normalised once (EBU R128, :data:`LOUDNORM_FILTER`) before it is
encoded.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path

from attrs import frozen

from videoplatform.adapters.ffmpeg.config import LOUDNORM_FILTER, FfmpegConfig, GpuMode
from videoplatform.adapters.ffmpeg.gpu import GpuCapability, detect_gpu
from videoplatform.adapters.ffmpeg.hls import (
    NothingDecoded,
    Rendition,
    rendition_playlist,
    timeline_start,
    write_master,
)
from videoplatform.adapters.ffmpeg.process import (
    FfmpegFailed,
    base_args,
    input_args,
    run_ffmpeg,
)
from videoplatform.application.ports.media import (
    LadderOutput,
    MediaRejected,
    ProgressCallback,
    RungOutput,
)
from videoplatform.domain.ladder import PlannedRung
from videoplatform.domain.videos import FailureCode, MediaInfo

log = logging.getLogger(__name__)

MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "segment_%05d.ts"
_RUNG_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")


class Engine(enum.Enum):
    CPU = "cpu"
    GPU_NVENC = "gpu-nvenc"
    GPU_DECODE = "gpu-decode"


def _transpose_dir(rotation: int) -> str | None:
    """transpose_cuda's direction for a clockwise display rotation."""
    return {90: "clock", 180: "reversal", 270: "cclock"}.get(rotation % 360)


MAX_OUTPUT_FPS = 60.0


def output_fps(fps: float) -> float:
    """The renditions' frame rate: the source's up to 60 fps; above, halved (as often as
    needed), so every other frame is kept and motion stays even (119.88 -> 59.94)."""
    while fps > MAX_OUTPUT_FPS + 0.01:
        fps /= 2
    return fps


def _frame_rate_filter(info: MediaInfo) -> str:
    """The filter that drops frames down to :func:`output_fps`, or nothing."""
    wanted = output_fps(info.fps)
    return "" if wanted == info.fps else f"fps=fps={wanted:.6g},"


def filter_graph(info: MediaInfo, ladder: Sequence[PlannedRung], engine: Engine) -> str:
    if engine is Engine.CPU:
        return _cpu_cascade(ladder, _frame_rate_filter(info))
    count = len(ladder)
    head = "[0:V:0]" + _frame_rate_filter(info)
    if (direction := _transpose_dir(info.rotation)) is not None:
        head += f"transpose_cuda=dir={direction},"
    branches = "".join(f"[s{i}]" for i in range(count))
    parts = [f"{head}split={count}{branches}"]
    for i, rung in enumerate(ladder):
        if engine is Engine.GPU_NVENC:
            scaled = f"scale_cuda=w={rung.width}:h={rung.height}:format=nv12"
        else:
            scaled = f"scale_cuda=w={rung.width}:h={rung.height}:format=nv12,hwdownload,format=nv12"
        parts.append(f"[s{i}]{scaled},setsar=1[v{i}]")
    return ";".join(parts)


def _cpu_cascade(ladder: Sequence[PlannedRung], frame_rate: str = "") -> str:
    """Each rung scaled from the next larger one rather than all from the source: the
    small rungs then scale a fraction of the pixels (about 8 % less CPU for the default
    ladder from 1080p), and their VMAF against the source is the same or a hair higher
    (bench/media.py measures both). Output ``[v{i}]`` is still ``ladder[i]``."""
    order = sorted(range(len(ladder)), key=lambda i: ladder[i].width * ladder[i].height)
    order.reverse()
    parts, source = [], "[0:V:0]" + frame_rate
    for step, i in enumerate(order):
        rung = ladder[i]
        scaled = f"{source}scale=w={rung.width}:h={rung.height}:flags=bicubic"
        if step == 0:
            scaled += ",format=yuv420p"
        if step == len(order) - 1:
            parts.append(f"{scaled},setsar=1[v{i}]")
        else:
            parts.append(f"{scaled},split=2[o{i}][c{i}]")
            parts.append(f"[o{i}]setsar=1[v{i}]")
            source = f"[c{i}]"
    return ";".join(parts)


LOUDNESS_SAMPLE_RATE = 48_000
"""``loudnorm`` works at 192 kHz and hands that on: its output is brought back to 48 kHz,
which every AAC decoder plays."""


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def sound_filter(channels: int, loudnorm: bool) -> str:
    """The sound's filter chain: the channel layout first (a downmix before measuring,
    so the loudness heard is the loudness measured), then the normalisation."""
    chain = [f"aformat=channel_layouts={_layout(channels)}"]
    if loudnorm:
        chain += [LOUDNORM_FILTER, f"aresample={LOUDNESS_SAMPLE_RATE}"]
    return ",".join(chain)


def _video_codec_args(
    config: FfmpegConfig, index: int, rung: PlannedRung, engine: Engine
) -> list[str]:
    rate = rung.spec.video_bitrate
    spec = f"v:{index}"
    if engine is Engine.GPU_NVENC:
        quality = [
            f"-c:{spec}", "h264_nvenc", f"-preset:{spec}", config.nvenc_preset,
            f"-rc:{spec}", "vbr", f"-cq:{spec}", str(config.crf), f"-b:{spec}", str(rate),
            f"-profile:{spec}", "high", f"-forced-idr:{spec}", "1",
        ]  # fmt: skip
    else:
        quality = [
            f"-c:{spec}", "libx264", f"-preset:{spec}", config.preset,
            f"-crf:{spec}", str(config.crf), f"-threads:{spec}", str(config.threads),
        ]  # fmt: skip
    return [*quality, f"-maxrate:{spec}", str(rate), f"-bufsize:{spec}", str(2 * rate)]


def transcode_args(
    config: FfmpegConfig,
    source: Path,
    info: MediaInfo,
    ladder: Sequence[PlannedRung],
    output_dir: Path,
    engine: Engine,
) -> list[str]:
    """The whole ffmpeg command line for ``ladder`` (pure: runs nothing)."""
    if not ladder:
        raise ValueError("an empty ladder")
    for rung in ladder:
        if not _RUNG_NAME.match(rung.spec.name) or rung.width % 2 or rung.height % 2:
            raise ValueError(f"rung {rung.spec.name!r} {rung.width}x{rung.height} is not usable")
    gop = config.gop_frames(output_fps(info.fps))
    args = [*base_args(config), "-y", "-threads", str(config.threads)]
    if engine is not Engine.CPU:
        args += ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda", "-noautorotate"]
    args += input_args(config, source, info.container)
    graph = filter_graph(info, ladder, engine)
    normalised = config.loudnorm and info.has_audio
    if normalised:
        # Measured and normalised once, then split: every rung carries the same sound.
        outputs = "".join(f"[a{i}]" for i in range(len(ladder)))
        sound = sound_filter(config.audio_channels, loudnorm=True)
        graph += f";[0:a:0]{sound},asplit={len(ladder)}{outputs}"
    args += [
        "-filter_complex_threads", str(config.threads),
        "-filter_complex", graph,
    ]  # fmt: skip
    stream_map = []
    for i, rung in enumerate(ladder):
        args += ["-map", f"[v{i}]"]
        if info.has_audio:
            args += ["-map", f"[a{i}]" if normalised else "0:a:0"]
            stream_map.append(f"v:{i},a:{i},name:{rung.spec.name}")
        else:
            stream_map.append(f"v:{i},name:{rung.spec.name}")
    for i, rung in enumerate(ladder):
        args += _video_codec_args(config, i, rung, engine)
    args += [
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{config.segment_seconds:g})",
    ]  # fmt: skip
    if engine is not Engine.GPU_NVENC:  # NVENC takes the CUDA frames as they are
        args += ["-pix_fmt", "yuv420p"]
    if info.has_audio:
        args += ["-c:a", "aac", "-ac", str(config.audio_channels)]
        for i, rung in enumerate(ladder):
            args += [f"-b:a:{i}", str(rung.spec.audio_bitrate)]
    else:
        args += ["-an"]
    args += [
        "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1",
        "-f", "hls",
        "-hls_time", f"{config.segment_seconds:g}",
        "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-hls_segment_type", "mpegts",
        "-hls_segment_filename", _output_path(output_dir / "%v" / SEGMENT_PATTERN),
        "-master_pl_name", MASTER_PLAYLIST,
        "-var_stream_map", " ".join(stream_map),
        "-progress", "pipe:1", "-stats_period", "0.5", "-nostats",
        _output_path(output_dir / "%v" / VARIANT_PLAYLIST),
    ]  # fmt: skip
    return args


def audio_args(
    config: FfmpegConfig,
    source: Path,
    info: MediaInfo,
    rung: PlannedRung,
    output_dir: Path,
) -> list[str]:
    """The ffmpeg command line of an audio upload's one rendition (pure: runs nothing):
    its first sound stream (never the cover art) in AAC-LC, ``rung.audio_channels``
    channels, into MPEG-TS segments as long as the video rungs' (any AAC frame may start
    a segment, so they end on the segment length, not on a keyframe). The variant is
    ``<output_dir>/<rung name>/index.m3u8``; the master is written from the segments."""
    if not rung.audio_only or not _RUNG_NAME.match(rung.spec.name):
        raise ValueError(f"rung {rung.spec.name!r} is not an audio-only rendition")
    if rung.audio_channels not in (1, 2):
        raise ValueError(f"an audio rendition has 1 or 2 channels, not {rung.audio_channels}")
    folder = output_dir / rung.spec.name
    return [
        *base_args(config), "-y", "-threads", str(config.threads),
        *input_args(config, source, info.container),
        "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-af", sound_filter(rung.audio_channels, config.loudnorm),
        "-c:a", "aac", "-profile:a", "aac_low", "-b:a", str(rung.spec.audio_bitrate),
        "-map_metadata", "-1", "-map_chapters", "-1",
        "-f", "hls",
        "-hls_time", f"{config.segment_seconds:g}",
        "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-hls_segment_type", "mpegts",
        "-hls_segment_filename", _output_path(folder / SEGMENT_PATTERN),
        "-progress", "pipe:1", "-stats_period", "0.5", "-nostats",
        _output_path(folder / VARIANT_PLAYLIST),
    ]  # fmt: skip


def _output_path(path: Path) -> str:
    """An HLS output as a plain absolute path. Never read as a protocol or an option (it
    starts with ``/``), and not a ``file:`` URL: the HLS muxer creates the folders of a
    ``%v`` pattern itself, and took ``file:`` for a folder name, making a tree
    ``file:/<path>`` in the process's current directory on every run."""
    return str(path.resolve())


class ProgressParser:
    """Turns ffmpeg's ``-progress`` key=value lines into 0-100, reported when it grows."""

    def __init__(self, duration_seconds: float, on_progress: ProgressCallback) -> None:
        self._duration_us = max(1.0, duration_seconds * 1_000_000)
        self._on_progress = on_progress
        self.last = -1

    def feed(self, line: str) -> None:
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.strip().lstrip("-").isdigit():
            percent = int(min(99, max(0, int(value) * 100 // self._duration_us)))
            self._report(percent)
        elif key == "progress" and value.strip() == "end":
            self._report(100)

    def _report(self, percent: int) -> None:
        if percent > self.last:
            self.last = percent
            self._on_progress(percent)


_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@frozen
class VariantEntry:
    bandwidth: int
    width: int
    height: int
    codecs: str
    uri: str


def parse_master(text: str) -> list[VariantEntry]:
    """The ``#EXT-X-STREAM-INF`` entries of a master playlist."""
    entries: list[VariantEntry] = []
    lines = [line.strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        if not line.startswith("#EXT-X-STREAM-INF:"):
            continue
        attributes = {k: v.strip('"') for k, v in _ATTRIBUTE.findall(line.split(":", 1)[1])}
        uri = next((u for u in lines[i + 1 :] if u and not u.startswith("#")), None)
        resolution = attributes.get("RESOLUTION", "")
        if uri is None or "BANDWIDTH" not in attributes or "x" not in resolution:
            raise ValueError("a variant entry lacks its URI, BANDWIDTH or RESOLUTION")
        width, height = resolution.split("x", 1)
        entries.append(
            VariantEntry(
                int(attributes["BANDWIDTH"]),
                int(width),
                int(height),
                attributes.get("CODECS", ""),
                uri,
            )
        )
    return entries


# ffmpeg's own words for input it cannot decode: the file's fault, which no retry mends.
_UNDECODABLE = re.compile(
    r"Invalid data found when processing input|Error while decoding|"
    r"could not find codec parameters|moov atom not found|Invalid NAL unit size|"
    r"error reading header|partial file|no frame|Decoding requested, but no decoder",
    re.IGNORECASE,
)
# And for faults of the machine, which another attempt may not meet.
_MACHINE = re.compile(
    r"No space left on device|Cannot allocate memory|Too many open files|"
    r"Read-only file system|Input/output error|Resource temporarily unavailable",
    re.IGNORECASE,
)
UNDECODABLE = (
    "The video could not be decoded: the file is damaged or uses an encoding this "
    "platform cannot read."
)


def transcode_failure(failure: FfmpegFailed) -> Exception:
    """What a failed ladder run means for the job. ffmpeg that ran out of time, was
    killed, or met a fault of the machine: RuntimeError, retried. ffmpeg that exited on
    its own saying it could not decode the input: MediaRejected, failed at once."""
    said = "\n".join(failure.errors) or failure.stderr
    killed = failure.timed_out or "killed by signal" in failure.reason
    if not killed and not _MACHINE.search(said) and _UNDECODABLE.search(said):
        return MediaRejected(UNDECODABLE, FailureCode.CORRUPT)
    if failure.timed_out:
        return RuntimeError(f"transcoding took too long: {failure}")
    return RuntimeError(f"transcoding failed: {failure}")


class FfmpegTranscoder:
    """Transcoder on ffmpeg, CPU or GPU per ``config.gpu`` (``auto`` falls back to the
    CPU, logging why). The GPU capability is detected once, on first use."""

    def __init__(self, config: FfmpegConfig, capability: GpuCapability | None = None) -> None:
        self._config = config
        self._capability = capability
        self._lock = threading.Lock()

    def capability(self) -> GpuCapability:
        with self._lock:
            if self._capability is None:
                self._capability = detect_gpu(self._config)
            return self._capability

    def engine(self) -> Engine:
        mode = self._config.gpu
        if mode is GpuMode.OFF:
            return Engine.CPU
        found = self.capability()
        if found.decode:
            return Engine.GPU_NVENC if found.encode else Engine.GPU_DECODE
        if mode is GpuMode.ON:
            raise RuntimeError(f"GPU transcoding is required but unavailable: {found.reason}")
        log.warning("GPU transcoding unavailable, using the CPU: %s", found.reason)
        return Engine.CPU

    def transcode(
        self,
        source: Path,
        info: MediaInfo,
        ladder: Sequence[PlannedRung],
        output_dir: Path,
        on_progress: ProgressCallback,
    ) -> LadderOutput:
        if not source.is_file():
            raise MediaRejected(
                "The uploaded file can no longer be read.", FailureCode.SOURCE_MISSING
            )
        if info.is_audio_only:
            if len(ladder) != 1:
                raise ValueError("an audio upload has exactly one rendition")
            engine = Engine.CPU
            args = audio_args(self._config, source, info, ladder[0], output_dir)
        else:
            engine = self.engine()
            args = transcode_args(self._config, source, info, ladder, output_dir, engine)
        for rung in ladder:
            (output_dir / rung.spec.name).mkdir(parents=True, exist_ok=True)
        progress = ProgressParser(info.duration_seconds, on_progress)
        progress.feed("out_time_us=0")
        try:
            run_ffmpeg(
                args,
                self._config,
                timeout=self._config.timeout_seconds,
                on_stdout_line=progress.feed,
                limit_data_only=engine is not Engine.CPU,
            )
        except FfmpegFailed as failure:
            log.warning("transcode failed: %s", failure)
            raise transcode_failure(failure) from None
        frame_rate = None if info.is_audio_only else output_fps(info.fps)
        return self._output(ladder, output_dir, progress, frame_rate)

    def _output(
        self,
        ladder: Sequence[PlannedRung],
        output_dir: Path,
        progress: ProgressParser,
        frame_rate: float | None,
    ) -> LadderOutput:
        """Check what ffmpeg wrote and write the master playlist from it.

        ffmpeg's own master playlist measures bandwidth only over segments of at least
        half a second: it lists no variant at all for a clip shorter than that, and
        understates BANDWIDTH when the last segment is short. The master is written here
        instead, from the segments on disk (see hls.py); ffmpeg's entries, when it wrote
        them, still confirm each rung's size and give its CODECS (an audio-only run
        writes none: its CODECS come from the segments' ADTS headers)."""
        try:
            entries = {e.uri: e for e in parse_master((output_dir / MASTER_PLAYLIST).read_text())}
        except (OSError, ValueError):
            entries = {}
        renditions = []
        for rung in ladder:
            uri = f"{rung.spec.name}/{VARIANT_PLAYLIST}"
            entry = entries.get(uri)
            if entry is not None and (entry.width, entry.height) != (rung.width, rung.height):
                raise RuntimeError(f"rung {rung.spec.name} came out unlike its plan: {entry}")
            try:
                renditions.append(
                    rendition_playlist(
                        output_dir,
                        uri,
                        rung.width,
                        rung.height,
                        entry.codecs if entry is not None else None,
                        self._config.segment_seconds,
                        frame_rate,
                    )
                )
            except NothingDecoded:
                raise MediaRejected(UNDECODABLE, FailureCode.CORRUPT) from None
            except (OSError, ValueError) as error:
                raise RuntimeError(
                    f"ffmpeg wrote no usable playlist for rung {rung.spec.name}: {error}"
                ) from None
        write_master(output_dir / MASTER_PLAYLIST, renditions)
        rungs = tuple(
            RungOutput(rung.spec.name, r.width, r.height, r.bandwidth, r.codecs, r.uri)
            for rung, r in zip(ladder, renditions, strict=True)
        )
        start = self._timeline_start(output_dir, renditions[0])
        progress.feed("progress=end")
        return LadderOutput(MASTER_PLAYLIST, rungs, start)

    @staticmethod
    def _timeline_start(output_dir: Path, first: Rendition) -> int:
        try:
            return timeline_start(output_dir, first.uri)
        except (OSError, ValueError) as error:
            raise RuntimeError(
                f"no start time in the first segment of {first.uri}: {error}"
            ) from None
