"""HLS measurements from the segments written (adapters/ffmpeg/hls.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoplatform.adapters.ffmpeg.hls import (
    Rendition,
    media_segments,
    peak_bit_rate,
    rendition_playlist,
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
