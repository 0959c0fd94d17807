"""Command construction and output parsing of the FFmpeg adapters (no ffmpeg runs)."""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import pytest

from videoplatform.adapters.ffmpeg import (
    Engine,
    FfmpegConfig,
    FfmpegTranscoder,
    GpuCapability,
    GpuMode,
)
from videoplatform.adapters.ffmpeg.gpu import build_lacks
from videoplatform.adapters.ffmpeg.probe import media_info_from, parse_dump, probe_args, reaches_end
from videoplatform.adapters.ffmpeg.process import FfmpegFailed, input_args
from videoplatform.adapters.ffmpeg.stills import poster_args, storyboard_interval, storyboard_vtt
from videoplatform.adapters.ffmpeg.transcode import (
    ProgressParser,
    output_fps,
    parse_master,
    transcode_args,
    transcode_failure,
)
from videoplatform.application.ports.media import MediaRejected
from videoplatform.domain.ladder import RungSpec, plan_ladder
from videoplatform.domain.videos import FailureCode, MediaInfo

CONFIG = FfmpegConfig(binary=Path("/opt/ffmpeg/bin/ffmpeg"), threads=3, segment_seconds=4.0)
SOURCE = Path("/jobs/42/source.mp4")
OUT = Path("/jobs/42/hls")
INFO = MediaInfo(10.0, 1920, 1080, "h264", "aac", 30.0, 6_000_000, 0, "mov")
LADDER = plan_ladder(
    INFO, (RungSpec("720p", 720, 2_800_000, 128_000), RungSpec("360p", 360, 800_000, 96_000))
)


def after(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]


# --- confinement ---------------------------------------------------------------


def test_every_input_is_confined_to_files_and_allowed_demuxers() -> None:
    args = input_args(CONFIG, SOURCE, "mov")
    assert args == [
        "-protocol_whitelist", "file",
        "-format_whitelist", "mov,matroska,avi,mpegts,flv,ogg,mxf,mp3,aac,flac,wav,aiff",
        "-max_streams", "16",
        "-f", "mov",
        "-i", "file:/jobs/42/source.mp4",
    ]  # fmt: skip


@pytest.mark.parametrize("container", ["hls", "concat", "image2", "tee"])
def test_a_container_outside_the_allowlist_is_refused(container: str) -> None:
    with pytest.raises(MediaRejected, match="not allowed"):
        input_args(CONFIG, SOURCE, container)


def test_probe_decodes_the_first_frame_and_copies_the_packets_of_the_last_second() -> None:
    args = probe_args(CONFIG, SOURCE)
    assert args[:5] == [
        "/opt/ffmpeg/bin/ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "level+info"
    ]  # fmt: skip
    inputs = [i for i, a in enumerate(args) if a == "-i"]
    assert len(inputs) == 2 and [args[i + 1] for i in inputs] == [f"file:{SOURCE}"] * 2
    # Only the second input starts near the end; both are confined alike.
    assert inputs[0] < args.index("-sseof") < inputs[1] and after(args, "-sseof") == ["-1"]
    assert args.count("-protocol_whitelist") == 2 and args.count("-format_whitelist") == 2
    assert after(args, "-frames:v") == ["1"] and after(args, "-f") == ["null", "framecrc"]
    assert args[-7:] == ["-map", "1:a:0?", "-c", "copy", "-f", "framecrc", "pipe:1"]
    # From the packet nearest the window, keyframe or not: not from the last keyframe.
    assert after(args, "-seek2any") == ["1"] and args.index("-seek2any") > inputs[0]
    assert args.index("-copyinkf") > args.index("null")


WHOLE_END = """\
#tb 0: 1/12800
#tb 1: 1/48000
0,      12288,      12288,      512,     3608, 0x7172d200, F=0x0
1,      46208,      46208,     1024,      136, 0xd84f44f8
"""
CUT_END = """\
#tb 0: 1/12800
#tb 1: 1/48000
1,      -4992,      -4992,     1024,      178, 0x6b016342
0,      -1024,      -1024,      512,     2169, 0xc46b1818, F=0x2
"""


