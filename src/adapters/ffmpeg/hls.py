"""HLS playlists measured from the segments ffmpeg wrote.

A master playlist's ``BANDWIDTH`` is the peak segment bit rate of the rendition and
``AVERAGE-BANDWIDTH`` its average segment bit rate (RFC 8216, section 4.3.4.2): the peak
is the largest bit rate of any contiguous set of segments whose total duration is between
0.5 and 1.5 times the target duration, so a short last segment counts together with the
one before it rather than alone. ``CODECS`` comes from ffmpeg's own entry when it wrote
one, otherwise from the first segment's stream headers (H.264's sequence parameter set,
AAC's ADTS header). An audio-only rendition (an audio upload's) is listed without
``RESOLUTION`` or ``FRAME-RATE``.

Where the timeline starts (:func:`first_pts`) is read from the first segment's packets
too: the earliest presentation timestamp of its PES headers, which captions are mapped to.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from attrs import frozen

_EXTINF = re.compile(r"^#EXTINF:([\d.]+)")
_TARGET = re.compile(r"^#EXT-X-TARGETDURATION:(\d+)$", re.MULTILINE)
_SEGMENT = re.compile(r"^segment_\d{5,}\.ts$")
_TS_PACKET = 188
_STREAM_H264 = 0x1B
_STREAM_AAC_ADTS = 0x0F
_HEADER_BYTES = 64 * 1024  # of each stream: its first access unit's headers are there
# Stream ids whose PES packets have no optional header, hence no timestamps (ISO/IEC
# 13818-1, 2.4.3.7): program stream map, padding, private 2, ECM, EMM, directory, DSM-CC,
# H.222.1 type E.
_NO_PES_HEADER = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xFF, 0xF2, 0xF8})


class NothingDecoded(ValueError):
    """ffmpeg finished, but wrote no segment: nothing in the input decoded."""


@frozen
class Rendition:
    """One variant stream, as the master playlist lists it."""

    uri: str
    width: int
    height: int
    """Both 0 for an audio-only rendition."""
    bandwidth: int
    average_bandwidth: int
    codecs: str
    frame_rate: float | None = None

    @property
    def audio_only(self) -> bool:
        return self.width == 0 and self.height == 0


def rendition_playlist(
    output_dir: Path,
    uri: str,
    width: int,
    height: int,
    codecs: str | None,
    segment_seconds: float,
    frame_rate: float | None = None,
) -> Rendition:
    """Measure the rendition whose media playlist is ``output_dir / uri``, and make its
    target duration valid (ffmpeg writes 0 for a clip shorter than half a second, which
    players refuse). ValueError if the playlist or a segment is unusable. A rendition
    0x0 carries sound alone (its codecs are read from its sound's headers)."""
    playlist = output_dir / uri
    text = playlist.read_text()
    segments = media_segments(text)
    if not segments:
        raise NothingDecoded("the playlist lists no segment")
    sizes = [(playlist.parent / name).stat().st_size for _, name in segments]
    durations = [duration for duration, _ in segments]
    target = max(1, math.ceil(segment_seconds - 1e-9), *(round(d) for d in durations))
    declared = _TARGET.search(text)
    if declared is None or int(declared.group(1)) < target:
        fixed = f"#EXT-X-TARGETDURATION:{target}"
        text = _TARGET.sub(fixed, text) if declared else text.replace("\n", f"\n{fixed}\n", 1)
        playlist.write_text(text)
    return Rendition(
        uri,
        width,
        height,
        peak_bit_rate(durations, sizes, target),
        math.ceil(sum(sizes) * 8 / max(sum(durations), 1e-3)),
        codecs
        or stream_codecs(
            (playlist.parent / segments[0][1]).read_bytes(), picture=(width, height) != (0, 0)
        ),
        frame_rate,
    )


def media_segments(text: str) -> list[tuple[float, str]]:
    """(duration, file name) of each segment a media playlist lists, in order. Names
    are ffmpeg's own pattern: anything else is refused, never opened."""
    found: list[tuple[float, str]] = []
    duration: float | None = None
    for line in (line.strip() for line in text.splitlines()):
        if (match := _EXTINF.match(line)) is not None:
            duration = float(match.group(1))
        elif line and not line.startswith("#"):
            if duration is None or not _SEGMENT.match(line):
                raise ValueError(f"unexpected playlist entry {line!r}")
            found.append((duration, line))
            duration = None
    return found


def peak_bit_rate(durations: Sequence[float], sizes: Sequence[int], target: float) -> int:
    """The largest bit rate of any contiguous set of segments lasting between 0.5 and 1.5
    times ``target`` seconds; the whole rendition's when it is shorter than that."""
    best = 0.0
    for start in range(len(durations)):
        seconds, size = 0.0, 0
        for end in range(start, len(durations)):
            seconds += durations[end]
            size += sizes[end]
            if seconds > 1.5 * target:
                break
            if seconds >= 0.5 * target:
                best = max(best, size * 8 / seconds)
    if best == 0.0:
        best = sum(sizes) * 8 / max(sum(durations), 1e-3)
    return math.ceil(best)


def write_master(path: Path, renditions: Sequence[Rendition]) -> None:
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in renditions:
        size = "" if r.audio_only else f"RESOLUTION={r.width}x{r.height},"
        rate = f",FRAME-RATE={r.frame_rate:.3f}" if r.frame_rate and not r.audio_only else ""
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={r.bandwidth},AVERAGE-BANDWIDTH={r.average_bandwidth},"
            f'{size}CODECS="{r.codecs}"{rate}'
        )
        lines.append(r.uri)
    path.write_text("\n".join(lines) + "\n")


