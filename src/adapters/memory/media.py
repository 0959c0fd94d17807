"""Media adapters for a documented synthetic format, so the whole processing path runs
without ffmpeg in tests and simulations.

A synthetic clip is ``VPSYNTH1\\n`` followed by one line of JSON describing the picture
(see :func:`synthetic_clip`). The prober reads and validates it like a real prober reads
a container; anything else is refused as non-media. The thumbnailer writes a real PNG of
the right size; the transcoder writes a real HLS ladder (master and variant playlists,
segment files) whose segments hold placeholder bytes instead of encoded video.

Optional keys, which older clips simply lack: ``channels`` (of the sound; 2 by default),
``subtitles`` (text subtitle streams: a language each, or ``{"language": ..., "text":
...}`` to choose the cue's text; the extractor writes them as WebVTT) and ``cover`` (an
audio clip with cover art). A clip of width and height 0 with sound is an audio upload
(:func:`synthetic_audio`): one audio-only rendition, a 16:9 poster, no storyboard.
"""

from __future__ import annotations

import json
import logging
import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from videoplatform.application.ports.media import (
    AVATAR_SIZES,
    SUBTITLE_MAX_BYTES,
    LadderOutput,
    MediaRejected,
    ProgressCallback,
    RungOutput,
    StoryboardOutput,
    SubtitleText,
)
from videoplatform.domain.ladder import PlannedRung, display_size, poster_height
from videoplatform.domain.media_types import sniff
from videoplatform.domain.videos import FailureCode, MediaInfo

log = logging.getLogger(__name__)

MAGIC = b"VPSYNTH1\n"
SEGMENT_SECONDS = 4.0
TIMELINE_START = 126_000
"""Where a synthetic ladder's timeline starts (90 kHz ticks): 1.4 s, where ffmpeg's
MPEG-TS muxer starts one, so that nothing downstream may take a start of 0 for granted."""

Subtitle = str | dict[str, str]
"""A declared subtitle stream: its language, or ``{"language": ..., "text": ...}``."""


def synthetic_clip(
    *,
    width: int = 1280,
    height: int = 720,
    duration: float = 10.0,
    fps: float = 30.0,
    audio: bool = True,
    rotation: int = 0,
    channels: int | None = None,
    subtitles: Sequence[Subtitle] = (),
    cover: bool = False,
) -> bytes:
    """The bytes of a synthetic clip with these properties (the optional keys are
    written only when given, so a clip made without them is byte for byte an old one)."""
    header: dict[str, Any] = {
        "width": width,
        "height": height,
        "duration": duration,
        "fps": fps,
        "audio": audio,
        "rotation": rotation,
    }
    if channels is not None:
        header["channels"] = channels
    if subtitles:
        header["subtitles"] = list(subtitles)
    if cover:
        header["cover"] = True
    return MAGIC + json.dumps(header).encode() + b"\n"


def synthetic_audio(
    *,
    duration: float = 10.0,
    channels: int = 2,
    cover: bool = False,
    subtitles: Sequence[Subtitle] = (),
) -> bytes:
    """A synthetic audio upload: sound and no picture (width and height 0)."""
    return synthetic_clip(
        width=0,
        height=0,
        duration=duration,
        fps=0.0,
        audio=True,
        channels=channels,
        subtitles=subtitles,
        cover=cover,
    )


def _header(source: Path) -> dict[str, Any]:
    with source.open("rb") as handle:
        head = handle.read(4096)
    if not head.startswith(MAGIC):
        raise MediaRejected("not a media file")
    try:
        header = json.loads(head[len(MAGIC) :].split(b"\n", 1)[0])
    except ValueError:
        raise MediaRejected("truncated or corrupt media header") from None
    if not isinstance(header, dict):
        raise MediaRejected("truncated or corrupt media header")
    return header


