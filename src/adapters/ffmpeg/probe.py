"""Probing with ffmpeg alone (there is no ffprobe): parse the input dump it writes to
stderr, decode the first frame, and copy the packets of the last second to refuse
truncated files.

The dump is ffmpeg's human-readable report (``Input #0, <demuxers>, from ...``,
``Duration: ...``, ``Stream #0:N...: Video: ...`` and their ``Side data`` /
``Metadata`` blocks); :func:`parse_dump` reads it defensively: anything it cannot
understand makes the input refused, never guessed.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

from attrs import frozen

from videoplatform.adapters.ffmpeg.config import FfmpegConfig
from videoplatform.adapters.ffmpeg.process import (
    FfmpegFailed,
    base_args,
    input_args,
    run_ffmpeg,
    untagged,
)
from videoplatform.application.ports.media import MediaRejected
from videoplatform.domain.media_types import sniff
from videoplatform.domain.videos import FailureCode, MediaInfo

_INPUT = re.compile(r"^Input #0, (?P<formats>[\w,-]+), from ", re.MULTILINE)
_DURATION = re.compile(
    r"^\s*Duration: (?:(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?)|N/A)"
    r"(?:, start: [-\d.]+)?(?:, bitrate: (?:(?P<kbps>\d+) kb/s|N/A))?",
    re.MULTILINE,
)
_ANY_STREAM = re.compile(r"^\s*Stream #0:(\d+)\b", re.MULTILINE)
_STREAM = re.compile(
    r"^\s*Stream #0:(?P<index>\d+)(?:\[0x[0-9a-fA-F]+\])?(?:\([^)]*\))?: "
    r"(?P<kind>Video|Audio|Subtitle|Data|Attachment): (?P<rest>.*)$"
)
_SIZE = re.compile(r"^(?P<w>\d{1,6})x(?P<h>\d{1,6})(?: \[.*\])?$")
_FPS = re.compile(r"^(?P<value>\d+(?:\.\d+)?)(?P<k>k?) (?:fps|tbr)$")
_ROTATION = re.compile(
    r"^\s*(?:Display Matrix|displaymatrix): rotation of (?P<deg>-?\d+(?:\.\d+)?) degrees",
    re.IGNORECASE,
)
_ROTATE_TAG = re.compile(r"^\s*rotate\s*: (?P<deg>-?\d+)\s*$")
_CODEC = re.compile(r"^(?P<codec>[\w-]+)")


def split_top_level(text: str) -> list[str]:
    """Split a stream description on ``, `` outside parentheses and brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


@frozen
class StreamDump:
    index: int
    kind: str
    codec: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    rotation: int = 0
    attached_picture: bool = False


@frozen
class InputDump:
    """What ffmpeg reported about input #0."""

    formats: tuple[str, ...]
    duration_seconds: float | None
    bitrate: int
    streams: tuple[StreamDump, ...]


def _parse_stream(index: int, kind: str, rest: str) -> StreamDump:
    codec_match = _CODEC.match(rest)
    codec = codec_match.group("codec") if codec_match else "unknown"
    width = height = None
    fps = tbr = None
    for part in split_top_level(rest):
        if width is None and (size := _SIZE.match(part)):
            width, height = int(size.group("w")), int(size.group("h"))
        elif rate := _FPS.match(part):
            value = float(rate.group("value")) * (1000 if rate.group("k") else 1)
            if part.endswith("fps"):
                fps = value
            else:
                tbr = value
    return StreamDump(
        index=index,
        kind=kind,
        codec=codec,
        width=width,
        height=height,
        fps=fps if fps is not None else tbr,
        attached_picture="(attached pic)" in rest,
    )


def _clockwise(counter_clockwise_degrees: float) -> int:
    return round(-counter_clockwise_degrees) % 360


def _own_section(body: str) -> str:
    """Input #0's report: up to the next input's, the outputs' or the stream mapping."""
    lines = []
    for line in body.splitlines():
        if line.startswith(("Input #", "Output #", "Stream mapping")):
            break
        lines.append(line)
    return "\n".join(lines)


def _refuse_forged_lines(section: str) -> None:
    """ffmpeg prints metadata keys as they are, newlines included, so a file can add
    lines of its own to the report (a smaller picture, a shorter duration...). It can
    only add lines, never hide the real ones: a second duration, or stream numbers that
    repeat or skip, give it away."""
    durations = len(_DURATION.findall(section))
    indices = [int(m.group(1)) for m in _ANY_STREAM.finditer(section)]
    if durations > 1 or indices != list(range(len(indices))):
        raise MediaRejected("the file's metadata imitates ffmpeg's own report; refused")