def stream_codecs(segment: bytes, *, picture: bool = True) -> str:
    """The RFC 6381 codecs of an MPEG-TS segment's H.264 video and AAC audio, read from
    the stream headers (ValueError if the video's are not found). Without ``picture``
    (an audio-only rendition) the AAC's are the ones that must be there."""
    types = _stream_types(segment)
    starts = _elementary_starts(segment, set(types))
    codecs = []
    if picture:
        video = next((pid for pid, kind in types.items() if kind == _STREAM_H264), None)
        if video is None or (avc := _avc_codec(starts.get(video, b""))) is None:
            raise ValueError("no H.264 parameters in the first segment")
        codecs.append(avc)
    audio = next((pid for pid, kind in types.items() if kind == _STREAM_AAC_ADTS), None)
    if audio is not None and (aac := _aac_codec(starts.get(audio, b""))) is not None:
        codecs.append(aac)
    elif not picture:
        raise ValueError("no AAC headers in the first segment")
    return ",".join(codecs)


def first_pts(segment: bytes) -> int:
    """The earliest presentation timestamp (90 kHz ticks) of the segment's elementary
    streams, from their PES headers: where a rendition starting with this segment starts
    playing (what ffmpeg reports as its ``start``). ValueError when no PES header carries
    one. Muxers start well clear of the 33-bit wrap (ffmpeg at 1.4 s), so the smallest
    value is the first."""
    pids = set(_stream_types(segment))
    found: int | None = None
    for pid, start, payload in _packets(segment):
        if not start or pid not in pids or payload[:3] != b"\0\0\1" or len(payload) < 14:
            continue
        # Only streams with the optional PES header (its first bits are "10") have one.
        if payload[3] in _NO_PES_HEADER or payload[6] & 0xC0 != 0x80:
            continue
        if (payload[7] >> 6) & 0x2:  # PTS_DTS_flags: a PTS is there
            pts = _timestamp(payload[9:14])
            found = pts if found is None else min(found, pts)
    if found is None:
        raise ValueError("no presentation timestamp in the segment")
    return found


def _timestamp(field: bytes) -> int:
    """A 33-bit PES timestamp from its five bytes (marker bits dropped)."""
    return (
        ((field[0] >> 1) & 0x07) << 30
        | field[1] << 22
        | (field[2] >> 1) << 15
        | field[3] << 7
        | field[4] >> 1
    )


