"""Probing with ffmpeg alone (there is no ffprobe): parse the input dump it writes to
stderr, decode the first frame (of the picture; of the sound for an audio upload), and
copy the packets of the last second to refuse truncated files.

The dump is ffmpeg's human-readable report (``Input #0, <demuxers>, from ...``,
``Duration: ...``, ``Stream #0:N...: Video: ...`` and their ``Side data`` /
``Metadata`` blocks); :func:`parse_dump` reads it defensively: anything it cannot
understand makes the input refused, never guessed.

Whether a source is a video or sound alone is only known from the dump, while the run
that prints it must already say what to decode: the leading bytes choose (an MP3 is
sound, an MP4 a video), and when the dump says otherwise (an MP4 of sound alone, a M4A
with a picture) the run is made again the other way. The outcome is remembered per file
version (:meth:`FfmpegProber.examine`), so posters and subtitles need no run of their own
to learn a source's streams.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import attrs
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
from videoplatform.domain.media_types import MediaKind, sniff
from videoplatform.domain.videos import FailureCode, MediaInfo

_INPUT = re.compile(r"^Input #0, (?P<formats>[\w,-]+), from ", re.MULTILINE)
_DURATION = re.compile(
    r"^\s*Duration: (?:(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?)|N/A)"
    r"(?:, start: [-\d.]+)?(?:, bitrate: (?:(?P<kbps>\d+) kb/s|N/A))?",
    re.MULTILINE,
)
_ANY_STREAM = re.compile(r"^\s*Stream #0:(\d+)\b", re.MULTILINE)
_STREAM = re.compile(
    r"^\s*Stream #0:(?P<index>\d+)(?:\[0x[0-9a-fA-F]+\])?(?:\((?P<language>[^)]*)\))?: "
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
_SAMPLE_RATE = re.compile(r"^\d+ Hz$")
# A language as containers tag it (ISO 639-2 "eng", or a BCP 47 tag such as "pt-BR");
# anything else a file claims is shown as undetermined, never as it is.
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}$")
UNDETERMINED = "und"
# Channel layouts ffmpeg names in words; the others are "5.1", "7.1.4", "6 channels"...
_NAMED_LAYOUTS = {
    "mono": 1,
    "stereo": 2,
    "downmix": 2,
    "binaural": 2,
    "quad": 4,
    "hexagonal": 6,
    "octagonal": 8,
    "cube": 8,
    "hexadecagonal": 16,
}
_NUMBERED_LAYOUT = re.compile(r"^(\d{1,2})\.(\d)(?:\.(\d{1,2}))?(?:\([\w-]+\))?$")
_COUNTED_LAYOUT = re.compile(r"^(\d{1,3}) channels?\b")
TEXT_SUBTITLES = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "mov_text"})
"""Subtitle codecs that are text (extracted as captions). Bitmaps (DVD, Blu-ray PGS, DVB)
would need optical recognition: they are left alone."""


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
    language: str = UNDETERMINED
    channels: int = 0
    """Of a sound stream; 0 when the layout is not one ffmpeg names plainly."""

    @property
    def is_picture(self) -> bool:
        """A moving picture: cover art (an attached picture) is not one."""
        return self.kind == "Video" and not self.attached_picture

    @property
    def is_text_subtitle(self) -> bool:
        return self.kind == "Subtitle" and self.codec in TEXT_SUBTITLES


@frozen
class InputDump:
    """What ffmpeg reported about input #0."""

    formats: tuple[str, ...]
    duration_seconds: float | None
    bitrate: int
    streams: tuple[StreamDump, ...]

    @property
    def has_picture(self) -> bool:
        return any(s.is_picture for s in self.streams)

    @property
    def cover(self) -> StreamDump | None:
        """The first attached picture (an album's cover art), if any."""
        return next((s for s in self.streams if s.attached_picture), None)

    def text_subtitles(self) -> list[tuple[int, str]]:
        """(position among all subtitle streams, for ``-map 0:s:N``; language) of each
        text subtitle stream, in stream order."""
        subtitles = [s for s in self.streams if s.kind == "Subtitle"]
        return [(n, s.language) for n, s in enumerate(subtitles) if s.is_text_subtitle]


def channel_count(layout: str) -> int:
    """Channels of a layout as ffmpeg prints it ("stereo", "5.1(side)", "7.1.4",
    "6 channels"...); 0 when it is none of those."""
    if (named := _NAMED_LAYOUTS.get(layout.split("(", 1)[0])) is not None:
        return named
    if (numbered := _NUMBERED_LAYOUT.match(layout)) is not None:
        return sum(int(n) for n in numbered.groups() if n is not None)
    if (counted := _COUNTED_LAYOUT.match(layout)) is not None:
        return int(counted.group(1))
    return 0