def test_packets_reaching_the_last_second_mean_a_whole_file() -> None:
    assert reaches_end(WHOLE_END, duration=2.0)
    assert not reaches_end(CUT_END, duration=2.0)
    assert not reaches_end("", duration=2.0)
    # A clip shorter than the window starts at 0: its packets end near its duration.
    assert reaches_end("#tb 0: 1/25\n0, 11, 11, 1, 100, 0x0\n", duration=0.5)
    assert not reaches_end("#tb 0: 1/25\n0, 2, 2, 1, 100, 0x0\n", duration=0.5)


# --- probe parsing -------------------------------------------------------------

ROTATED_DUMP = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/jobs/42/source.mp4':
  Metadata:
    major_brand     : isom
  Duration: 00:01:02.50, start: 0.000000, bitrate: 778 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 697 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)
    Metadata:
      handler_name    : VideoHandler
    Side data:
      Display Matrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 69 kb/s (default)
Stream mapping:
  Stream #0:0 -> #0:0 (h264 (native) -> wrapped_avframe)
"""  # noqa: E501 (ffmpeg's lines, verbatim)


def test_the_dump_gives_size_rate_rotation_codecs_and_channels() -> None:
    dump = parse_dump(ROTATED_DUMP)
    assert dump is not None
    info = media_info_from(dump, CONFIG)
    assert info == MediaInfo(
        62.5, 1920, 1080, "h264", "aac", 29.97, 778_000, 90, "mov", audio_channels=2
    )


def test_the_legacy_rotate_tag_and_older_side_data_spelling_are_read() -> None:
    legacy = ROTATED_DUMP.replace(
        "      Display Matrix: rotation of -90.00 degrees", "      rotate          : 270"
    )
    older = ROTATED_DUMP.replace(
        "Display Matrix: rotation of -90.00", "displaymatrix: rotation of 180.00"
    )
    assert [s.rotation for s in parse_dump(legacy).streams] == [270, 0]  # type: ignore[union-attr]
    assert [s.rotation for s in parse_dump(older).streams] == [180, 0]  # type: ignore[union-attr]


def test_cover_art_and_missing_audio_are_told_apart() -> None:
    dump = parse_dump(
        "Input #0, matroska,webm, from 'x':\n"
        "  Duration: 00:00:05.00, start: 0.000000, bitrate: N/A\n"
        "  Stream #0:0: Video: mjpeg (Baseline), yuvj420p, 600x600, 90k tbr, 90k tbn"
        " (attached pic)\n"
        "  Stream #0:1: Video: vp9 (Profile 0), yuv420p(tv), 853x479, SAR 1:1 DAR 853:479,"
        " 25 fps, 25 tbr, 1k tbn\n"
    )
    assert dump is not None
    info = media_info_from(dump, CONFIG)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (853, 479, "vp9", None)
    assert (info.container, info.bitrate) == ("matroska", 0)


HEAD = "Input #0, mov,mp4, from 'x':\n  Duration: "
VIDEO = "\n  Stream #0:0: Video: h264, yuv420p, "


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        ("Input #0, hls, from 'x':\n  Duration: 00:00:10.00\n", "hls format are not accepted"),
        (HEAD + "00:00:10.00\n  Stream #0:0: Subtitle: mov_text\n", "no picture or sound"),
        (HEAD + "N/A, bitrate: N/A" + VIDEO + "64x64, 25 fps\n", "duration is unknown"),
        (HEAD + "00:00:01.00" + VIDEO + "99999x64, 25 fps\n", "picture size 99999x64"),
        (HEAD + "00:00:01.00" + VIDEO + "64x64, 1000k tbr\n", "frame rate 1000000.0"),
        (HEAD + "24:00:00.00" + VIDEO + "64x64, 25 fps\n", "duration 86400s"),
    ],
)
def test_dumps_beyond_the_rules_are_refused_with_their_reason(stderr: str, reason: str) -> None:
    dump = parse_dump(stderr)
    assert dump is not None
    with pytest.raises(MediaRejected, match=reason):
        media_info_from(dump, CONFIG)


def test_a_codec_tag_is_not_mistaken_for_a_picture_size() -> None:
    dump = parse_dump(
        "Input #0, avi, from 'x':\n  Duration: 00:00:01.00\n"
        "  Stream #0:0: Video: h264 (avc1 / 0x31637661), yuv420p, 25 fps\n"
    )
    assert dump is not None and dump.streams[0].width is None
    with pytest.raises(MediaRejected, match="has no usable size"):
        media_info_from(dump, CONFIG)


def test_no_dump_means_no_media() -> None:
    assert parse_dump("Error opening input: Invalid data found when processing input\n") is None


# --- stills --------------------------------------------------------------------


def test_a_poster_seeks_before_opening_and_scales_to_an_even_height() -> None:
    portrait = MediaInfo(10.0, 1280, 720, "h264", None, 30.0, 0, 90, "mov")
    args = poster_args(CONFIG, SOURCE, portrait, 5.25, 320, Path("/jobs/42/poster.jpg"))
    assert args.index("-ss") < args.index("-i") and after(args, "-ss") == ["5.250"]
    assert after(args, "-vf") == ["scale=w=320:h=568:flags=bicubic,setsar=1,format=yuvj420p"]
    assert after(args, "-frames:v") == ["1"] and after(args, "-c:v") == ["mjpeg"]
    assert args[-1] == "file:/jobs/42/poster.jpg" and "-y" in args


@pytest.mark.parametrize(
    ("duration", "interval"), [(0.5, 2.0), (60, 2.0), (600, 6.0), (3601, 37.0), (12 * 3600, 432.0)]
)
def test_storyboards_stay_under_their_tile_budget(duration: float, interval: float) -> None:
    assert storyboard_interval(duration, CONFIG) == interval


def test_the_storyboard_index_points_each_interval_at_its_tile() -> None:
    vtt = storyboard_vtt(25.0, 10.0, 3, 2, 160, 90)
    assert vtt.splitlines() == [
        "WEBVTT", "",
        "00:00:00.000 --> 00:00:10.000", "storyboard.jpg#xywh=0,0,160,90", "",
        "00:00:10.000 --> 00:00:20.000", "storyboard.jpg#xywh=160,0,160,90", "",
        "00:00:20.000 --> 00:00:25.000", "storyboard.jpg#xywh=0,90,160,90",
    ]  # fmt: skip


# --- transcoding commands ------------------------------------------------------


def test_cpu_ladder_decodes_once_and_cascades_one_x264_branch_per_rung() -> None:
    args = transcode_args(CONFIG, SOURCE, INFO, LADDER, OUT, Engine.CPU)
    assert args.count("-i") == 1 and "-hwaccel" not in args
    assert after(args, "-filter_complex") == [
        "[0:V:0]scale=w=1280:h=720:flags=bicubic,format=yuv420p,split=2[o0][c0];"
        "[o0]setsar=1[v0];"
        "[c0]scale=w=640:h=360:flags=bicubic,setsar=1[v1]"
    ]
    assert after(args, "-map") == ["[v0]", "0:a:0", "[v1]", "0:a:0"]
    assert after(args, "-c:v:0") == after(args, "-c:v:1") == ["libx264"]
    assert after(args, "-maxrate:v:0") == ["2800000"] and after(args, "-bufsize:v:0") == ["5600000"]
    assert after(args, "-maxrate:v:1") == ["800000"]
    assert after(args, "-threads:v:0") == ["3"] and after(args, "-filter_complex_threads") == ["3"]
    # Keyframes every 4 s at 30 fps, forced on the segment grid, no scene cuts.
    assert after(args, "-g") == after(args, "-keyint_min") == ["120"]
    assert after(args, "-sc_threshold") == ["0"]
    assert after(args, "-force_key_frames") == ["expr:gte(t,n_forced*4)"]
    assert after(args, "-c:a") == ["aac"] and after(args, "-b:a:1") == ["96000"]
    assert after(args, "-var_stream_map") == ["v:0,a:0,name:720p v:1,a:1,name:360p"]
    assert after(args, "-master_pl_name") == ["master.m3u8"] and after(args, "-hls_time") == ["4"]
    assert after(args, "-hls_segment_filename") == ["/jobs/42/hls/%v/segment_%05d.ts"]
    assert after(args, "-progress") == ["pipe:1"]
    assert args[-1] == "/jobs/42/hls/%v/index.m3u8"


def test_the_cascade_goes_from_large_to_small_whatever_the_order_given() -> None:
    smallest_first = list(reversed(LADDER))
    graph = after(
        transcode_args(CONFIG, SOURCE, INFO, smallest_first, OUT, Engine.CPU), "-filter_complex"
    )
    assert graph == [
        "[0:V:0]scale=w=1280:h=720:flags=bicubic,format=yuv420p,split=2[o1][c1];"
        "[o1]setsar=1[v1];"
        "[c1]scale=w=640:h=360:flags=bicubic,setsar=1[v0]"
    ]
    single = after(
        transcode_args(CONFIG, SOURCE, INFO, LADDER[:1], OUT, Engine.CPU), "-filter_complex"
    )
    assert single == ["[0:V:0]scale=w=1280:h=720:flags=bicubic,format=yuv420p,setsar=1[v0]"]


def test_a_source_without_audio_gets_video_only_variants() -> None:
    silent = MediaInfo(10.0, 1920, 1080, "h264", None, 25.0, 0, 0, "matroska")
    args = transcode_args(CONFIG, SOURCE, silent, LADDER, OUT, Engine.CPU)
    assert after(args, "-map") == ["[v0]", "[v1]"] and "-an" in args and "-c:a" not in args
    assert after(args, "-var_stream_map") == ["v:0,name:720p v:1,name:360p"]
    assert after(args, "-f")[0] == "matroska" and after(args, "-g") == ["100"]


def test_gpu_with_nvenc_keeps_frames_on_the_gpu() -> None:
    args = transcode_args(CONFIG, SOURCE, INFO, LADDER, OUT, Engine.GPU_NVENC)
    assert args[args.index("-hwaccel") : args.index("-hwaccel") + 5] == [
        "-hwaccel", "cuda", "-hwaccel_output_format", "cuda", "-noautorotate",
    ]  # fmt: skip
    assert args.index("-hwaccel") < args.index("-i")
    assert after(args, "-filter_complex") == [
        "[0:V:0]split=2[s0][s1];"
        "[s0]scale_cuda=w=1280:h=720:format=nv12,setsar=1[v0];"
        "[s1]scale_cuda=w=640:h=360:format=nv12,setsar=1[v1]"
    ]
    assert after(args, "-c:v:0") == after(args, "-c:v:1") == ["h264_nvenc"]
    assert after(args, "-forced-idr:v:0") == ["1"] and after(args, "-maxrate:v:1") == ["800000"]
    assert "libx264" not in args and "-pix_fmt" not in args


def test_gpu_without_an_encoder_decodes_and_scales_there_then_encodes_with_x264() -> None:
    args = transcode_args(CONFIG, SOURCE, INFO, LADDER, OUT, Engine.GPU_DECODE)
    assert after(args, "-hwaccel_output_format") == ["cuda"]
    assert after(args, "-filter_complex")[0].split(";")[1] == (
        "[s0]scale_cuda=w=1280:h=720:format=nv12,hwdownload,format=nv12,setsar=1[v0]"
    )
    assert after(args, "-c:v:0") == ["libx264"] and after(args, "-pix_fmt") == ["yuv420p"]


@pytest.mark.parametrize(
    ("rotation", "direction"), [(90, "clock"), (180, "reversal"), (270, "cclock")]
)
def test_on_the_gpu_rotation_is_applied_explicitly(rotation: int, direction: str) -> None:
    rotated = MediaInfo(10.0, 1920, 1080, "h264", "aac", 30.0, 0, rotation, "mov")
    ladder = plan_ladder(rotated, (RungSpec("720p", 720, 2_800_000, 128_000),))
    graph = after(
        transcode_args(CONFIG, SOURCE, rotated, ladder, OUT, Engine.GPU_NVENC), "-filter_complex"
    )
    cpu_graph = after(
        transcode_args(CONFIG, SOURCE, rotated, ladder, OUT, Engine.CPU), "-filter_complex"
    )
    assert graph[0].startswith(f"[0:V:0]transpose_cuda=dir={direction},split=1[s0];")
    assert "transpose" not in cpu_graph[0]  # ffmpeg rotates software frames itself


def test_rung_names_must_be_safe_path_segments() -> None:
    bad = [r for r in plan_ladder(INFO, (RungSpec("../x", 360, 1, 1),))]
    with pytest.raises(ValueError, match="not usable"):
        transcode_args(CONFIG, SOURCE, INFO, bad, OUT, Engine.CPU)


# --- choosing the engine -------------------------------------------------------

NVENC = GpuCapability(True, True, "CUDA decoding and NVENC encoding work")
DECODE_ONLY = GpuCapability(True, False, "CUDA decoding works; NVENC does not")
NONE = GpuCapability(False, False, "no usable CUDA device")


@pytest.mark.parametrize(
    ("mode", "capability", "engine"),
    [
        (GpuMode.OFF, NVENC, Engine.CPU),
        (GpuMode.AUTO, NVENC, Engine.GPU_NVENC),
        (GpuMode.ON, DECODE_ONLY, Engine.GPU_DECODE),
        (GpuMode.AUTO, DECODE_ONLY, Engine.GPU_DECODE),
        (GpuMode.AUTO, NONE, Engine.CPU),
    ],
)
def test_the_engine_follows_the_mode_and_what_the_gpu_can_do(
    mode: GpuMode, capability: GpuCapability, engine: Engine
) -> None:
    config = FfmpegConfig(binary=Path("/opt/ffmpeg"), gpu=mode)
    assert FfmpegTranscoder(config, capability).engine() is engine


def test_auto_falls_back_to_the_cpu_and_logs_why(caplog: pytest.LogCaptureFixture) -> None:
    config = FfmpegConfig(binary=Path("/opt/ffmpeg"), gpu=GpuMode.AUTO)
    with caplog.at_level(logging.WARNING, logger="videoplatform.adapters.ffmpeg.transcode"):
        assert FfmpegTranscoder(config, NONE).engine() is Engine.CPU
    assert "no usable CUDA device" in caplog.text


def test_on_without_a_gpu_is_an_error_not_a_silent_fallback() -> None:
    config = FfmpegConfig(binary=Path("/opt/ffmpeg"), gpu=GpuMode.ON)
    with pytest.raises(RuntimeError, match="no usable CUDA device"):
        FfmpegTranscoder(config, NONE).engine()


def test_build_capabilities_are_read_from_ffmpeg_listings() -> None:
    hwaccels = "Hardware acceleration methods:\ncuda\nvaapi\n"
    filters = " .. scale_cuda  V->V  x\n .. transpose_cuda V->V x\n .. hwdownload V->V x\n"
    encoders = " V....D libx264  libx264 H.264\n V....D h264_nvenc  NVIDIA NVENC\n"
    assert build_lacks(hwaccels, filters, encoders) == []
    assert build_lacks("vaapi\n", " .. hwdownload V->V x\n", " V....D libx264 x\n") == [
        "the cuda hwaccel", "the scale_cuda filter", "the transpose_cuda filter",
        "the h264_nvenc encoder",
    ]  # fmt: skip


# --- progress and playlists ----------------------------------------------------


def test_progress_grows_from_out_time_and_ends_at_100() -> None:
    seen: list[int] = []
    parser = ProgressParser(10.0, seen.append)
    lines = ["frame=1", "out_time_us=0", "out_time_us=2500000", "out_time_us=N/A"]
    lines += ["out_time_us=2500000", "out_time_us=12000000", "progress=continue", "progress=end"]
    for line in lines:
        parser.feed(line)
    assert seen == [0, 25, 99, 100]


def test_the_master_playlist_is_read_back() -> None:
    master = (
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=861792,AVERAGE-BANDWIDTH=851264,RESOLUTION=240x320,"
        'CODECS="avc1.42c014,mp4a.40.2"\n'
        "720p/index.m3u8\n\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=706879,RESOLUTION=180x240\n360p/index.m3u8\n"
    )
    entries = parse_master(master)
    assert [(e.bandwidth, e.width, e.height, e.codecs, e.uri) for e in entries] == [
        (861792, 240, 320, "avc1.42c014,mp4a.40.2", "720p/index.m3u8"),
        (706879, 180, 240, "", "360p/index.m3u8"),
    ]
    with pytest.raises(ValueError):
        parse_master("#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nx.m3u8\n")


EXITED, KILLED = "ffmpeg exited with status 1", "ffmpeg was killed by signal SIGKILL"
UNREADABLE, BROKEN = "Invalid data found when processing input", "Error while decoding #0:0"


@pytest.mark.parametrize(
    ("failure", "permanent"),
    [
        # ffmpeg gave up on the input by itself: the file's fault.
        (FfmpegFailed(EXITED, errors=[UNREADABLE]), True),
        (FfmpegFailed("ffmpeg exited with status 69", errors=[BROKEN]), True),
        # Killed, out of time, or a fault of the machine: worth another attempt.
        (FfmpegFailed(KILLED, errors=[BROKEN]), False),
        (FfmpegFailed("ffmpeg ran past 60 s", timed_out=True), False),
        (FfmpegFailed(EXITED, errors=[BROKEN, "No space left on device"]), False),
        (FfmpegFailed(EXITED, errors=["Could not open file : index.m3u8"]), False),
    ],
)
def test_a_failed_transcode_is_final_only_when_the_input_does_not_decode(
    failure: FfmpegFailed, permanent: bool
) -> None:
    outcome = transcode_failure(failure)
    if permanent:
        assert isinstance(outcome, MediaRejected)
        assert outcome.code is FailureCode.CORRUPT
        assert "could not be decoded" in outcome.reason
    else:
        assert isinstance(outcome, RuntimeError)
        assert failure.reason in str(outcome)


@pytest.mark.parametrize(
    ("fps", "kept"),
    [(24.0, 24.0), (59.94, 59.94), (60.0, 60.0), (119.88, 59.94), (240.0, 60.0), (90.0, 45.0)],
)
def test_frame_rates_above_60_are_halved(fps: float, kept: float) -> None:
    assert output_fps(fps) == pytest.approx(kept)


def test_a_high_frame_rate_source_drops_every_other_frame_before_scaling() -> None:
    fast = attrs.evolve(INFO, fps=120.0)
    args = transcode_args(CONFIG, SOURCE, fast, LADDER, OUT, Engine.CPU)
    assert after(args, "-filter_complex")[0].startswith("[0:V:0]fps=fps=60,scale=w=1280")
    # The GOP is the segment's length at the kept rate: 4 s at 60 fps.
    assert after(args, "-g") == ["240"]
    gpu = transcode_args(CONFIG, SOURCE, fast, LADDER, OUT, Engine.GPU_DECODE)
    assert after(gpu, "-filter_complex")[0].startswith("[0:V:0]fps=fps=60,split=2")
    usual = transcode_args(CONFIG, SOURCE, INFO, LADDER, OUT, Engine.CPU)
    assert "fps=" not in after(usual, "-filter_complex")[0]
