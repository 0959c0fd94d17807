"""What a failed ffmpeg run reports: its error-level messages, not its last line."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import clips as media_clips

from videoplatform.adapters.ffmpeg import FfmpegConfig, FfmpegThumbnailer
from videoplatform.adapters.ffmpeg.process import (
    ERROR_LINE_CHARS,
    ERROR_SUMMARY_CHARS,
    ERRORS_KEPT_FIRST,
    ERRORS_KEPT_LAST,
    STDERR_KEEP_LINES,
    FfmpegFailed,
    base_args,
    last_error_line,
    run_ffmpeg,
    untagged,
)

CONFIG = FfmpegConfig(preset="ultrafast", threads=1)
STATISTICS = ("Qavg", "frame=", "video:", "Conversion failed", "Last message repeated")

# A poster written into a folder that is not there, as ffmpeg reports it under
# ``-loglevel level+info`` (shortened, and with an encoder's closing statistic, which used
# to be reported as the cause): the cause first, unwinding and statistics after it.
FAILED_POSTER = """\
[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/jobs/42/source.mp4':
[info]   Duration: 00:00:02.00, start: 0.000000, bitrate: 130 kb/s
[info]   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 320x180, 25 fps
[image2 @ 0x5559e3dfb480] [error] Could not open file : file:/jobs/42/posters/p.jpg
[vost#0:0/mjpeg @ 0x5559e3dfbf40] [error] Error submitting a packet to the muxer: No such file or directory
[vost#0:0/mjpeg @ 0x5559e3dfbf40] [error] Error submitting a packet to the muxer: No such file or directory
[out#0/image2 @ 0x5559e3dd89c0] [error] Error muxing a packet
[out#0/image2 @ 0x5559e3dd89c0] [error] Terminating thread with return code -2 (No such file or directory)
[out#0/image2 @ 0x5559e3dd89c0] [info] video:4KiB audio:0KiB subtitle:0KiB other streams:0KiB
[mjpeg @ 0x5559e3dfc000] [info] Qavg: 315.055
[info] frame=    1 fps=0.0 q=4.0 Lsize=N/A time=00:00:00.03 bitrate=N/A speed=10.7x
[info] Conversion failed!
"""  # noqa: E501 (ffmpeg's lines)


def test_the_summary_is_the_first_error_and_the_last_not_a_statistic() -> None:
    assert last_error_line(FAILED_POSTER) == (
        "Could not open file : p.jpg … "
        "Terminating thread with return code -2 (No such file or directory)"
    )


def test_untagged_gives_back_the_report_as_ffmpeg_prints_it_by_default() -> None:
    plain = untagged(FAILED_POSTER)
    assert plain.startswith("Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/jobs/42/source.mp4':\n")
    assert "  Duration: 00:00:02.00, start" in plain
    assert "[image2 @ 0x5559e3dfb480] Could not open file" in plain
    assert "[info]" not in plain and "[error]" not in plain
    # A tag-like text that is not where ffmpeg puts the level stays.
    assert untagged("    title           : [error] x\n") == "    title           : [error] x\n"


def test_without_level_tags_the_last_line_that_reads_like_an_error_is_taken() -> None:
    assert last_error_line(untagged(FAILED_POSTER)) == (
        "Terminating thread with return code -2 (No such file or directory)"
    )
    assert last_error_line("") == "no diagnostic"


def test_ffmpeg_failing_to_write_reports_why_and_no_statistics(tmp_path: Path) -> None:
    missing = tmp_path / "not-there" / "poster.jpg"
    args = [
        *base_args(CONFIG), "-f", "lavfi", "-i", "testsrc2=size=64x36:duration=0.1",
        "-frames:v", "1", "-c:v", "mjpeg", "-f", "image2", "-update", "1", f"file:{missing}",
    ]  # fmt: skip
    with pytest.raises(FfmpegFailed) as failed:
        run_ffmpeg(args, CONFIG, timeout=30)
    failure = failed.value
    assert failure.reason.startswith("ffmpeg exited with status ")
    assert any("Could not open file" in line for line in failure.errors)
    assert "No such file or directory" in str(failure)
    assert str(failure).startswith(failure.reason + ": Could not open file")
    detail = last_error_line(failure.stderr)
    assert "Could not open file : poster.jpg" in detail and "No such file or directory" in detail
    for text in (str(failure), detail):
        assert not any(word in text for word in STATISTICS)
        assert str(tmp_path) not in text  # a reason names files, never their folders


def test_a_poster_that_cannot_be_written_says_why(tmp_path: Path) -> None:
    source = media_clips.very_short(tmp_path)
    with pytest.raises(RuntimeError, match="No such file or directory") as failed:
        FfmpegThumbnailer(CONFIG).poster(source, 0.1, 64, tmp_path / "not-there" / "p.jpg")
    assert "Could not open file" in str(failed.value)
    assert not any(word in str(failed.value) for word in STATISTICS)


def test_the_cause_is_kept_however_much_ffmpeg_writes_after_it() -> None:
    noise = STDERR_KEEP_LINES * 3
    script = (
        'echo "[image2 @ 0x1] [error] Could not open file : /jobs/7/p.jpg" >&2; '
        f'i=0; while [ $i -lt {noise} ]; do echo "[info] frame=$i" >&2; i=$((i+1)); done; '
        'echo "[fatal] Conversion failed!" >&2; exit 1'
    )
    with pytest.raises(FfmpegFailed) as failed:
        run_ffmpeg(["sh", "-c", script], CONFIG, timeout=30)
    failure = failed.value
    assert "Could not open file" not in failure.stderr  # gone from the tail kept...
    assert failure.errors == ("Could not open file : p.jpg", "Conversion failed!")  # ...not here
    assert str(failure) == (
        "ffmpeg exited with status 1: Could not open file : p.jpg; Conversion failed!"
    )


def test_what_a_failure_carries_is_bounded() -> None:
    script = (
        "i=0; while [ $i -lt 500 ]; do "
        f'echo "[h264 @ 0x1] [error] damaged macroblock $i {"x" * 2 * ERROR_LINE_CHARS}" >&2; '
        "i=$((i+1)); done; exit 1"
    )
    with pytest.raises(FfmpegFailed) as failed:
        run_ffmpeg(["sh", "-c", script], CONFIG, timeout=30)
    failure = failed.value
    kept = ERRORS_KEPT_FIRST + ERRORS_KEPT_LAST
    assert len(failure.errors) == kept + 1
    assert failure.errors[ERRORS_KEPT_FIRST] == f"({500 - kept} more)"
    assert failure.errors[0].startswith("damaged macroblock 0 ")
    assert failure.errors[-1].startswith("damaged macroblock 499 ")
    assert all(len(line) <= ERROR_LINE_CHARS for line in failure.errors)
    assert len(str(failure)) <= len(failure.reason) + 2 + ERROR_SUMMARY_CHARS