def _language(tag: str | None) -> str:
    return tag if tag is not None and _LANGUAGE.match(tag) else UNDETERMINED


def _parse_stream(index: int, kind: str, rest: str, language: str | None = None) -> StreamDump:
    codec_match = _CODEC.match(rest)
    codec = codec_match.group("codec") if codec_match else "unknown"
    width = height = None
    fps = tbr = None
    channels = 0
    parts = split_top_level(rest)
    for position, part in enumerate(parts):
        if width is None and (size := _SIZE.match(part)):
            width, height = int(size.group("w")), int(size.group("h"))
        elif rate := _FPS.match(part):
            value = float(rate.group("value")) * (1000 if rate.group("k") else 1)
            if part.endswith("fps"):
                fps = value
            else:
                tbr = value
        elif kind == "Audio" and _SAMPLE_RATE.match(part) and position + 1 < len(parts):
            channels = channel_count(parts[position + 1])  # the layout follows the rate
    return StreamDump(
        index=index,
        kind=kind,
        codec=codec,
        width=width,
        height=height,
        fps=fps if fps is not None else tbr,
        attached_picture="(attached pic)" in rest,
        language=_language(language),
        channels=channels,
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
                    int(stream.group("index")),
                    stream.group("kind"),
                    stream.group("rest"),
                    stream.group("language"),
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
        streams[-1] = attrs.evolve(streams[-1], rotation=rotation)
    return InputDump(formats, duration, bitrate, tuple(streams))


def media_info_from(dump: InputDump, config: FfmpegConfig) -> MediaInfo:
    """Check the report against the configured limits; MediaRejected with the reason.

    A source with a moving picture is a video; one with sound and no picture (cover art
    does not count) is an audio upload: no size, no frame rate, its sound's codec and
    channels. One with neither is refused (``NO_VIDEO``)."""
    container = next((f for f in dump.formats if f in config.allowed_formats), None)
    if container is None:
        raise MediaRejected(
            f"Files in the {'/'.join(dump.formats)} format are not accepted.",
            FailureCode.UNSUPPORTED_FORMAT,
        )
    video = next((s for s in dump.streams if s.is_picture), None)
    audio = next((s for s in dump.streams if s.kind == "Audio"), None)
    subtitles = tuple(language for _, language in dump.text_subtitles())
    if video is None:
        if audio is None:
            raise MediaRejected("The file has no picture or sound to play.", FailureCode.NO_VIDEO)
        return MediaInfo(
            duration_seconds=_duration(dump, config, "recording"),
            width=0,
            height=0,
            video_codec=None,
            audio_codec=audio.codec,
            fps=0.0,
            bitrate=dump.bitrate,
            container=container,
            audio_channels=audio.channels,
            subtitle_languages=subtitles,
        )
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
    duration = _duration(dump, config, "video")
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
        audio_channels=audio.channels if audio is not None else 0,
        subtitle_languages=subtitles,
    )


def _duration(dump: InputDump, config: FfmpegConfig, what: str) -> float:
    """The duration, known, positive and within the limit (the same for sound alone: an
    hour of audio costs a worker the same hour of decoding)."""
    duration = dump.duration_seconds
    if duration is None or not math.isfinite(duration) or duration <= 0:
        raise MediaRejected(
            f"The {what}'s duration is unknown: the file may be damaged.", FailureCode.CORRUPT
        )
    if duration > config.max_duration_seconds:
        raise MediaRejected(
            f"The duration {duration:.0f}s is beyond the longest accepted, "
            f"{config.max_duration_seconds:.0f}s.",
            FailureCode.BEYOND_LIMITS,
        )
    return duration


