"""HLS measurements from the segments written (adapters/ffmpeg/hls.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoplatform.adapters.ffmpeg.hls import (
    Rendition,
    first_pts,
    media_segments,
    peak_bit_rate,
    rendition_playlist,
    stream_codecs,
    timeline_start,
    write_master,
)


def test_a_short_last_segment_counts_with_the_one_before_it() -> None:
    # 1 s, 1 s, then 0.2 s: alone the last would claim 2 Mbit/s.
    durations, sizes = [1.0, 1.0, 0.2], [100_000, 100_000, 50_000]
    peak = peak_bit_rate(durations, sizes, 1)
    assert peak == 1_000_000  # (100 000 + 50 000) * 8 / 1.2
    assert peak >= sum(sizes) * 8 / sum(durations)


def test_the_peak_is_the_fastest_set_of_about_a_target_duration() -> None:
    assert peak_bit_rate([4.0, 4.0, 4.0], [100, 400, 100], 4) == 800


def test_a_rendition_shorter_than_half_the_target_is_measured_whole() -> None:
    assert peak_bit_rate([0.3], [30_000], 1) == 800_000


def test_only_the_muxers_own_segment_names_are_taken() -> None:
    text = "#EXTM3U\n#EXTINF:1.0,\nsegment_00000.ts\n#EXTINF:0.5,\nsegment_00001.ts\n"
    assert media_segments(text) == [(1.0, "segment_00000.ts"), (0.5, "segment_00001.ts")]
    for entry in ("../../etc/passwd", "http://example.com/x.ts", "segment_1.ts"):
        with pytest.raises(ValueError, match="unexpected playlist entry"):
            media_segments(f"#EXTM3U\n#EXTINF:1.0,\n{entry}\n")


def test_a_zero_target_duration_is_raised_to_one_second(tmp_path: Path) -> None:
    rung = tmp_path / "180p"
    rung.mkdir()
    (rung / "segment_00000.ts").write_bytes(b"\0" * 1000)
    (rung / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:0\n"
        "#EXTINF:0.320000,\nsegment_00000.ts\n#EXT-X-ENDLIST\n"
    )
    rendition = rendition_playlist(tmp_path, "180p/index.m3u8", 320, 180, "avc1.42c00d", 1.0)
    assert "#EXT-X-TARGETDURATION:1\n" in (rung / "index.m3u8").read_text()
    assert rendition.bandwidth == rendition.average_bandwidth == 25_000


def test_the_master_lists_each_rendition_with_both_bandwidths(tmp_path: Path) -> None:
    write_master(
        tmp_path / "master.m3u8",
        [Rendition("180p/index.m3u8", 320, 180, 700_000, 650_000, "avc1.42c00d,mp4a.40.2", 29.97)],
    )
    assert (tmp_path / "master.m3u8").read_text().splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-STREAM-INF:BANDWIDTH=700000,AVERAGE-BANDWIDTH=650000,"
        'RESOLUTION=320x180,CODECS="avc1.42c00d,mp4a.40.2",FRAME-RATE=29.970',
        "180p/index.m3u8",
    ]


def test_an_audio_only_rendition_is_listed_without_resolution_or_frame_rate(
    tmp_path: Path,
) -> None:
    write_master(
        tmp_path / "master.m3u8",
        [Rendition("audio/index.m3u8", 0, 0, 131_000, 129_500, "mp4a.40.2", 25.0)],
    )
    assert (tmp_path / "master.m3u8").read_text().splitlines()[3:] == [
        '#EXT-X-STREAM-INF:BANDWIDTH=131000,AVERAGE-BANDWIDTH=129500,CODECS="mp4a.40.2"',
        "audio/index.m3u8",
    ]


# --- reading MPEG-TS segments -------------------------------------------------------

AUDIO_PID, VIDEO_PID, PMT_PID = 0x101, 0x100, 0x1000
ADTS_LC_STEREO = bytes.fromhex("fff15080") + b"\x2e\x7f\xfc" + b"\x21" * 16


def packet(pid: int, payload: bytes, start: bool = True) -> bytes:
    head = bytes([0x47, (0x40 if start else 0) | pid >> 8, pid & 0xFF, 0x10])
    return head + payload.ljust(184, b"\xff")


def section(table: int, body: bytes) -> bytes:
    """A PSI section behind a zero pointer field (its CRC is not checked)."""
    length = len(body) + 4
    return b"\x00" + bytes([table, 0xB0 | length >> 8, length & 0xFF]) + body + b"\0\0\0\0"


def pts_field(pts: int) -> bytes:
    return bytes(
        [
            0x21 | ((pts >> 29) & 0x0E),
            (pts >> 22) & 0xFF,
            ((pts >> 14) & 0xFE) | 1,
            (pts >> 7) & 0xFF,
            ((pts << 1) & 0xFE) | 1,
        ]
    )


def pes(stream_id: int, pts: int, data: bytes) -> bytes:
    return b"\0\0\1" + bytes([stream_id, 0, 0, 0x80, 0x80, 5]) + pts_field(pts) + data


def segment(streams: dict[int, int], units: list[tuple[int, int, int, bytes]]) -> bytes:
    """PAT, PMT (``streams``: PID -> stream type), then one PES per (PID, stream id, PTS,
    data)."""
    pat = section(0x00, b"\x00\x01\xc1\x00\x00" + b"\x00\x01" + bytes([0xE0 | PMT_PID >> 8, 0]))
    entries = b"".join(
        bytes([kind, 0xE0 | pid >> 8, pid & 0xFF, 0xF0, 0x00]) for pid, kind in streams.items()
    )
    first = next(iter(streams))
    pmt = section(
        0x02, b"\x00\x01\xc1\x00\x00" + bytes([0xE0 | first >> 8, first & 0xFF, 0xF0, 0]) + entries
    )
    data = packet(0, pat) + packet(PMT_PID, pmt)
    for pid, stream_id, pts, payload in units:
        data += packet(pid, pes(stream_id, pts, payload))
    return data


def test_the_codecs_of_sound_alone_come_from_its_adts_header() -> None:
    data = segment({AUDIO_PID: 0x0F}, [(AUDIO_PID, 0xC0, 126_000, ADTS_LC_STEREO)])
    assert stream_codecs(data, picture=False) == "mp4a.40.2"
    with pytest.raises(ValueError, match=r"no H\.264"):
        stream_codecs(data)
    with pytest.raises(ValueError, match="no AAC"):
        stream_codecs(segment({AUDIO_PID: 0x0F}, [(AUDIO_PID, 0xC0, 1, b"\0" * 16)]), picture=False)


def test_the_timeline_starts_at_the_earliest_presentation_time_of_any_stream() -> None:
    sps = b"\0\0\0\1\x67\x64\x00\x1f" + b"\0" * 8
    data = segment(
        {VIDEO_PID: 0x1B, AUDIO_PID: 0x0F},
        [
            (VIDEO_PID, 0xE0, 129_003, sps),  # the first picture, shown after the sound
            (AUDIO_PID, 0xC0, 126_000, ADTS_LC_STEREO),
            (VIDEO_PID, 0xE0, 132_006, b"\0" * 8),
            (AUDIO_PID, 0xC0, 127_920, ADTS_LC_STEREO),
        ],
    )
    assert first_pts(data) == 126_000
    # Every one of the 33 bits is read.
    assert first_pts(segment({AUDIO_PID: 0x0F}, [(AUDIO_PID, 0xC0, 2**33 - 1, b"")])) == 2**33 - 1
    with pytest.raises(ValueError, match="no presentation timestamp"):
        first_pts(segment({AUDIO_PID: 0x0F}, []))


def test_the_timeline_start_is_read_from_the_first_segment_listed(tmp_path: Path) -> None:
    rung = tmp_path / "audio"
    rung.mkdir()
    (rung / "segment_00000.ts").write_bytes(
        segment({AUDIO_PID: 0x0F}, [(AUDIO_PID, 0xC0, 126_000, ADTS_LC_STEREO)])
    )
    (rung / "segment_00001.ts").write_bytes(
        segment({AUDIO_PID: 0x0F}, [(AUDIO_PID, 0xC0, 486_000, ADTS_LC_STEREO)])
    )
    (rung / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nsegment_00000.ts\n"
        "#EXTINF:1.0,\nsegment_00001.ts\n#EXT-X-ENDLIST\n"
    )
    assert timeline_start(tmp_path, "audio/index.m3u8") == 126_000
    rendition = rendition_playlist(tmp_path, "audio/index.m3u8", 0, 0, None, 4.0)
    assert (rendition.codecs, rendition.audio_only) == ("mp4a.40.2", True)
