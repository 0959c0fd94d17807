"""Media probing, thumbnails and transcoding."""

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
    height: int
    bandwidth: int
    codecs: str
    playlist: str
    """Path of the variant playlist relative to the output directory."""


@frozen
class LadderOutput:
    master_playlist: str
    rungs: tuple[RungOutput, ...]


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
        kept, rotation applied), to ``target``; return its content type."""
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
        to discard."""
        ...


@frozen
class MediaTools:
    """The media adapters processing uses, provided together (each is also a port of
    its own: an override of one reaches this too)."""

    prober: MediaProber
    thumbnailer: Thumbnailer
    storyboarder: Storyboarder
    transcoder: Transcoder
