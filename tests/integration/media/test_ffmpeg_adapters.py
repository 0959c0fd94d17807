"""The FFmpeg media adapters on real ffmpeg and tiny generated clips."""

from __future__ import annotations

import math
import os
import re
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench import clips as media_clips

from videoplatform.adapters.ffmpeg import (
    FfmpegConfig,
    FfmpegProber,
    FfmpegStoryboarder,
    FfmpegThumbnailer,
    FfmpegTranscoder,
    GpuMode,
    detect_gpu,
)
from videoplatform.adapters.ffmpeg.probe import parse_dump
from videoplatform.application.ports.media import LadderOutput, MediaRejected
from videoplatform.domain.ladder import PlannedRung, RungSpec, plan_ladder
from videoplatform.domain.videos import FailureCode, MediaInfo

CONFIG = FfmpegConfig(preset="ultrafast", segment_seconds=1.0, threads=2)
SMALL_LADDER = (
    RungSpec("180p", 180, 400_000, 64_000),
    RungSpec("120p", 120, 200_000, 48_000),
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


def probe(path: Path) -> MediaInfo:
    return FfmpegProber(CONFIG).probe(path)


# --- probing ---------------------------------------------------------------


def test_probe_reports_a_landscape_clip(clips: Path) -> None:
    info = probe(media_clips.landscape(clips))
    assert (info.width, info.height, info.rotation) == (320, 180, 0)
    assert info.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert info.fps == 25
    assert (info.video_codec, info.audio_codec, info.container) == ("h264", "aac", "mov")
    assert info.bitrate > 0


def test_probe_reads_rotation_as_clockwise_degrees(clips: Path) -> None:
    info = probe(media_clips.portrait_by_rotation(clips))
    assert (info.width, info.height, info.rotation) == (320, 180, 90)


def test_probe_keeps_odd_sizes_and_reads_matroska(clips: Path) -> None:
    info = probe(media_clips.odd_size(clips))
    assert (info.width, info.height, info.container) == (853, 479, "matroska")


def test_probe_sees_no_audio_and_short_durations(clips: Path) -> None:
    assert probe(media_clips.no_audio(clips)).audio_codec is None
    assert probe(media_clips.very_short(clips)).duration_seconds == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize(
    ("make", "reason", "code"),
    [
        (media_clips.not_media, "not a video or a sound recording", FailureCode.NOT_MEDIA),
        (media_clips.truncated, "damaged or incomplete", FailureCode.CORRUPT),
        # Before, "not a recognised video file": it is an MP4, only cut short.
        (media_clips.cut_before_index, "damaged or incomplete", FailureCode.CORRUPT),
    ],
)
def test_probe_refuses_non_media_and_truncated_files(
    clips: Path, make: media_clips.ClipMaker, reason: str, code: FailureCode
) -> None:
    with pytest.raises(MediaRejected, match=reason) as refused:
        probe(make(clips))
    assert refused.value.code is code


@pytest.mark.parametrize(
    ("limit", "reason"),
    [
        ({"max_width": 300}, "picture size 320x180 is beyond"),
        ({"max_duration_seconds": 1.0}, "duration 2s is beyond"),
        ({"max_fps": 24.0}, "frame rate 25.0"),
        ({"max_frames": 49}, "about 50 frames"),
    ],
)
def test_probe_refuses_what_is_beyond_the_limits(
    clips: Path, limit: dict[str, float], reason: str
) -> None:
    config = FfmpegConfig(**limit)  # type: ignore[arg-type]
    with pytest.raises(MediaRejected, match=reason):
        FfmpegProber(config).probe(media_clips.landscape(clips))


# --- hostile inputs: playlists posing as media -----------------------------


class Watched:
    """A local file ffmpeg must never open (a FIFO whose writer notices any reader) and
    an HTTP port that records any connection."""

    def __init__(self, directory: Path) -> None:
        self.fifo = directory / "secret.ts"
        os.mkfifo(self.fifo)
        self.file_opened = threading.Event()
        self.contacted = threading.Event()
        contacted = self.contacted

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                contacted.set()

        self.server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/segment.ts"
        self._threads = [
            threading.Thread(target=self.server.serve_forever, daemon=True),
            threading.Thread(target=self._wait_for_reader, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _wait_for_reader(self) -> None:
        with open(self.fifo, "wb"):  # blocks until someone opens the FIFO to read
            self.file_opened.set()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        # Release the writer if nobody did; it was checked before.
        fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        self._threads[1].join(timeout=5)
        os.close(fd)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    spy = Watched(tmp_path)
    yield spy
    spy.close()


def playlist(*uris: str) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:10"]
    for uri in uris:
        lines += ["#EXTINF:10.0,", uri]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def test_the_spy_notices_an_unconfined_ffmpeg_following_the_playlist(
    tmp_path: Path, watched: Watched
) -> None:
    """Control: without the adapters' confinement ffmpeg does open both, so the
    assertions of the next tests can fail."""
    source = tmp_path / "holiday.m3u8"
    source.write_text(playlist(str(watched.fifo), watched.url))
    subprocess.run(
        [
            media_clips.ffmpeg_exe(), "-hide_banner", "-nostdin",
            "-protocol_whitelist", "file,http,tcp", "-i", str(source), "-f", "null", "-",
        ],
        capture_output=True, check=False, timeout=30,
    )  # fmt: skip
    assert watched.file_opened.wait(5)
    assert watched.contacted.wait(5)


HOSTILE_NAMES = ["holiday.mp4", "holiday.ts", "holiday.m3u8", "holiday.mkv"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_playlist_posing_as_media_is_refused_and_opens_nothing(
    tmp_path: Path, watched: Watched, name: str
) -> None:
    source = tmp_path / name
    source.write_text(playlist(str(watched.fifo), "file://" + str(watched.fifo), watched.url))
    with pytest.raises(MediaRejected):
        probe(source)
    with pytest.raises(MediaRejected):
        FfmpegThumbnailer(CONFIG).poster(source, 1.0, 160, tmp_path / "poster.jpg")
    time.sleep(0.2)
    assert not watched.file_opened.is_set()
    assert not watched.contacted.is_set()


@pytest.mark.parametrize("container", ["mov", "mpegts", "hls"])
def test_later_steps_refuse_a_playlist_even_with_a_forged_probe_result(
    tmp_path: Path, watched: Watched, container: str
) -> None:
    source = tmp_path / "forged.mp4"
    source.write_text(playlist(str(watched.fifo), watched.url))
    info = MediaInfo(2.0, 320, 180, "h264", None, 25.0, 0, container=container)
    ladder = plan_ladder(info, SMALL_LADDER)
    with pytest.raises((MediaRejected, RuntimeError)):
        FfmpegStoryboarder(CONFIG).storyboard(source, info, tmp_path / "board")
    with pytest.raises((MediaRejected, RuntimeError)):
        FfmpegTranscoder(CONFIG).transcode(source, info, ladder, tmp_path / "hls", lambda _: None)
    time.sleep(0.2)
    assert not watched.file_opened.is_set()
    assert not watched.contacted.is_set()


def test_a_run_past_its_time_is_killed_with_a_reason(clips: Path, tmp_path: Path) -> None:
    source = media_clips.landscape(clips)
    info = probe(source)
    config = FfmpegConfig(preset="ultrafast", segment_seconds=1.0, timeout_seconds=0.01)
    with pytest.raises(RuntimeError, match="took too long"):
        FfmpegTranscoder(config).transcode(
            source, info, plan_ladder(info, SMALL_LADDER), tmp_path, lambda _: None
        )


# --- posters and storyboards -----------------------------------------------


def jpeg_size(path: Path) -> tuple[int, int]:
    result = subprocess.run(
        [media_clips.ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    dump = parse_dump(result.stderr)
    assert dump is not None and dump.streams[0].codec == "mjpeg"
    width, height = dump.streams[0].width, dump.streams[0].height
    assert width is not None and height is not None
    return width, height


def test_poster_is_a_jpeg_of_the_asked_width_with_rotation_applied(
    clips: Path, tmp_path: Path
) -> None:
    landscape, portrait = tmp_path / "l.jpg", tmp_path / "p.jpg"
    assert FfmpegThumbnailer(CONFIG).poster(media_clips.landscape(clips), 1, 160, landscape) == (
        "image/jpeg"
    )
    FfmpegThumbnailer(CONFIG).poster(media_clips.portrait_by_rotation(clips), 1, 90, portrait)
    assert jpeg_size(landscape) == (160, 90)
    assert jpeg_size(portrait) == (90, 160)


def test_poster_past_the_end_takes_the_last_frames(clips: Path, tmp_path: Path) -> None:
    target = tmp_path / "late.jpg"
    FfmpegThumbnailer(CONFIG).poster(media_clips.very_short(clips), 30.0, 64, target)
    assert jpeg_size(target) == (64, 48)


@pytest.fixture(scope="module")
def ten_minutes(clips: Path) -> Path:
    return media_clips.long_clip(clips, duration=600.0)


def test_a_poster_from_the_middle_of_ten_minutes_is_that_frame(
    ten_minutes: Path, tmp_path: Path
) -> None:
    # How quick it is, is measured by bench/media.py, not asserted here.
    target = tmp_path / "mid.jpg"
    FfmpegThumbnailer(CONFIG).poster(ten_minutes, 300.0, 320, target)
    assert jpeg_size(target) == (320, 180)


def test_posters_in_several_widths_come_from_one_run(clips: Path, tmp_path: Path) -> None:
    targets = [tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "c.jpg"]
    thumbnailer = FfmpegThumbnailer(CONFIG)
    portrait = media_clips.portrait_by_rotation(clips)
    assert thumbnailer.posters(portrait, 1.0, [90, 64, 32], targets) == "image/jpeg"
    assert [jpeg_size(t) for t in targets] == [(90, 160), (64, 114), (32, 56)]
    # The same frame as a single poster of that width.
    single = tmp_path / "single.jpg"
    thumbnailer.poster(portrait, 1.0, 64, single)
    assert jpeg_size(single) == jpeg_size(targets[1])


def test_storyboard_of_ten_minutes_is_bounded_and_indexed(
    ten_minutes: Path, tmp_path: Path
) -> None:
    info = probe(ten_minutes)
    board = FfmpegStoryboarder(CONFIG).storyboard(ten_minutes, info, tmp_path)
    assert board.interval_seconds == 6.0  # 600 s over at most 100 tiles
    assert (board.tile_width, board.tile_height) == (160, 90)
    assert jpeg_size(tmp_path / board.sprite) == (10 * 160, 10 * 90)
    cues = re.findall(r"(\S+) --> (\S+)\n(\S+)", (tmp_path / board.vtt).read_text())
    assert len(cues) == 100
    assert cues[0] == ("00:00:00.000", "00:00:06.000", "storyboard.jpg#xywh=0,0,160,90")
    assert cues[11][2] == "storyboard.jpg#xywh=160,90,160,90"
    assert cues[-1] == ("00:09:54.000", "00:10:00.000", "storyboard.jpg#xywh=1440,810,160,90")


def test_storyboard_of_a_portrait_clip_has_portrait_tiles(clips: Path, tmp_path: Path) -> None:
    source = media_clips.portrait_by_rotation(clips)
    board = FfmpegStoryboarder(CONFIG).storyboard(source, probe(source), tmp_path)
    assert (board.tile_width, board.tile_height) == (160, 284)
    assert jpeg_size(tmp_path / board.sprite) == (160, 284)


# --- HLS ladders -----------------------------------------------------------


def ffmpeg_report(playlist_path: Path, *extra: str) -> str:
    result = subprocess.run(
        [
            media_clips.ffmpeg_exe(), "-hide_banner", "-nostdin",
            "-protocol_whitelist", "file", *extra, "-i", str(playlist_path),
            "-vf", "showinfo", "-an", "-f", "null", "-",
        ],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return result.stderr


def keyframe_times(variant: Path) -> list[float]:
    report = ffmpeg_report(variant, "-skip_frame", "nokey")
    return [round(float(t), 2) for t in re.findall(r"pts_time:\s*([\d.]+)", report)]


def extinf(variant: Path) -> list[float]:
    return [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", variant.read_text())]


def check_ladder(
    output: LadderOutput, out_dir: Path, ladder: list[PlannedRung], info: MediaInfo
) -> None:
    assert output.master_playlist == "master.m3u8"
    master = (out_dir / "master.m3u8").read_text()
    assert [r.name for r in output.rungs] == [r.spec.name for r in ladder]
    expected_codecs = {"avc1", "mp4a"} if info.has_audio else {"avc1"}
    for rung, planned in zip(output.rungs, ladder, strict=True):
        assert (rung.width, rung.height) == (planned.width, planned.height)
        assert rung.playlist == f"{planned.spec.name}/index.m3u8"
        assert {c.split(".")[0] for c in rung.codecs.split(",")} == expected_codecs
        assert f"RESOLUTION={rung.width}x{rung.height}" in master
        assert f'CODECS="{rung.codecs}"' in master
        assert f"FRAME-RATE={info.fps:.3f}" in master
        assert rung.bandwidth > 0
        # The variant decodes at its planned size, with audio only when the source has it.
        dump = parse_dump(ffmpeg_report(out_dir / rung.playlist))
        assert dump is not None
        video = [s for s in dump.streams if s.kind == "Video"]
        audio = [s for s in dump.streams if s.kind == "Audio"]
        assert [(v.width, v.height) for v in video] == [(rung.width, rung.height)]
        assert len(audio) == (1 if info.has_audio else 0)
        # Segments last segment_seconds, but the last.
        durations = extinf(out_dir / rung.playlist)
        assert len(durations) == math.ceil(info.duration_seconds / CONFIG.segment_seconds - 0.05)
        assert all(d == pytest.approx(CONFIG.segment_seconds, abs=0.05) for d in durations[:-1])
        assert 0 < durations[-1] <= CONFIG.segment_seconds + 0.05
    # Keyframes line up across renditions, one at each segment start.
    times = [keyframe_times(out_dir / rung.playlist) for rung in output.rungs]
    assert all(t == times[0] for t in times)
    assert len(times[0]) == len(extinf(out_dir / output.rungs[0].playlist))
    # The master playlist plays: ffmpeg picks a variant and decodes it through.
    assert "pts_time" in ffmpeg_report(out_dir / "master.m3u8")


@pytest.mark.parametrize(
    "make",
    [media_clips.landscape, media_clips.portrait_by_rotation, media_clips.no_audio,
     media_clips.odd_size, media_clips.very_short, media_clips.under_half_a_second],
)  # fmt: skip
def test_transcode_writes_an_aligned_hls_ladder(
    clips: Path, tmp_path: Path, make: media_clips.ClipMaker
) -> None:
    source = make(clips)
    info = probe(source)
    ladder = plan_ladder(info, SMALL_LADDER)
    seen: list[int] = []
    output = FfmpegTranscoder(CONFIG).transcode(source, info, ladder, tmp_path, seen.append)
    check_ladder(output, tmp_path, ladder, info)
    assert seen[0] == 0 and seen[-1] == 100 and seen == sorted(seen)


def master_attributes(master: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
        for line in master.splitlines()
        if line.startswith("#EXT-X-STREAM-INF:")
    ]


def test_bandwidth_is_the_peak_segment_bit_rate_with_a_short_last_segment(
    clips: Path, tmp_path: Path
) -> None:
    # 2.2 s in 1 s segments: the last lasts 0.2 s.
    source = media_clips.clip(clips, "tail.mp4", duration=2.2)
    info = probe(source)
    output = FfmpegTranscoder(CONFIG).transcode(
        source, info, plan_ladder(info, SMALL_LADDER), tmp_path, lambda _: None
    )
    entries = master_attributes((tmp_path / "master.m3u8").read_text())
    assert len(entries) == len(output.rungs)
    for rung, entry in zip(output.rungs, entries, strict=True):
        variant = tmp_path / rung.playlist
        durations = extinf(variant)
        names = [line for line in variant.read_text().splitlines() if line.endswith(".ts")]
        sizes = [(variant.parent / name).stat().st_size for name in names]
        assert durations[-1] < 0.5
        bandwidth, average = int(entry["BANDWIDTH"]), int(entry["AVERAGE-BANDWIDTH"])
        assert rung.bandwidth == bandwidth
        # The average over the whole rendition, and a peak never below it.
        assert average == pytest.approx(sum(sizes) * 8 / sum(durations), abs=2)
        assert bandwidth >= average
        # No set of segments of about a target duration (0.5-1.5 s) goes faster.
        for start in range(len(sizes)):
            for end in range(start, len(sizes)):
                seconds = sum(durations[start : end + 1])
                if 0.5 <= seconds <= 1.5:
                    assert sum(sizes[start : end + 1]) * 8 / seconds <= bandwidth + 1


def test_a_transcode_writes_nothing_outside_its_output_folder(
    clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "current"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # ffmpeg inherits the current directory
    source = media_clips.landscape(clips)
    info = probe(source)
    FfmpegTranscoder(CONFIG).transcode(
        source, info, plan_ladder(info, SMALL_LADDER), tmp_path / "out", lambda _: None
    )
    assert list(elsewhere.iterdir()) == []


def test_a_high_frame_rate_source_is_kept_at_half_its_rate(clips: Path, tmp_path: Path) -> None:
    source = media_clips.clip(clips, "fast.mp4", duration=1.0, fps=120)
    info = probe(source)
    assert info.fps == 120
    output = FfmpegTranscoder(CONFIG).transcode(
        source, info, plan_ladder(info, SMALL_LADDER), tmp_path, lambda _: None
    )
    assert "FRAME-RATE=60.000" in (tmp_path / "master.m3u8").read_text()
    for rung in output.rungs:
        report = ffmpeg_report(tmp_path / rung.playlist)
        assert re.search(r"Video: h264.*, 60 fps", report), report
        assert len(re.findall(r"pts_time:", report)) == 60  # one second at 60 fps


def test_portrait_stays_portrait(clips: Path, tmp_path: Path) -> None:
    source = media_clips.portrait_by_rotation(clips)
    info = probe(source)
    output = FfmpegTranscoder(CONFIG).transcode(
        source, info, plan_ladder(info, SMALL_LADDER), tmp_path, lambda _: None
    )
    assert [(r.width, r.height) for r in output.rungs] == [(180, 320), (120, 214)]


def test_gpu_transcode_on_an_nvidia_gpu(clips: Path, tmp_path: Path) -> None:
    config = FfmpegConfig(preset="ultrafast", segment_seconds=1.0, gpu=GpuMode.ON)
    capability = detect_gpu(config)
    if not capability.decode:
        pytest.skip(f"no NVIDIA GPU for ffmpeg here: {capability.reason}")
    for make in (media_clips.landscape, media_clips.portrait_by_rotation):
        source = make(clips)
        info = probe(source)
        ladder = plan_ladder(info, SMALL_LADDER)
        out_dir = tmp_path / make.__name__
        output = FfmpegTranscoder(config, capability).transcode(
            source, info, ladder, out_dir, lambda _: None
        )
        check_ladder(output, out_dir, ladder, info)