def parse_dump(stderr: str) -> InputDump | None:
    """Read input #0's report from ffmpeg's stderr; None when there is none."""
    found = _INPUT.search(stderr)
    if found is None:
        return None
    formats = tuple(found.group("formats").split(","))
    body = _own_section(stderr[found.end() :])
    _refuse_forged_lines(body)
    duration: float | None = None
    bitrate = 0
    if (dur := _DURATION.search(body)) is not None:
        if dur.group("h") is not None:
            duration = int(dur.group("h")) * 3600 + int(dur.group("m")) * 60 + float(dur.group("s"))
        if dur.group("kbps") is not None:
            bitrate = int(dur.group("kbps")) * 1000
    streams: list[StreamDump] = []
    for line in body.splitlines():
        if line.startswith(("Input #", "Output #", "Stream mapping")):
            break
        if (stream := _STREAM.match(line)) is not None:
            streams.append(
                _parse_stream(
                    int(stream.group("index")), stream.group("kind"), stream.group("rest")
                )
            )
            continue
        if not streams:
            continue
        rotated = _ROTATION.match(line)
        tag = _ROTATE_TAG.match(line)
        if rotated is not None:
            rotation = _clockwise(float(rotated.group("deg")))
        elif tag is not None:
            # The legacy ``rotate`` tag is clockwise already; a display matrix wins.
            rotation = int(tag.group("deg")) % 360
            if streams[-1].rotation:
                continue
        else:
            continue
        last = streams[-1]
        streams[-1] = StreamDump(
            last.index,
            last.kind,
            last.codec,
            last.width,
            last.height,
            last.fps,
            rotation,
            last.attached_picture,
        )
    return InputDump(formats, duration, bitrate, tuple(streams))


def media_info_from(dump: InputDump, config: FfmpegConfig) -> MediaInfo:
    """Check the report against the configured limits; MediaRejected with the reason."""
    container = next((f for f in dump.formats if f in config.allowed_formats), None)
    if container is None:
        raise MediaRejected(
            f"Files in the {'/'.join(dump.formats)} format are not accepted.",
            FailureCode.UNSUPPORTED_FORMAT,
        )
    video = next((s for s in dump.streams if s.kind == "Video" and not s.attached_picture), None)
    if video is None:
        raise MediaRejected("The file has no video picture.", FailureCode.NO_VIDEO)
    if video.width is None or video.height is None or video.width < 2 or video.height < 2:
        raise MediaRejected(
            "The video's picture has no usable size: the file may be damaged.",
            FailureCode.CORRUPT,
        )
    if video.width > config.max_width or video.height > config.max_height:
        raise MediaRejected(
            f"The picture size {video.width}x{video.height} is beyond the largest accepted, "
            f"{config.max_width}x{config.max_height}.",
            FailureCode.BEYOND_LIMITS,
        )
    duration = dump.duration_seconds
    if duration is None or not math.isfinite(duration) or duration <= 0:
        raise MediaRejected(
            "The video's duration is unknown: the file may be damaged.", FailureCode.CORRUPT
        )
    if duration > config.max_duration_seconds:
        raise MediaRejected(
            f"The duration {duration:.0f}s is beyond the longest accepted, "
            f"{config.max_duration_seconds:.0f}s.",
            FailureCode.BEYOND_LIMITS,
        )
    fps = video.fps
    if fps is None or not 0 < fps <= config.max_fps:
        raise MediaRejected(
            f"The frame rate {fps} is missing or beyond the highest accepted, {config.max_fps}.",
            FailureCode.BEYOND_LIMITS,
        )
    if duration * fps > config.max_frames:
        raise MediaRejected(
            f"The video has about {duration * fps:.0f} frames, beyond the most accepted, "
            f"{config.max_frames}.",
            FailureCode.BEYOND_LIMITS,
        )
    if video.rotation % 90 != 0:
        raise MediaRejected(
            f"The rotation {video.rotation} is not a multiple of 90 degrees.",
            FailureCode.UNSUPPORTED_FORMAT,
        )
    audio = next((s for s in dump.streams if s.kind == "Audio"), None)
    return MediaInfo(
        duration_seconds=duration,
        width=video.width,
        height=video.height,
        video_codec=video.codec,
        audio_codec=audio.codec if audio is not None else None,
        fps=fps,
        bitrate=dump.bitrate,
        rotation=video.rotation,
        container=container,
    )


def probe_args(config: FfmpegConfig, source: Path) -> list[str]:
    """Open ``source`` twice in one run: from the start, decoding its first video frame
    (so it really is decodable video, and the dump comes for free), and a second time
    from 1 s before its end, copying the packets there as checksums on stdout (no
    decoding, so it costs next to nothing): a file cut short has no packets near its end.

    The second opening seeks to any packet, not only to a keyframe (``-seek2any``), and
    copies from the first packet it gets (``-copyinkf``): seeking to a keyframe would copy
    everything from the last one on, which in a screen recording (a keyframe every few
    minutes, or only the first) is most of the file. Demuxers that can only land on a
    keyframe (FLV without an index, for one) still do, so the packets are summed up as
    they come (:class:`EndWindow`), never kept.
    """
    return [
        *base_args(config),
        "-threads", "1",
        *input_args(config, source),
        "-seek2any", "1", "-sseof", f"-{END_WINDOW_SECONDS:g}",
        *input_args(config, source),
        "-map", "0:V:0?", "-frames:v", "1", "-an", "-sn", "-dn", "-f", "null", "-",
        "-copyinkf",
        "-map", "1:V:0?", "-map", "1:a:0?", "-c", "copy", "-f", "framecrc", "pipe:1",
    ]  # fmt: skip


