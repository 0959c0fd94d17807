"""Caption tracks: language tags as players expect them, labels, cue times moved onto a
rendition timeline, and the HLS that lists tracks beside a ladder."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from videoplatform.application.playback_captions import (
    caption_language,
    on_timeline,
    subtitle_playlist,
    with_subtitles,
)
from videoplatform.domain.captions import (
    CaptionKind,
    CaptionTrack,
    clean_label,
    default_label,
    normalize_language,
    shift_cues,
)
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import CaptionId, VideoId

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def track(
    language: str, kind: CaptionKind = CaptionKind.SUBTITLES, label: str = ""
) -> CaptionTrack:
    return CaptionTrack(
        id=CaptionId(f"c-{language}"),
        video_id=VideoId("v"),
        language=language,
        label=label or default_label(language),
        kind=kind,
        storage_key=f"videos/v/captions/{language}.vtt",
        cue_count=1,
        size=10,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("eng", "en"),
        ("fre", "fr"),
        ("pt-br", "pt-BR"),
        ("zh-hant-tw", "zh-Hant-TW"),
        (" de ", "de"),
        ("und", "und"),
        ("haw", "haw"),
    ],
)
def test_language_tags_take_the_form_players_expect(raw: str, tag: str) -> None:
    assert normalize_language(raw) == tag


@pytest.mark.parametrize("raw", ["", "e", "english language", "en_US", "../en", "en-", "x" * 40])
def test_anything_else_is_not_a_language(raw: str) -> None:
    with pytest.raises(ValidationError) as refused:
        normalize_language(raw)
    assert set(refused.value.fields) == {"language"}


def test_labels_default_to_the_languages_own_name() -> None:
    assert default_label("en") == "English"
    assert default_label("pt-BR") == "Português (pt-BR)"
    assert default_label("haw") == "haw"
    assert clean_label(None, "fr") == clean_label("  ", "fr") == "Français"
    assert clean_label("  Director's   commentary ", "en") == "Director's commentary"
    for bad in ('say "hi"', "back\\slash", "x" * 81, "bell\x07"):
        with pytest.raises(ValidationError):
            clean_label(bad, "en")


def test_cues_move_onto_the_timeline_and_nothing_else_changes() -> None:
    text = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.500 align:start\n"
        "At 12:00:00.000 <00:00:01.500>karaoke\n\n"
        "00:59:59.900 --> 01:00:00.100\nLate\n"
    )
    assert shift_cues(text, 1.4) == (
        "WEBVTT\n\n00:00:02.400 --> 00:00:03.900 align:start\n"
        "At 12:00:00.000 <00:00:02.900>karaoke\n\n"
        "01:00:01.300 --> 01:00:01.500\nLate\n"
    )
    assert shift_cues(text, 0) == text


def test_on_timeline_states_the_mapping_players_read() -> None:
    served = on_timeline("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n", 126_000)
    assert served == (
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n00:00:02.400 --> 00:00:03.400\nHi\n"
    )


def test_the_master_lists_every_track_as_one_subtitles_group() -> None:
    master = (
        "#EXTM3U\n#EXT-X-VERSION:6\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.42c014"\n720p/index.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=2,CODECS="avc1.42c014"\n360p/index.m3u8\n'
    )
    listed = with_subtitles(master, [track("en", CaptionKind.CAPTIONS), track("de")])
    assert listed.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",'
        "DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,"
        'CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,'
        'public.accessibility.describes-music-and-sound",URI="captions/en.m3u8"',
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Deutsch",LANGUAGE="de",'
        'DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="captions/de.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.42c014",SUBTITLES="subs"',
        "720p/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=2,CODECS="avc1.42c014",SUBTITLES="subs"',
        "360p/index.m3u8",
    ]
    assert with_subtitles(master, []) == master
    crlf = with_subtitles(master.replace("\n", "\r\n"), [track("de")])
    assert crlf.splitlines()[-4:] == listed.splitlines()[-4:]
    assert "\r" not in crlf


def test_a_track_is_one_segment_spanning_the_video() -> None:
    assert subtitle_playlist(track("en"), 61.2) == (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:62\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:61.200,\nen.vtt\n#EXT-X-ENDLIST\n"
    )


def test_caption_paths_name_one_language() -> None:
    assert caption_language("captions/pt-BR.vtt", ".vtt") == "pt-BR"
    assert caption_language("captions/en.m3u8", ".vtt") is None
    assert caption_language("captions/a/en.vtt", ".vtt") is None
    assert caption_language("captions/.vtt", ".vtt") is None
    assert caption_language("720p/en.vtt", ".vtt") is None
