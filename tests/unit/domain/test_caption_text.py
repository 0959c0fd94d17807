"""Uploaded captions (SRT or WebVTT) become safe, canonical WebVTT, or are refused."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videoplatform.domain.caption_text import (
    MAX_CAPTION_BYTES,
    MAX_CUE_CHARS,
    MAX_CUES,
    CaptionDocument,
    parse_captions,
)
from videoplatform.domain.errors import ValidationError

CUE = "00:00:01.000 --> 00:00:02.000"  # the timing line of the one-cue documents below


def vtt(*cues: str) -> str:
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"


def one_cue(text: str) -> bytes:
    return f"WEBVTT\n\n00:01.000 --> 00:02.000\n{text}\n".encode()


def cue_text(raw: bytes) -> str:
    """The text of the only cue of ``raw``'s canonical WebVTT."""
    document = parse_captions(raw)
    assert document.cue_count == 1
    prefix = f"WEBVTT\n\n{CUE}\n"
    assert document.webvtt.startswith(prefix)
    assert document.webvtt.endswith("\n")
    return document.webvtt[len(prefix) : -1]


def refusal(raw: bytes) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_captions(raw)
    assert caught.value.code == "validation_failed"
    assert list(caught.value.fields) == ["file"]
    return caught.value.fields["file"]


# --- SRT ---------------------------------------------------------------------------------

SRT = (
    "1\n"
    "00:00:01,000 --> 00:00:04,500\n"
    "Hello there.\n"
    "Second line.\n"
    "\n"
    "2\n"
    "00:00:05,250 --> 00:00:07,000\n"
    '<font color="#ff0000">Red</font> and <i>italic</i>\n'
    "\n"
)
SRT_AS_WEBVTT = (
    "WEBVTT\n"
    "\n"
    "00:00:01.000 --> 00:00:04.500\n"
    "Hello there.\n"
    "Second line.\n"
    "\n"
    "00:00:05.250 --> 00:00:07.000\n"
    "Red and <i>italic</i>\n"
)


def test_srt_becomes_webvtt_without_counters_and_with_dot_times() -> None:
    document = parse_captions(SRT.encode())

    assert document == CaptionDocument(
        webvtt=SRT_AS_WEBVTT, cue_count=2, source_format="srt", last_end_seconds=7.0
    )


def test_srt_with_bom_and_crlf_gives_the_same_webvtt() -> None:
    raw = b"\xef\xbb\xbf" + SRT.replace("\n", "\r\n").encode()

    assert parse_captions(raw).webvtt == SRT_AS_WEBVTT


def test_srt_with_old_mac_line_endings_gives_the_same_webvtt() -> None:
    assert parse_captions(SRT.replace("\n", "\r").encode()).webvtt == SRT_AS_WEBVTT


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_read(encoding: str) -> None:
    text = SRT.replace("Hello", "Héllo ☃")
    raw = text.encode(encoding)
    if encoding != "utf-16":  # the plain codec writes its own mark
        raw = "\ufeff".encode(encoding) + raw

    assert parse_captions(raw).webvtt == SRT_AS_WEBVTT.replace("Hello", "Héllo ☃")


def test_srt_blank_lines_inside_a_cue_collapse() -> None:
    raw = b"1\n00:00:01,000 --> 00:00:02,000\nfirst\n\n\n  \nsecond\n\n\n2\n"
    raw += b"00:00:03,000 --> 00:00:04,000\nthird\n"

    assert parse_captions(raw).webvtt == vtt(
        "00:00:01.000 --> 00:00:02.000\nfirst\nsecond",
        "00:00:03.000 --> 00:00:04.000\nthird",
    )


def test_srt_counters_are_optional_and_one_digit_hours_and_dots_are_accepted() -> None:
    raw = b"0:00:01.000 --> 0:00:02.000\nno counter\n\n00:00:03,000-->00:00:04,000\nnone\n"

    assert parse_captions(raw).webvtt == vtt(
        "00:00:01.000 --> 00:00:02.000\nno counter",
        "00:00:03.000 --> 00:00:04.000\nnone",
    )


def test_srt_position_coordinates_after_the_timing_are_ignored() -> None:
    raw = b"1\n00:00:01,000 --> 00:00:02,000 X1:40 X2:600 Y1:20 Y2:50\nhi\n"

    assert cue_text(raw) == "hi"