def probe_args(config: FfmpegConfig, source: Path, *, picture: bool = True) -> list[str]:
    """Open ``source`` twice in one run: from the start, decoding its first video frame
    (so it really is decodable video, and the dump comes for free), and a second time
    from 1 s before its end, copying the packets there as checksums on stdout (no
    decoding, so it costs next to nothing): a file cut short has no packets near its end.

    For sound alone (``picture`` False) the first opening decodes the first frame of
    sound instead: asking for a picture there would leave ffmpeg nothing to write, which
    it refuses before decoding anything.

    The second opening seeks to any packet, not only to a keyframe (``-seek2any``), and
    copies from the first packet it gets (``-copyinkf``): seeking to a keyframe would copy
    everything from the last one on, which in a screen recording (a keyframe every few
    minutes, or only the first) is most of the file. Demuxers that can only land on a
    keyframe (FLV without an index, for one) still do, so the packets are summed up as
    they come (:class:`EndWindow`), never kept.
    """
    first = (
        ["-map", "0:V:0?", "-frames:v", "1", "-an"]
        if picture
        else ["-map", "0:a:0", "-frames:a", "1", "-vn"]
    )
    return [
        *base_args(config),
        "-threads", "1",
        *input_args(config, source),
        "-seek2any", "1", "-sseof", f"-{END_WINDOW_SECONDS:g}",
        *input_args(config, source),
        *first, "-sn", "-dn", "-f", "null", "-",
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


_UNKNOWN_RIFF_SIZES = (0, 0xFFFFFFFF)  # written by streaming writers, and by RF64


def riff_cut_short(head: bytes, size: int) -> bool:
    """Whether a RIFF WAVE file is shorter than its header says. A WAV has nothing past
    its header but samples: cut anywhere, it still reads, only shorter, so the end window
    cannot tell; the RIFF size, written when the file was finished, can. (A chunk of odd
    length may lack its pad byte: one byte short is forgiven.)"""
    if not head.startswith(b"RIFF") or head[8:12] != b"WAVE":
        return False
    declared = int.from_bytes(head[4:8], "little")
    return declared not in _UNKNOWN_RIFF_SIZES and declared + 8 > size + 1


@frozen
class Examined:
    """A probed source: what processing is told (``info``) and the report it came from
    (``dump``: its cover art, its subtitle streams)."""

    info: MediaInfo
    dump: InputDump


_REMEMBERED = 16


class FfmpegProber:
    """MediaProber on ffmpeg: reports container, duration, size, rotation (clockwise
    degrees), frame rate, bitrate, codecs, channels and subtitle languages; refuses
    non-media, disallowed containers, truncated files and anything beyond the configured
    limits. Videos and sound recordings (audio uploads) are both taken."""

    def __init__(self, config: FfmpegConfig) -> None:
        self._config = config
        self._examined: OrderedDict[tuple[str, int, int], Examined] = OrderedDict()
        self._lock = threading.Lock()

    def accepts(self, head: bytes) -> bool:
        return sniff(head).is_audiovisual

    def probe(self, source: Path) -> MediaInfo:
        return self.examine(source).info

    def examine(self, source: Path) -> Examined:
        """:meth:`probe`, with the report, remembered per file version (path, size,
        modification time): posters and subtitles of a source just probed run nothing
        to learn its streams again."""
        try:
            found = source.stat()
        except OSError:
            raise MediaRejected(
                "The uploaded file can no longer be read.", FailureCode.SOURCE_MISSING
            ) from None
        key = (str(source), found.st_size, found.st_mtime_ns)
        with self._lock:
            examined = self._examined.get(key)
        if examined is None:
            examined = self._examine(source)
            with self._lock:
                self._examined[key] = examined
                while len(self._examined) > _REMEMBERED:
                    self._examined.popitem(last=False)
        return examined

    def _examine(self, source: Path) -> Examined:
        if not source.is_file():
            raise MediaRejected(
                "The uploaded file can no longer be read.", FailureCode.SOURCE_MISSING
            )
        with source.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        kind = sniff(head).kind
        if riff_cut_short(head, source.stat().st_size):
            raise MediaRejected(INCOMPLETE, FailureCode.CORRUPT)
        picture = kind is not MediaKind.AUDIO
        stderr, end = self._run(source, picture)
        dump = parse_dump(stderr)
        # Sound alone in a video container, or a picture in an audio one: decode what
        # there is (a file with neither is refused below, as it is).
        if (
            dump is not None
            and dump.has_picture != picture
            and (dump.has_picture or any(s.kind == "Audio" for s in dump.streams))
        ):
            picture = dump.has_picture
            stderr, end = self._run(source, picture)
            dump = parse_dump(stderr)
        if dump is None:
            # A file that begins like a video or a recording but does not read as one is
            # damaged (an MP4 cut before its index, say), not something else altogether.
            if kind in (MediaKind.VIDEO, MediaKind.AUDIO):
                raise MediaRejected(INCOMPLETE, FailureCode.CORRUPT)
            raise MediaRejected(
                "The file is not a video or a sound recording this platform can read.",
                FailureCode.NOT_MEDIA,
            )
        info = media_info_from(dump, self._config)
        if (
            _NOTHING_DECODED.search(stderr) is not None
            or not end.reaches(info.duration_seconds)
            or any(m in stderr for m in _CORRUPT_MARKERS)
        ):
            raise MediaRejected(INCOMPLETE, FailureCode.CORRUPT)
        return Examined(info, dump)

    def _run(self, source: Path, picture: bool) -> tuple[str, EndWindow]:
        """One probe run: ffmpeg's report (untagged) and what it saw of the end."""
        end = EndWindow()
        try:
            result = run_ffmpeg(
                probe_args(self._config, source, picture=picture),
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
        return stderr, end