def _subtitles(header: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(language, chosen text or None) of each declared subtitle stream."""
    declared = header.get("subtitles", [])
    if not isinstance(declared, list):
        raise MediaRejected("truncated or corrupt media header")
    found: list[tuple[str, str | None]] = []
    for entry in declared:
        if isinstance(entry, str):
            found.append((entry or "und", None))
        elif isinstance(entry, dict) and isinstance(entry.get("language", "und"), str):
            text = entry.get("text")
            found.append((entry.get("language") or "und", None if text is None else str(text)))
        else:
            raise MediaRejected("truncated or corrupt media header")
    return found


class SyntheticMediaProber:
    """Reads synthetic clips; refuses non-media and absurd declarations before any work."""

    def __init__(
        self,
        max_width: int = 8192,
        max_height: int = 8192,
        max_duration_seconds: float = 12 * 3600,
        max_fps: float = 240.0,
    ) -> None:
        self._max_width = max_width
        self._max_height = max_height
        self._max_duration = max_duration_seconds
        self._max_fps = max_fps

    def accepts(self, head: bytes) -> bool:
        # Real containers and recordings too: a synthetic platform takes them, and
        # refuses them when probing, as it does any file that is not a synthetic clip.
        return head.startswith(MAGIC) or sniff(head).is_audiovisual

    def probe(self, source: Path) -> MediaInfo:
        header = _header(source)
        try:
            width, height = int(header["width"]), int(header["height"])
            duration, fps = float(header["duration"]), float(header["fps"])
            audio, rotation = bool(header["audio"]), int(header["rotation"])
            channels = int(header.get("channels", 2 if audio else 0))
        except (ValueError, KeyError, TypeError):
            raise MediaRejected("truncated or corrupt media header") from None
        languages = tuple(language for language, _ in _subtitles(header))
        if not 0 < duration <= self._max_duration:
            raise MediaRejected(f"duration {duration}s is outside the allowed limits")
        if (width, height) == (0, 0):
            if not audio:
                raise MediaRejected(
                    "The file has no picture or sound to play.", FailureCode.NO_VIDEO
                )
            return MediaInfo(
                duration_seconds=duration,
                width=0,
                height=0,
                video_codec=None,
                audio_codec="synthetic",
                fps=0.0,
                bitrate=0,
                container="synthetic",
                audio_channels=channels,
                subtitle_languages=languages,
            )
        if not (0 < width <= self._max_width and 0 < height <= self._max_height):
            raise MediaRejected(f"picture size {width}x{height} is outside the allowed limits")
        if not 0 < fps <= self._max_fps:
            raise MediaRejected(f"frame rate {fps} is outside the allowed limits")
        if rotation % 90 != 0:
            raise MediaRejected(f"rotation {rotation} is not a multiple of 90 degrees")
        return MediaInfo(
            duration_seconds=duration,
            width=width,
            height=height,
            video_codec="synthetic",
            audio_codec="synthetic" if audio else None,
            fps=fps,
            bitrate=0,
            rotation=rotation % 360,
            container="synthetic",
            audio_channels=channels if audio else 0,
            subtitle_languages=languages,
        )

    def has_cover(self, source: Path) -> bool:
        """Whether an audio clip declares cover art."""
        return bool(_header(source).get("cover", False))


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(row * height, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


COVER_RGB = (200, 40, 40)
WAVEFORM_RGB = (127, 178, 229)


class SyntheticThumbnailer:
    """Writes a solid PNG of the requested width, the clip's display aspect ratio; for
    an audio clip a 16:9 one, red for its cover art, blue for its waveform."""

    def __init__(self, prober: SyntheticMediaProber | None = None) -> None:
        self._prober = prober or SyntheticMediaProber()

    def poster(self, source: Path, at_seconds: float, width: int, target: Path) -> str:
        info = self._prober.probe(source)
        if at_seconds < 0 or width < 2:
            raise MediaRejected("invalid poster time or width")
        height = poster_height(info, width)
        if info.is_audio_only:
            colour = COVER_RGB if self._prober.has_cover(source) else WAVEFORM_RGB
        else:
            shade = int(255 * min(at_seconds, info.duration_seconds) / info.duration_seconds)
            colour = (shade, 128, 255 - shade)
        target.write_bytes(_png(width, height, colour))
        return "image/png"

    def posters(
        self, source: Path, at_seconds: float, widths: Sequence[int], targets: Sequence[Path]
    ) -> str:
        if len(widths) != len(targets) or not widths:
            raise ValueError("one target per width, at least one")
        for width, target in zip(widths, targets, strict=True):
            self.poster(source, at_seconds, width, target)
        return "image/png"


class SyntheticAvatarMaker:
    """Writes a solid grey PNG of each size: the synthetic format's avatar (it takes the
    picture's type on trust from the caller, which sniffed it)."""

    def avatars(self, source: Path, mime: str, targets: Sequence[Path]) -> str:
        if mime not in ("image/png", "image/jpeg", "image/webp"):
            raise MediaRejected("an avatar is a PNG, JPEG or WebP image")
        if not source.is_file() or source.stat().st_size == 0:
            raise MediaRejected("the image could not be read")
        for size, target in zip(AVATAR_SIZES, targets, strict=False):
            target.write_bytes(_png(size, size, (128, 128, 128)))
        return "image/png"


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


class SyntheticStoryboarder:
    """Writes a sprite PNG with one solid tile per interval and its WebVTT index."""

    def __init__(self, tile_width: int = 160, interval_seconds: float = 10.0, columns: int = 10):
        self._tile_width = tile_width
        self._interval = interval_seconds
        self._columns = columns

    def storyboard(self, source: Path, info: MediaInfo, output_dir: Path) -> StoryboardOutput:
        if not source.is_file():
            raise MediaRejected("source is missing")
        if info.is_audio_only:
            raise ValueError("an audio upload has no pictures for a storyboard")
        shown_w, shown_h = display_size(info)
        tile_w = self._tile_width
        tile_h = max(2, round(tile_w * shown_h / shown_w / 2) * 2)
        count = max(1, math.ceil(info.duration_seconds / self._interval))
        columns = min(count, self._columns)
        rows = math.ceil(count / columns)
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "storyboard.png").write_bytes(
            _png(tile_w * columns, tile_h * rows, (90, 90, 90))
        )
        cues = ["WEBVTT", ""]
        for n in range(count):
            start = n * self._interval
            end = min(info.duration_seconds, start + self._interval)
            x, y = (n % columns) * tile_w, (n // columns) * tile_h
            cues += [
                f"{_vtt_time(start)} --> {_vtt_time(end)}",
                f"storyboard.png#xywh={x},{y},{tile_w},{tile_h}",
                "",
            ]
        (output_dir / "storyboard.vtt").write_text("\n".join(cues))
        return StoryboardOutput("storyboard.vtt", "storyboard.png", tile_w, tile_h, self._interval)


class SyntheticTranscoder:
    """Writes a structurally valid HLS ladder for a synthetic clip."""

    def transcode(
        self,
        source: Path,
        info: MediaInfo,
        ladder: Sequence[PlannedRung],
        output_dir: Path,
        on_progress: ProgressCallback,
    ) -> LadderOutput:
        if not source.is_file():
            raise MediaRejected("source is missing")
        if info.is_audio_only:
            codecs = "mp4a.40.2"
        else:
            codecs = "avc1.640028,mp4a.40.2" if info.has_audio else "avc1.640028"
        count = max(1, math.ceil(info.duration_seconds / SEGMENT_SECONDS))
        rungs: list[RungOutput] = []
        on_progress(0)
        for index, rung in enumerate(ladder):
            folder = output_dir / rung.spec.name
            folder.mkdir(parents=True, exist_ok=True)
            lines = [
                "#EXTM3U",
                "#EXT-X-VERSION:3",
                f"#EXT-X-TARGETDURATION:{math.ceil(SEGMENT_SECONDS)}",
            ]
            lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
            for n in range(count):
                length = min(SEGMENT_SECONDS, info.duration_seconds - n * SEGMENT_SECONDS)
                name = f"segment_{n:05d}.ts"
                (folder / name).write_bytes(f"synthetic {rung.spec.name} {n}\n".encode())
                lines += [f"#EXTINF:{length:.3f},", name]
            lines.append("#EXT-X-ENDLIST")
            (folder / "index.m3u8").write_text("\n".join(lines) + "\n")
            video_bitrate = 0 if rung.audio_only else rung.spec.video_bitrate
            bandwidth = video_bitrate + (rung.spec.audio_bitrate if info.has_audio else 0)
            rungs.append(
                RungOutput(
                    rung.spec.name,
                    rung.width,
                    rung.height,
                    bandwidth,
                    codecs,
                    f"{rung.spec.name}/index.m3u8",
                )
            )
            on_progress(round(100 * (index + 1) / len(ladder)))
        master = ["#EXTM3U", "#EXT-X-VERSION:3"]
        for out in rungs:
            size = (
                "" if (out.width, out.height) == (0, 0) else f",RESOLUTION={out.width}x{out.height}"
            )
            master.append(
                f'#EXT-X-STREAM-INF:BANDWIDTH={out.bandwidth}{size},CODECS="{out.codecs}"'
            )
            master.append(out.playlist)
        (output_dir / "master.m3u8").write_text("\n".join(master) + "\n")
        return LadderOutput("master.m3u8", tuple(rungs), TIMELINE_START)


class SyntheticSubtitleExtractor:
    """Writes each subtitle stream a clip declares as WebVTT: one cue over the whole
    clip, its chosen text (as it is: the text is processing's to sanitise) or
    ``Subtitle <n> (<language>)``."""

    def __init__(self, prober: SyntheticMediaProber | None = None) -> None:
        self._prober = prober or SyntheticMediaProber()

    def extract(self, source: Path, info: MediaInfo, output_dir: Path) -> tuple[SubtitleText, ...]:
        if not info.subtitle_languages:
            return ()
        self._prober.probe(source)  # refuses what is not a (valid) synthetic clip
        declared = _subtitles(_header(source))
        output_dir.mkdir(parents=True, exist_ok=True)
        found = []
        for n, (language, text) in enumerate(declared):
            cue = text if text is not None else f"Subtitle {n} ({language})"
            webvtt = f"WEBVTT\n\n{_vtt_time(0)} --> {_vtt_time(info.duration_seconds)}\n{cue}\n"
            if len(webvtt.encode()) > SUBTITLE_MAX_BYTES:
                log.warning("subtitle stream %d (%s) skipped: too large", n, language)
                continue
            (output_dir / f"subtitles_{n}.vtt").write_text(webvtt)
            found.append(SubtitleText(language, webvtt))
        return tuple(found)


class SyntheticMediaCheck:
    """The synthetic format needs no tool: the check always passes, saying so."""

    def version(self) -> str:
        return "synthetic media (no ffmpeg needed)"
