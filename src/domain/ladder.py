"""Planning an adaptive-bitrate ladder: which rungs a source gets, at what size.

Pure policy shared by every transcoder: never upscale, even dimensions, rotation applied
(a phone video shot upright stays portrait), aspect ratio kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from videoplatform.domain.errors import ValidationError
from videoplatform.domain.videos import MediaInfo


@frozen
class RungSpec:
    """A wanted rung: its name and the size of its *short* side (``720`` for 720p)."""

    name: str
    height: int
    video_bitrate: int
    audio_bitrate: int


@frozen
class PlannedRung:
    spec: RungSpec
    width: int
    height: int


DEFAULT_LADDER: tuple[RungSpec, ...] = (
    RungSpec("1080p", 1080, 5_000_000, 128_000),
    RungSpec("720p", 720, 2_800_000, 128_000),
    RungSpec("480p", 480, 1_400_000, 96_000),
    RungSpec("360p", 360, 800_000, 96_000),
)


def display_size(info: MediaInfo) -> tuple[int, int]:
    """Width and height as the video is meant to be shown (rotation applied)."""
    if info.rotation % 180 == 90:
        return info.height, info.width
    return info.width, info.height


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def plan_ladder(info: MediaInfo, ladder: Sequence[RungSpec] = DEFAULT_LADDER) -> list[PlannedRung]:
    """The rungs for this source, largest first.

    A rung is kept when its short side does not exceed the source's; a source smaller
    than every rung gets one rung at its own (even) size, so nothing is ever upscaled.
    """
    if not ladder:
        raise ValidationError.field("ladder", "needs at least one rung")
    width, height = display_size(info)
    if width < 2 or height < 2:
        raise ValidationError.field("media", "picture is too small to encode")
    short, portrait = min(width, height), height > width
    rungs = sorted(ladder, key=lambda r: r.height, reverse=True)
    kept = [r for r in rungs if r.height <= short]
    if not kept:
        smallest = rungs[-1]
        kept = [
            RungSpec(
                f"{_even(short)}p", _even(short), smallest.video_bitrate, smallest.audio_bitrate
            )
        ]
    planned = []
    for spec in kept:
        scale = spec.height / short
        long_side = _even((height if portrait else width) * scale)
        short_side = _even(spec.height)
        size = (short_side, long_side) if portrait else (long_side, short_side)
        planned.append(PlannedRung(spec, *size))
    return planned
