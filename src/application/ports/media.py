"""Media probing, thumbnails, transcoding and the extraction of embedded subtitles.

A source is a video (a picture, with or without sound) or an audio upload (sound and no
picture, ``MediaInfo.is_audio_only``): the same ports serve both, an audio upload getting
one audio-only rendition, posters of its cover art or waveform, and no storyboard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from attrs import frozen

from videoplatform.domain.ladder import PlannedRung
from videoplatform.domain.videos import FailureCode, MediaInfo


class MediaRejected(Exception):
    """The input is not acceptable media, for good: no retry can change that.
    ``reason`` is shown to the owner (written for a person), ``code`` to programs."""

    def __init__(self, reason: str, code: FailureCode = FailureCode.NOT_MEDIA) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@frozen
class RungOutput:
    name: str
    width: int
    """0 (and ``height`` 0) for an audio-only rendition."""
    height: int
    bandwidth: int
    codecs: str
    playlist: str
    """Path of the variant playlist relative to the output directory."""


@frozen
class LadderOutput:
    master_playlist: str
    rungs: tuple[RungOutput, ...]
    start_pts: int
    """Where the renditions' timeline starts: the first presentation timestamp (90 kHz
    MPEG-TS ticks) of the first segment of the first rendition, as written on disk.
    Captions are mapped to it (``X-TIMESTAMP-MAP=MPEGTS:<start_pts>,LOCAL:00:00:00.000``):
    muxers do not start at 0 (ffmpeg's MPEG-TS muxer starts at 1.4 s)."""


ProgressCallback = Callable[[int], None]


class MediaProber(Protocol):
    def accepts(self, head: bytes) -> bool:
        """Whether a file starting with ``head`` (its first bytes, up to
        ``SNIFF_LENGTH``) is of a kind this prober reads: the cheap check an upload
        passes before a byte of it is stored. Passing it promises nothing about
        :meth:`probe`."""
        ...

    def probe(self, source: Path) -> MediaInfo:
        """Inspect ``source`` (opening nothing else); MediaRejected for non-media or
        inputs beyond the configured limits."""
        ...


class Thumbnailer(Protocol):
    def poster(self, source: Path, at_seconds: float, width: int, target: Path) -> str:
        """Write a still of ``source`` at ``at_seconds``, ``width`` pixels wide (aspect
        kept, rotation applied), to ``target``; return its content type.

        An audio upload has no stills: its poster is its cover art when the file has
        one, else a picture of its waveform, drawn on a canvas of the shape
        ``domain.ladder.poster_shape`` gives (``at_seconds`` does not matter)."""
        ...

    def posters(
        self, source: Path, at_seconds: float, widths: Sequence[int], targets: Sequence[Path]
    ) -> str:
        """The same still in several widths (one per target, in order) from a single
        decode; return their content type."""
        ...


@frozen
class StoryboardOutput:
    """A sprite sheet and its WebVTT index, paths relative to the output directory."""

    vtt: str
    sprite: str
    tile_width: int
    tile_height: int
    interval_seconds: float


class Storyboarder(Protocol):
    def storyboard(self, source: Path, info: MediaInfo, output_dir: Path) -> StoryboardOutput:
        """Write a sprite sheet of stills taken at regular intervals (keyframes only, no
        full decode) and a WebVTT file mapping each interval to its tile (``#xywh=``)
        under ``output_dir``. MediaRejected or RuntimeError on failure."""
        ...


class Transcoder(Protocol):
    def transcode(
        self,
        source: Path,
        info: MediaInfo,
        ladder: Sequence[PlannedRung],
        output_dir: Path,
        on_progress: ProgressCallback,
    ) -> LadderOutput:
        """Write an HLS ladder (``master.m3u8``, one playlist and its segments per rung)
        under ``output_dir``, calling ``on_progress`` with 0-100 as it goes.
        MediaRejected or RuntimeError on failure, leaving ``output_dir`` for the caller
        to discard.

        For an audio upload (``info.is_audio_only``) ``ladder`` is the one rung of
        ``domain.ladder.plan_audio``: one audio-only rendition (AAC in MPEG-TS segments
        of the usual length, width and height 0), listed without a resolution."""
        ...


SUBTITLE_MAX_BYTES = 2 * 1024 * 1024
"""The most WebVTT one extracted subtitle stream may have: hours of real dialogue are a
few hundred KiB; anything bigger is a flood (or an attack on the players), skipped."""


@frozen
class SubtitleText:
    """A text subtitle stream of the source as WebVTT (as the extractor wrote it;
    processing sanitises it)."""

    language: str  # as the source names it ("und" when it does not)
    webvtt: str


class SubtitleExtractor(Protocol):
    def extract(self, source: Path, info: MediaInfo, output_dir: Path) -> tuple[SubtitleText, ...]:
        """Each text subtitle stream of ``source`` (``info.subtitle_languages``) converted
        to WebVTT, in stream order; () when none. Large ones (over 2 MiB of WebVTT) are
        skipped with a log line.

        Files go under ``output_dir`` (job-private, made if missing) and ``source`` is
        the only file read. MediaRejected or RuntimeError when the extraction fails:
        processing then goes on without captions."""
        ...


class MediaToolCheck(Protocol):
    def version(self) -> str:
        """Run the media tool once, the quickest way it can run (``ffmpeg -version``),
        and return what it says it is: one short line, such as ``ffmpeg version 7.0.2``.
        RuntimeError with the reason, written for a person, when it cannot be found,
        fails, or has not answered within a few seconds. Nothing is remembered here:
        the caller decides how often to ask."""
        ...


@frozen
class MediaTools:
    """The media adapters processing uses, provided together (each is also a port of
    its own: an override of one reaches this too)."""

    prober: MediaProber
    thumbnailer: Thumbnailer
    storyboarder: Storyboarder
    transcoder: Transcoder
    subtitles: SubtitleExtractor


AVATAR_SIZES = (256, 64)
"""The square sizes, in pixels, an avatar is kept in."""


class AvatarMaker(Protocol):
    def avatars(self, source: Path, mime: str, targets: Sequence[Path]) -> str:
        """Write ``source`` (an image of type ``mime``: PNG, JPEG or WebP, sniffed from
        its bytes) as square pictures of the sizes of :data:`AVATAR_SIZES`, one per
        target in that order: centred, cropped to a square, with none of the source's
        metadata (camera, place, comments); return their content type. MediaRejected
        for an image it cannot read or that is too large to decode."""
        ...