def test_srt_styling_is_reduced_to_webvtt_markup() -> None:
    raw = (
        b"1\n00:00:01,000 --> 00:00:02,000\n"
        b'{\\an8}<FONT face="Arial"><B>Bold</B></FONT> <I>it</I> <u>under</u> <s>gone</s>\n'
    )

    assert cue_text(raw) == "<b>Bold</b> <i>it</i> <u>under</u> gone"


def test_srt_times_without_hours_are_not_srt() -> None:
    assert refusal(b"1\n00:01,000 --> 00:02,000\nhi\n") == "must be a WebVTT or SRT file"


def test_srt_broken_timing_names_its_line() -> None:
    raw = b"1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:03,000 --> 00:00:4,000\nho\n"

    assert refusal(raw) == "line 6: the cue's timing is not valid"


def test_srt_text_line_holding_an_arrow_is_refused_like_a_broken_timing() -> None:
    raw = b"1\n00:00:01,000 --> 00:00:02,000\nleft --> right\n"

    assert refusal(raw) == "line 3: the cue's timing is not valid"


# --- WebVTT ------------------------------------------------------------------------------


def test_webvtt_header_text_and_header_block_are_dropped() -> None:
    raw = b"WEBVTT - Made by hand\nKind: captions\nLanguage: en\n\n00:01.000 --> 00:02.000\nhi\n"

    document = parse_captions(raw)

    assert document == CaptionDocument(
        webvtt=vtt(f"{CUE}\nhi"), cue_count=1, source_format="webvtt", last_end_seconds=2.0
    )


def test_note_style_and_region_blocks_are_dropped() -> None:
    raw = (
        b"WEBVTT\n\n"
        b"REGION\nid:fred\nwidth:40%\n\n"
        b"STYLE\n::cue { background-image: url(https://evil.example/x.png) }\n\n"
        b"NOTE a comment\nover two lines\n\n"
        b"00:01.000 --> 00:02.000 region:fred\nhi\n\n"
        b"NOTE at the end\n"
    )

    assert parse_captions(raw).webvtt == vtt(f"{CUE}\nhi")


def test_cue_identifiers_are_kept() -> None:
    raw = b"WEBVTT\n\nintro\n00:01.000 --> 00:02.000\nhi\n\n  \n00:03.000 --> 00:04.000\nho\n"

    assert parse_captions(raw).webvtt == vtt(
        f"intro\n{CUE}\nhi",
        "00:00:03.000 --> 00:00:04.000\nho",  # a blank identifier is none
    )


def test_long_cue_identifiers_are_cut_to_100_characters() -> None:
    raw = f"WEBVTT\n\n{'x' * 150}\n00:01.000 --> 00:02.000\nhi\n".encode()

    assert parse_captions(raw).webvtt == vtt(f"{'x' * 100}\n{CUE}\nhi")


def test_valid_cue_settings_are_kept_in_canonical_order() -> None:
    raw = (
        b"WEBVTT\n\n00:01.000 --> 00:02.000 align:start size:50% region:r position:10%,line-left "
        b"line:-2,end vertical:rl\nhi\n"
    )

    assert parse_captions(raw).webvtt == vtt(
        f"{CUE} vertical:rl line:-2,end position:10%,line-left size:50% align:start\nhi"
    )


@pytest.mark.parametrize(
    "setting",
    [
        "vertical:ttb",
        "line:abc",
        "line:5,middle",
        "line:101%",
        "line:1.",
        "position:50",
        "position:120%",
        "position:50%,left",
        "size:101%",
        "size:-5%",
        "align:justify",
        "region:fred",
        "color:red",
        "align:",
        ":start",
        "align",
    ],
)
def test_invalid_cue_settings_are_dropped(setting: str) -> None:
    raw = f"WEBVTT\n\n00:01.000 --> 00:02.000 {setting}\nhi\n".encode()

    assert parse_captions(raw).webvtt == vtt(f"{CUE}\nhi")


def test_the_last_of_a_repeated_setting_wins() -> None:
    raw = b"WEBVTT\n\n00:01.000 --> 00:02.000 align:start line:10% align:end\nhi\n"

    assert parse_captions(raw).webvtt == vtt(f"{CUE} line:10% align:end\nhi")


def test_timestamps_are_written_with_hours() -> None:
    raw = b"WEBVTT\n\n59:59.999 --> 1:00:00.500\nhi\n"

    assert parse_captions(raw).webvtt == vtt("00:59:59.999 --> 01:00:00.500\nhi")