def timeline_start(output_dir: Path, uri: str) -> int:
    """:func:`first_pts` of the first segment of the rendition at ``output_dir / uri``."""
    playlist = output_dir / uri
    segments = media_segments(playlist.read_text())
    if not segments:
        raise NothingDecoded("the playlist lists no segment")
    return first_pts((playlist.parent / segments[0][1]).read_bytes())


def _packets(data: bytes) -> Iterator[tuple[int, bool, bytes]]:
    """(PID, starts a unit, payload) of each transport stream packet."""
    for offset in range(0, len(data) - _TS_PACKET + 1, _TS_PACKET):
        packet = data[offset : offset + _TS_PACKET]
        if packet[0] != 0x47:
            raise ValueError("not an MPEG transport stream")
        control = (packet[3] >> 4) & 0x3
        if not control & 0x1:  # no payload
            continue
        start = 4 + (1 + packet[4] if control & 0x2 else 0)
        yield ((packet[1] & 0x1F) << 8) | packet[2], bool(packet[1] & 0x40), packet[start:]


def _section(payload: bytes) -> bytes:
    """The PSI section a unit-starting payload carries (after its pointer field)."""
    begin = 1 + payload[0]
    length = ((payload[begin + 1] & 0x0F) << 8) | payload[begin + 2]
    return payload[begin : begin + 3 + length]


def _stream_types(data: bytes) -> dict[int, int]:
    """Elementary PID -> stream type, from the first program's map table."""
    program_map: int | None = None
    for pid, start, payload in _packets(data):
        if not start:
            continue
        if pid == 0 and program_map is None:
            pat = _section(payload)
            for entry in range(8, len(pat) - 4, 4):
                if (pat[entry] << 8) | pat[entry + 1]:  # program 0 is the network table
                    program_map = ((pat[entry + 2] & 0x1F) << 8) | pat[entry + 3]
                    break
        elif pid == program_map:
            pmt = _section(payload)
            position = 12 + (((pmt[10] & 0x0F) << 8) | pmt[11])
            types = {}
            while position + 5 <= len(pmt) - 4:
                elementary = ((pmt[position + 1] & 0x1F) << 8) | pmt[position + 2]
                types[elementary] = pmt[position]
                position += 5 + (((pmt[position + 3] & 0x0F) << 8) | pmt[position + 4])
            return types
    raise ValueError("no program map in the segment")


def _elementary_starts(data: bytes, pids: set[int]) -> dict[int, bytes]:
    """The first bytes of each stream's elementary data, PES headers removed."""
    found: dict[int, bytearray] = {}
    for pid, start, payload in _packets(data):
        if pid not in pids:
            continue
        if start and payload[:3] == b"\0\0\1":
            payload = payload[9 + payload[8] :]
        elif pid not in found:
            continue  # before the stream's first unit
        collected = found.setdefault(pid, bytearray())
        if len(collected) < _HEADER_BYTES:
            collected += payload
    return {pid: bytes(collected) for pid, collected in found.items()}


def _avc_codec(stream: bytes) -> str | None:
    """``avc1.PPCCLL`` from the first sequence parameter set (NAL type 7)."""
    position = stream.find(b"\0\0\1")
    while 0 <= position <= len(stream) - 7:
        if stream[position + 3] & 0x1F == 7:
            profile, constraints, level = stream[position + 4 : position + 7]
            return f"avc1.{profile:02x}{constraints:02x}{level:02x}"
        position = stream.find(b"\0\0\1", position + 3)
    return None


def _aac_codec(stream: bytes) -> str | None:
    """``mp4a.40.N`` from the first ADTS header (N: the audio object type)."""
    if len(stream) < 3 or stream[0] != 0xFF or stream[1] & 0xF0 != 0xF0:
        return None
    return f"mp4a.40.{((stream[2] >> 6) & 0x3) + 1}"