END_WINDOW_SECONDS = 1.0
# ffmpeg's words when the first output (the decoded first frame) got nothing.
_NOTHING_DECODED = re.compile(r"\[out#0/[^\]]*\] Nothing was written")
_TIME_BASE = re.compile(r"^#tb (\d+): (\d+)/(\d+)\s*$")


class EndWindow:
    """Where the packets copied from the end window end, summed up from ffmpeg's
    ``framecrc`` lines as they come (:meth:`feed`): the latest end per stream, in the
    stream's time base. Nothing else is kept, so any number of packets costs the same
    memory, and none is left out."""

    def __init__(self) -> None:
        self._bases: dict[int, Fraction] = {}
        self._ends: dict[int, int] = {}

    def feed(self, line: str) -> None:
        if line.startswith("#"):
            if (base := _TIME_BASE.match(line)) is not None:
                self._bases[int(base.group(1))] = Fraction(int(base.group(2)), int(base.group(3)))
            return
        # stream, dts, pts, duration, size, checksum[, flags...]
        fields = line.split(",", 4)
        try:
            stream, end = int(fields[0]), int(fields[2]) + int(fields[3])
        except (IndexError, ValueError):
            return
        latest = self._ends.get(stream)
        if latest is None or end > latest:
            self._ends[stream] = end

    def last_end(self) -> Fraction | None:
        """When the last packet ends, in seconds from the window's start; None without
        packets."""
        ends = [end * self._bases[s] for s, end in self._ends.items() if s in self._bases]
        return max(ends, default=None)

    def reaches(self, duration: float) -> bool:
        """Whether the packets reach (close to) the end.

        Their timestamps start at the window, so a whole file's last packet ends about
        ``min(END_WINDOW_SECONDS, duration)`` in; a truncated one has none there."""
        last = self.last_end()
        window = min(END_WINDOW_SECONDS, duration)
        return last is not None and last >= Fraction(window / 2)


def reaches_end(framecrc: str, duration: float) -> bool:
    """:meth:`EndWindow.reaches` for a whole ``framecrc`` output at once."""
    window = EndWindow()
    for line in framecrc.splitlines():
        window.feed(line)
    return window.reaches(duration)


_CORRUPT_MARKERS = ("partial file",)
_SNIFF_BYTES = 4096
INCOMPLETE = (
    "The file is damaged or incomplete: it may have been cut off while it was uploaded "
    "or saved. Upload a complete copy."
)


class FfmpegProber:
    """MediaProber on ffmpeg: reports container, duration, size, rotation (clockwise
    degrees), frame rate, bitrate and codecs; refuses non-media, disallowed containers,
    truncated files and anything beyond the configured limits."""

    def __init__(self, config: FfmpegConfig) -> None:
        self._config = config

    def accepts(self, head: bytes) -> bool:
        return sniff(head).is_video

    def probe(self, source: Path) -> MediaInfo:
        if not source.is_file():
            raise MediaRejected(
                "The uploaded file can no longer be read.", FailureCode.SOURCE_MISSING
            )
        end = EndWindow()
        try:
            result = run_ffmpeg(
                probe_args(self._config, source),
                self._config,
                timeout=self._config.probe_timeout_seconds,
                on_stdout_line=end.feed,
            )
            stderr = untagged(result.stderr)
        except FfmpegFailed as failure:
            if failure.timed_out:
                raise MediaRejected(
                    "The file took too long to inspect.", FailureCode.BEYOND_LIMITS
                ) from None
            # What a failed run copied proves nothing about the end of the file.
            end, stderr = EndWindow(), untagged(failure.stderr)
        if "Format not on whitelist" in stderr:
            raise MediaRejected(
                "Files of this kind are not accepted (playlists, references to other "
                "files and image sequences are refused).",
                FailureCode.UNSUPPORTED_FORMAT,
            )
        dump = parse_dump(stderr)
        if dump is None:
            # A file that begins like a video but does not read as one is damaged (an
            # MP4 cut before its index, say), not something else altogether.
            with source.open("rb") as head:
                if sniff(head.read(_SNIFF_BYTES)).is_video:
                    raise MediaRejected(INCOMPLETE, FailureCode.CORRUPT)
            raise MediaRejected(
                "The file is not a video this platform can read.", FailureCode.NOT_MEDIA
            )
        info = media_info_from(dump, self._config)
        if (
            _NOTHING_DECODED.search(stderr) is not None
            or not end.reaches(info.duration_seconds)
            or any(m in stderr for m in _CORRUPT_MARKERS)
        ):
            raise MediaRejected(INCOMPLETE, FailureCode.CORRUPT)
        return info