def test_a_timing_line_inside_a_cue_starts_the_next_cue() -> None:
    raw = b"WEBVTT\n\nid\n00:01.000 --> 00:02.000\none\n00:03.000 --> 00:04.000\ntwo\n"

    assert parse_captions(raw).webvtt == vtt(
        f"id\n{CUE}\none", "00:00:03.000 --> 00:00:04.000\ntwo"
    )


def test_a_block_with_two_lines_before_its_timing_loses_them() -> None:
    raw = b"WEBVTT\n\nNOTE\nstill the note\n00:01.000 --> 00:02.000\nhi\n"

    assert parse_captions(raw).webvtt == vtt(f"{CUE}\nhi")


def test_a_cue_right_after_the_signature_line_is_read() -> None:
    assert parse_captions(b"WEBVTT\n00:01.000 --> 00:02.000\nhi").webvtt == vtt(f"{CUE}\nhi")


@pytest.mark.parametrize(
    ("timing", "line"),
    [
        ("00:01.000 -> 00:02.000", None),  # no arrow: a block of text, dropped
        ("00:60.000 --> 01:02.000", 3),
        ("1:01.000 --> 00:02.000", 3),
        ("00:01.00 --> 00:02.000", 3),
        ("00:01.000 --> 00:02.0000", 3),
        ("00:01,000 --> 00:02,000", 3),
        ("hello --> world", 3),
    ],
)
def test_broken_webvtt_timings_are_refused_with_their_line(timing: str, line: int | None) -> None:
    raw = f"WEBVTT\n\n{timing}\nhi\n\n00:03.000 --> 00:04.000\nok\n".encode()

    if line is None:
        assert parse_captions(raw).cue_count == 1
    else:
        assert refusal(raw) == f"line {line}: the cue's timing is not valid"


def test_webvtt_needs_its_signature_alone_on_the_first_line() -> None:
    assert refusal(b"WEBVTTX\n\n00:01.000 --> 00:02.000\nhi\n") == "must be a WebVTT or SRT file"
    assert refusal(b"\nWEBVTT\n\n00:01.000 --> 00:02.000\nhi\n") == "must be a WebVTT or SRT file"


def test_webvtt_signature_may_be_followed_by_a_tab() -> None:
    assert parse_captions(b"WEBVTT\tx\n\n00:01.000 --> 00:02.000\nhi\n").cue_count == 1


# --- cue text ----------------------------------------------------------------------------


def test_script_tags_are_removed_and_their_text_kept() -> None:
    assert cue_text(one_cue("<script>alert(1)</script>")) == "alert(1)"


def test_html_that_could_run_is_removed() -> None:
    text = '<img src=x onerror="alert(1)"><a href="javascript:x()">click</a><br/>now'

    assert cue_text(one_cue(text)) == "clicknow"


def test_angle_brackets_and_ampersands_outside_markup_are_escaped() -> None:
    escaped = "a &lt; b &gt; c &amp; d &lt;&gt; &lt;/ &lt;1"

    assert cue_text(one_cue("a < b > c & d <> </ <1")) == escaped


def test_an_arrow_never_reaches_cue_text() -> None:
    raw = b"1\n00:00:01,000 --> 00:00:02,000\n<c.a--.$>x</c> <v Ann-- >y\n"

    assert cue_text(raw) == "<c.a-- >x</c> <v Ann-- >y</v>"


def test_removed_markup_cannot_join_pieces_into_a_tag() -> None:
    assert cue_text(one_cue("<<x>i>hi <v A<y>>")) == "&lt;i&gt;hi &lt;v A&gt;"


def test_backslashes_are_escaped_so_that_no_override_block_can_form_again() -> None:
    assert cue_text(one_cue("{<x>\\an8}C:\\dir")) == "{&#92;an8}C:&#92;dir"


def test_valid_entities_are_kept_and_others_escaped() -> None:
    text = "&amp; &lt; &gt; &lrm;&rlm;&nbsp; &#65; &#x263A; &quot;q&quot; &unknown; & &amp"

    assert cue_text(one_cue(text)) == (
        '&amp; &lt; &gt; &lrm;&rlm;&nbsp; &#65; &#x263A; "q" &amp;unknown; &amp; &amp;amp'
    )


def test_references_to_forbidden_characters_are_removed() -> None:
    assert cue_text(one_cue("a&#0;b&#x7;c&#xD800;d&#x110000;e")) == "abcde"


