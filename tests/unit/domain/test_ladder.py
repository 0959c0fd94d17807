"""Ladder planning: never upscale, even sizes, rotation applied, portrait kept portrait."""

from __future__ import annotations

import pytest

from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ladder import (
    AUDIO_RUNG,
    DEFAULT_LADDER,
    RungSpec,
    display_size,
    plan_audio,
    plan_ladder,
    poster_height,
    poster_shape,
)
from videoplatform.domain.videos import MediaInfo


def clip(width: int, height: int, rotation: int = 0) -> MediaInfo:
    return MediaInfo(
        duration_seconds=10.0,
        width=width,
        height=height,
        video_codec="h264",
        audio_codec="aac",
        fps=30.0,
        bitrate=8_000_000,
        rotation=rotation,
    )


def sizes(info: MediaInfo) -> list[tuple[str, int, int]]:
    return [(r.spec.name, r.width, r.height) for r in plan_ladder(info)]


def test_a_1080p_source_gets_the_whole_default_ladder() -> None:
    assert sizes(clip(1920, 1080)) == [
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("480p", 854, 480),
        ("360p", 640, 360),
    ]


def test_rungs_above_the_source_are_dropped_never_upscaled() -> None:
    assert [name for name, _, _ in sizes(clip(1280, 720))] == ["720p", "480p", "360p"]


def test_a_source_smaller_than_every_rung_gets_one_rung_at_its_own_even_size() -> None:
    assert sizes(clip(321, 241)) == [("240p", 320, 240)]


def test_rotation_metadata_turns_a_landscape_stream_into_a_portrait_ladder() -> None:
    info = clip(1920, 1080, rotation=90)
    assert display_size(info) == (1080, 1920)
    assert sizes(info)[0] == ("1080p", 1080, 1920)
    assert all(h > w for _, w, h in sizes(info))


def test_odd_source_sizes_give_even_dimensions_everywhere() -> None:
    for _, width, height in sizes(clip(1919, 1077)):
        assert width % 2 == 0
        assert height % 2 == 0


def test_aspect_ratio_is_kept_within_rounding() -> None:
    for _, width, height in sizes(clip(1440, 1080)):
        assert abs(width / height - 4 / 3) < 0.01


def test_a_custom_ladder_is_honoured_and_ordered_largest_first() -> None:
    ladder = [RungSpec("low", 240, 300_000, 64_000), RungSpec("mid", 480, 900_000, 96_000)]
    planned = plan_ladder(clip(1280, 720), ladder)
    assert [r.spec.name for r in planned] == ["mid", "low"]


def test_an_empty_ladder_is_refused() -> None:
    with pytest.raises(ValidationError):
        plan_ladder(clip(1280, 720), [])


def test_default_ladder_is_1080_720_480_360() -> None:
    assert [r.height for r in DEFAULT_LADDER] == [1080, 720, 480, 360]


# -- audio uploads ------------------------------------------------------------------------


def sound(channels: int) -> MediaInfo:
    return MediaInfo(180.0, 0, 0, None, "mp3", 0.0, 128_000, audio_channels=channels)


@pytest.mark.parametrize(
    ("channels", "kept", "bitrate"),
    [(1, 1, 64_000), (2, 2, 128_000), (6, 2, 128_000), (8, 2, 128_000), (0, 2, 128_000)],
)
def test_sound_alone_gets_one_audio_rendition_mono_kept_more_channels_downmixed(
    channels: int, kept: int, bitrate: int
) -> None:
    rung = plan_audio(sound(channels))
    assert (rung.spec.name, rung.width, rung.height) == (AUDIO_RUNG, 0, 0)
    assert rung.audio_only and (rung.audio_channels, rung.spec.audio_bitrate) == (kept, bitrate)
    assert rung.spec.video_bitrate == 0


def test_a_source_without_a_picture_gets_no_ladder_and_a_video_no_audio_rendition() -> None:
    with pytest.raises(ValidationError, match="media"):
        plan_ladder(sound(2))
    with pytest.raises(ValidationError, match="media"):
        plan_audio(clip(1280, 720))
    assert not any(r.audio_only for r in plan_ladder(clip(1280, 720)))


def test_posters_of_sound_are_16_9_and_of_a_video_its_shape_as_shown() -> None:
    assert poster_shape(sound(2)) == (16, 9)
    assert poster_height(sound(1), 1280) == 720
    assert poster_height(sound(2), 320) == 180
    assert poster_shape(clip(1920, 1080, rotation=90)) == (1080, 1920)
    assert poster_height(clip(1920, 1080, rotation=90), 90) == 160
