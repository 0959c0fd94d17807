"""Media probing, thumbnails and transcoding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from attrs import frozen

from domain.videos import MediaInfo


class MediaRejected(Exception):
    """The input is not acceptable media; ``reason`` is shown to the owner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@frozen
class RungSpec:
    name: str
    height: int
    video_bitrate: int
    audio_bitrate: int


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
    def probe(self, source: Path) -> MediaInfo:
        """Inspect ``source`` (opening nothing else); MediaRejected for non-media or
        inputs beyond the configured limits."""
        ...


class Thumbnailer(Protocol):
    def poster(self, source: Path, at_seconds: float, width: int, target: Path) -> None:
        """Write a JPEG poster of ``source`` at ``at_seconds`` scaled to ``width``."""
        ...


class Transcoder(Protocol):
    def transcode(
        self,
        source: Path,
        info: MediaInfo,
        ladder: Sequence[RungSpec],
        output_dir: Path,
        on_progress: ProgressCallback,
    ) -> LadderOutput:
        """Write an HLS ladder under ``output_dir``; MediaRejected or RuntimeError on
        failure, leaving ``output_dir`` for the caller to discard."""
        ...