def test_references_to_windows_1252_controls_name_what_browsers_show() -> None:
    assert cue_text(one_cue("a&#150;b&#x93;c&#x81;d")) == "a&#8211;b&#8220;cd"


def test_control_characters_are_removed() -> None:
    assert cue_text(one_cue("a\x00b\x07c\x1bd\x7fe\x85f\tg")) == "abcdef\tg"


def test_unclosed_tags_are_closed_at_the_end_of_the_cue() -> None:
    assert cue_text(one_cue("<i>one\n<b>two")) == "<i>one\n<b>two</b></i>"


def test_stray_and_misnested_end_tags_are_dropped() -> None:
    assert cue_text(one_cue("x</b> <b><i>y</b>z</i>")) == "x <b><i>yz</i></b>"


def test_classes_annotations_and_ruby_follow_webvtt() -> None:
    text = (
        "<c.yellow.bad$.bg_1>a</c> <v.loud Mary  Jane>b</v> <lang en-GB>c</lang> "
        "<i.x extra>d</i> <ruby>漢<rt>kan</ruby><rt>e</rt>"
    )

    assert cue_text(one_cue(text)) == (
        "<c.yellow.bg_1>a</c> <v.loud Mary Jane>b</v> <lang en-GB>c</lang> "
        "<i.x>d</i> <ruby>漢<rt>kan</rt></ruby>e"
    )


def test_voice_without_a_name_and_bad_languages_are_dropped() -> None:
    assert cue_text(one_cue("<v>a</v> <lang>b</lang> <lang en_!>c</lang>")) == "a b c"


def test_voice_names_are_escaped() -> None:
    assert cue_text(one_cue("<v Tom & Jerry &amp; co>hi")) == "<v Tom &amp; Jerry &amp; co>hi</v>"


def test_inner_timestamps_are_kept_with_hours() -> None:
    assert cue_text(one_cue("a <00:01.500>b <1:00:00.000>c <99:99.999>d")) == (
        "a <00:00:01.500>b <01:00:00.000>c d"
    )


def test_a_cue_with_nothing_visible_is_dropped() -> None:
    raw = vtt("00:01.000 --> 00:02.000\n<i></i> {\\an8}", "00:03.000 --> 00:04.000\nkept")

    assert parse_captions(raw.encode()).webvtt == vtt("00:00:03.000 --> 00:00:04.000\nkept")


def test_lines_left_empty_by_removed_markup_are_dropped() -> None:
    assert cue_text(one_cue("one\n<font>\n  \ntwo")) == "one\ntwo"


def test_long_cues_are_cut_outside_markup_with_tags_closed() -> None:
    assert cue_text(one_cue("a" * 1500)) == "a" * MAX_CUE_CHARS
    assert cue_text(one_cue("<i>" + "a" * 2000)) == "<i>" + "a" * 993 + "</i>"
    assert cue_text(one_cue("&" * 300)) == "&amp;" * 200
    assert cue_text(one_cue("x" + "&" * 300)) == "x" + "&amp;" * 199
    assert cue_text(one_cue("a" * 997 + "&lt;b")) == "a" * 997


# --- timing ------------------------------------------------------------------------------


def test_cues_are_sorted_by_start_keeping_the_order_of_equal_starts() -> None:
    raw = vtt(
        "00:05.000 --> 00:06.000\nlast",
        "00:01.000 --> 00:03.000\nfirst",
        "00:01.000 --> 00:02.000\nsecond",
    )

    document = parse_captions(raw.encode())

    assert document.webvtt == vtt(
        "00:00:01.000 --> 00:00:03.000\nfirst",
        "00:00:01.000 --> 00:00:02.000\nsecond",
        "00:00:05.000 --> 00:00:06.000\nlast",
    )
    assert document.last_end_seconds == 6.0


def test_cues_that_do_not_end_after_they_start_are_dropped() -> None:
    raw = vtt(
        "00:02.000 --> 00:02.000\nzero",
        "00:03.000 --> 00:02.000\nbackwards",
        "00:01.000 --> 00:01.001\nshort",
    )

    document = parse_captions(raw.encode())

    assert document.webvtt == vtt("00:00:01.000 --> 00:00:01.001\nshort")
    assert document.cue_count == 1
    assert document.last_end_seconds == 1.001


def test_a_file_whose_cues_are_all_dropped_has_no_captions() -> None:
    raw = vtt("00:02.000 --> 00:01.000\nbackwards", "00:03.000 --> 00:04.000\n<b></b>")

    assert refusal(raw.encode()) == "has no captions"
    assert refusal(b"WEBVTT\n\nNOTE nothing here\n") == "has no captions"
    assert refusal(b"WEBVTT") == "has no captions"


