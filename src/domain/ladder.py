"""Planning an adaptive-bitrate ladder: which rungs a source gets, at what size.

Pure policy shared by every transcoder: never upscale, even dimensions, rotation applied
(a phone video shot upright stays portrait), aspect ratio kept. A source with sound and
no picture (an audio upload) gets no ladder but one audio-only rendition
(:func:`plan_audio`): nothing fakes a picture for it.
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
    audio_channels: int = 2
    """Channels of the rung's sound (transcoders of video rungs use their own setting)."""

    @property
    def audio_only(self) -> bool:
        """The rendition of an audio upload: sound, no picture (width and height 0)."""
        return self.width == 0 and self.height == 0


DEFAULT_LADDER: tuple[RungSpec, ...] = (
    RungSpec("1080p", 1080, 5_000_000, 128_000),
    RungSpec("720p", 720, 2_800_000, 128_000),
    RungSpec("480p", 480, 1_400_000, 96_000),
    RungSpec("360p", 360, 800_000, 96_000),
)


AUDIO_RUNG = "audio"
"""The name of an audio upload's one rendition (its folder and playlist)."""
STEREO_AUDIO_BITRATE = 128_000
MONO_AUDIO_BITRATE = 64_000
"""AAC-LC at 64 kb/s per channel, mono or stereo: the same quality per channel as the
ladder's top rungs, transparent for speech and near it for music."""

AUDIO_POSTER_SHAPE = (16, 9)
"""The shape of an audio upload's posters (its cover art, or a picture of its waveform,
on a canvas): the shape of the player they stand in for."""


def display_size(info: MediaInfo) -> tuple[int, int]:
    """Width and height as the video is meant to be shown (rotation applied)."""
    if info.rotation % 180 == 90:
        return info.height, info.width
    return info.width, info.height


def poster_shape(info: MediaInfo) -> tuple[int, int]:
    """Width and height whose ratio the posters keep: the picture as shown; for an
    audio upload, the canvas of :data:`AUDIO_POSTER_SHAPE`."""
    return AUDIO_POSTER_SHAPE if info.is_audio_only else display_size(info)


def poster_height(info: MediaInfo, width: int) -> int:
    """The (even) height of a poster ``width`` pixels wide."""
    shown_w, shown_h = poster_shape(info)
    return _even(width * shown_h / shown_w)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def plan_audio(info: MediaInfo) -> PlannedRung:
    """The one rendition of an audio upload: AAC-LC, mono for a mono source and stereo
    for anything else (more channels are downmixed: players and phones play two), at
    :data:`MONO_AUDIO_BITRATE` or :data:`STEREO_AUDIO_BITRATE`. ValidationError for a
    source that is not sound alone (a video gets :func:`plan_ladder`)."""
    if not info.is_audio_only:
        raise ValidationError.field("media", "is not sound alone: it gets a video ladder")
    channels = 1 if info.audio_channels == 1 else 2
    bitrate = MONO_AUDIO_BITRATE if channels == 1 else STEREO_AUDIO_BITRATE
    return PlannedRung(RungSpec(AUDIO_RUNG, 0, 0, bitrate), 0, 0, channels)


def plan_ladder(info: MediaInfo, ladder: Sequence[RungSpec] = DEFAULT_LADDER) -> list[PlannedRung]:
    """The rungs for this source, largest first.

    A rung is kept when its short side does not exceed the source's; a source smaller
    than every rung gets one rung at its own (even) size, so nothing is ever upscaled.
    A source without a picture is refused: an audio upload gets :func:`plan_audio`.
    """
    if not ladder:
        raise ValidationError.field("ladder", "needs at least one rung")
    if info.video_codec is None:
        raise ValidationError.field("media", "has no picture to encode")
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