def test_cues_may_end_at_24_hours_but_not_later() -> None:
    ok = vtt("23:59:59.000 --> 24:00:00.000\nmidnight")
    late = vtt("00:01.000 --> 00:02.000\nfine", "23:59:59.000 --> 24:00:00.001\nlate")

    assert parse_captions(ok.encode()).last_end_seconds == 24 * 3600
    assert refusal(late.encode()) == "line 6: the cue is timed past 24 hours"
    assert refusal(b"1\n99:00:00,000 --> 99:00:01,000\nx\n") == (
        "line 2: the cue is timed past 24 hours"
    )


# --- limits and garbage ------------------------------------------------------------------


def test_as_many_cues_as_allowed_are_accepted_and_one_more_is_refused() -> None:
    block = "00:01.000 --> 00:02.000\nx\n\n"

    assert parse_captions(("WEBVTT\n\n" + block * MAX_CUES).encode()).cue_count == MAX_CUES
    assert refusal(("WEBVTT\n\n" + block * (MAX_CUES + 1)).encode()) == ("has more than 20000 cues")


def test_an_upload_of_the_maximum_size_is_read_and_a_larger_one_refused() -> None:
    head = b"WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n\nNOTE "
    padded = head + b"x" * (MAX_CAPTION_BYTES - len(head))

    assert parse_captions(padded).cue_count == 1
    assert refusal(padded + b"x") == "is larger than 2 MiB"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \n\n",
        b"hello world\n",
        b"<html><script>alert(1)</script></html>",
        b"\x00" * 64,
        b"[Script Info]\nTitle: an ASS file\n",
        b"1\nnot a timing\nhi\n",
    ],
)
def test_what_is_neither_webvtt_nor_srt_is_refused(raw: bytes) -> None:
    assert refusal(raw) == "must be a WebVTT or SRT file"


@pytest.mark.parametrize(
    "raw",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"WEBVTT\n\n00:01.000 --> 00:02.000\ncaf\xe9\n",  # Latin-1
        b"\xff\xfeW\x00E\x00B",  # UTF-16 cut in the middle of a character
        b"\xff\xfe\x00\xd8",  # a lone surrogate
    ],
)
def test_binary_and_undecodable_uploads_are_refused(raw: bytes) -> None:
    assert refusal(raw) == "must be UTF-8 text (or UTF-16 with a byte order mark)"


HOSTILE = {
    "angle brackets": b"<" * MAX_CAPTION_BYTES,
    "arrows": b"-->" * (MAX_CAPTION_BYTES // 3),
    "webvtt arrows": b"WEBVTT\n\n" + b"-->" * ((MAX_CAPTION_BYTES - 8) // 3),
    "cue of angle brackets": one_cue("<" * (MAX_CAPTION_BYTES - 40)),
    "cue of unclosed tags": one_cue("<a" * (MAX_CAPTION_BYTES // 2 - 20)),
    "cue of one open tag": one_cue("<" + "a" * (MAX_CAPTION_BYTES - 40)),
    "cue of removed tags": one_cue("<x>" * (MAX_CAPTION_BYTES // 3 - 20)),
    "cue of stray end tags": one_cue("</i>" * (MAX_CAPTION_BYTES // 4 - 10)),
    "cue of misplaced ruby text": one_cue("<rt>" * (MAX_CAPTION_BYTES // 4 - 10)),
    "cue of ampersands": one_cue("&" * (MAX_CAPTION_BYTES - 40)),
    "cue of bad references": one_cue("&#0;" * (MAX_CAPTION_BYTES // 4 - 10)),
    "cue of override openings": one_cue("{\\" * (MAX_CAPTION_BYTES // 2 - 20)),
    "cue of classes": one_cue("<c" + ".a" * (MAX_CAPTION_BYTES // 2 - 20) + ">"),
    "settings": ("WEBVTT\n\n00:01.000 --> 00:02.000" + " line:0" * 299_000 + "\nx").encode(),
    "hour digits": (
        "WEBVTT\n\n" + "9" * (MAX_CAPTION_BYTES - 40) + ":00:00.000 --> 00:01.000"
    ).encode(),
    "empty cues": b"WEBVTT\n\n" + b"00:00.000 --> 00:00.001\n\n" * 83_000,
    "blank lines": b"WEBVTT\n" + b"\n" * (MAX_CAPTION_BYTES - 7),
    "srt lines": b"1\n00:00:00,000 --> 00:00:01,000\n" + b"1\n \n" * 500_000,
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_uploads_are_parsed_or_refused_quickly(raw: bytes) -> None:
    assert len(raw) <= MAX_CAPTION_BYTES
    started = time.perf_counter()
    try:
        document = parse_captions(raw)
    except ValidationError:
        pass
    else:
        assert len(document.webvtt) < 1_500_000
    assert time.perf_counter() - started < 2.0  # a guard against blow-ups, not a benchmark


# --- what every output is -----------------------------------------------------------------

TIMING_LINE = re.compile(r"\d\d:\d\d:\d\d\.\d\d\d --> \d\d:\d\d:\d\d\.\d\d\d( .*)?")
ALLOWED_TAG = re.compile(
    r"</?(c|i|b|u|ruby|rt|v|lang)(\.[A-Za-z0-9_-]+)*( [^<>]*)?>|<\d\d:\d\d:\d\d\.\d\d\d>"
)
PIECES = st.sampled_from(
    ["<", ">", "&", "/", "{\\", "}", ".", " ", "\n", "-", "--", ";", "#", "0", "1", ":",
     "a", "i", "b", "v", "c", "u", "rt", "ruby", "lang", "amp", "lt", "x", "é", "\x00", "\r",
     "<i>", "</i>", "<b>", "</b>", "<v A>", "</v>", "<c.x>", "</c>", "<ruby>", "</ruby>",
     "<rt>", "</rt>", "<lang en>", "<00:01.500>", "<font>", "&amp;", "&#65;", "&quot;"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=60).map("".join))
def test_any_cue_text_becomes_markup_webvtt_reads_back_unchanged(text: str) -> None:
    raw = f"WEBVTT\n\n00:01.000 --> 00:02.000\n{text}\n".encode()
    try:
        document = parse_captions(raw)
    except ValidationError as refused:  # a line holding "-->", or nothing visible
        problem = refused.fields["file"]
        assert problem == "has no captions" or problem.endswith(
            ("the cue's timing is not valid", "the cue is timed past 24 hours")
        )
        return

    assert parse_captions(document.webvtt.encode()) == document
    blocks = document.webvtt.split("\n\n")
    assert blocks[0] == "WEBVTT"
    for block in blocks[1:]:
        lines = block.rstrip("\n").split("\n")
        if not TIMING_LINE.fullmatch(lines[0]):  # an identifier first
            assert lines[0].strip() and "-->" not in lines.pop(0)
        assert TIMING_LINE.fullmatch(lines.pop(0))
        for line in lines:
            assert line.strip(" \t") and "-->" not in line and "\x00" not in line
            assert not set("<>") & set(ALLOWED_TAG.sub("", line))


def test_a_voice_name_cannot_pass_for_attributes_in_an_html_player() -> None:
    document = parse_captions(
        b"WEBVTT\n\n00:01.000 --> 00:02.000\n"
        b'<v x onmouseover=alert(1) style="position:fixed">hi</v> '
        b"<v Tom &quot;T&quot; O'Brien &amp; co>x</v> <v &#x110000;>y</v>\n"
    )
    assert document.webvtt == (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n"
        "<v x onmouseoveralert(1) styleposition:fixed>hi</v> "
        "<v Tom T O'Brien &amp; co>x</v> y\n"
    )
    assert parse_captions(document.webvtt.encode()) == document


def test_cue_identifiers_carry_no_markup_entities_or_timestamps() -> None:
    document = parse_captions(b"WEBVTT\n\n<00:00:01.000> & <b>id\n00:01.000 --> 00:02.000\nText\n")
    assert document.webvtt == "WEBVTT\n\n00:00:01.000  bid\n00:00:01.000 --> 00:00:02.000\nText\n"


def test_what_escaping_would_blow_up_is_refused() -> None:
    cue = "<" * 250
    body = "".join(
        f"{n}\n00:00:{n // 1000 % 60:02d},{n % 1000:03d} --> 00:01:00,000\n{cue}\n\n"
        for n in range(7_000)
    )
    assert len(body.encode()) < 2 * 1024 * 1024
    with pytest.raises(ValidationError) as refused:
        parse_captions(body.encode())
    assert refused.value.fields == {"file": "is larger than 4 MiB once converted"}
