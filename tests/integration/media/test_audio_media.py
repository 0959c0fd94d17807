"""Audio uploads and embedded subtitles on real ffmpeg: sound recordings are probed,
become one audio-only HLS rendition with posters of their cover art or waveform, and the
text subtitle streams of videos come out as WebVTT."""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from bench import clips as media_clips

from tests.integration.media import sound_clips
from tests.integration.media.test_ffmpeg_adapters import Watched, playlist
from videoplatform.adapters.ffmpeg import (
    FfmpegConfig,
    FfmpegProber,
    FfmpegStoryboarder,
    FfmpegSubtitleExtractor,
    FfmpegThumbnailer,
    FfmpegTranscoder,
    GpuCapability,
    GpuMode,
)
from videoplatform.adapters.ffmpeg.probe import parse_dump
from videoplatform.adapters.ffmpeg.stills import CANVAS_COLOUR, WAVEFORM_COLOUR
from videoplatform.application.ports.media import (
    SUBTITLE_MAX_BYTES,
    LadderOutput,
    MediaRejected,
)
from videoplatform.domain.ladder import RungSpec, plan_audio, plan_ladder
from videoplatform.domain.media_types import SNIFF_LENGTH
from videoplatform.domain.videos import FailureCode, MediaInfo

CONFIG = FfmpegConfig(preset="ultrafast", segment_seconds=1.0, threads=2)
SMALL_LADDER = (RungSpec("180p", 180, 400_000, 64_000),)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sound")


def probe(path: Path, config: FfmpegConfig = CONFIG) -> MediaInfo:
    return FfmpegProber(config).probe(path)


def ffmpeg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [media_clips.ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def report(path: Path) -> str:
    """ffmpeg's report of a file (or an HLS playlist), opened with files only."""
    return ffmpeg("-protocol_whitelist", "file", "-i", str(path)).stderr


def transcode(source: Path, out: Path, config: FfmpegConfig = CONFIG) -> LadderOutput:
    info = probe(source, config)
    return FfmpegTranscoder(config).transcode(source, info, [plan_audio(info)], out, lambda _: None)


# --- probing sound ---------------------------------------------------------------

RECORDINGS: dict[str, tuple[Callable[[Path], Path], str, str, int]] = {
    "mp3 with id3": (sound_clips.mp3, "mp3", "mp3", 2),
    "mp3, bare frames": (lambda d: sound_clips.mp3(d, id3=False), "mp3", "mp3", 2),
    "m4a": (sound_clips.m4a, "mov", "aac", 2),
    "flac": (sound_clips.flac, "flac", "flac", 2),
    "wav, mono": (lambda d: sound_clips.wav(d, channels=1), "wav", "pcm_s16le", 1),
    "ogg vorbis": (sound_clips.ogg_vorbis, "ogg", "vorbis", 2),
    "ogg opus": (sound_clips.ogg_opus, "ogg", "opus", 2),
    "adts aac": (sound_clips.adts_aac, "aac", "aac", 2),
    "aiff": (sound_clips.aiff, "aiff", "pcm_s16be", 2),
    "5.1 aac": (sound_clips.surround, "mov", "aac", 6),
    "sound alone in an mp4": (sound_clips.sound_in_mp4, "mov", "aac", 2),
}


@pytest.mark.parametrize(
    ("make", "container", "codec", "channels"), RECORDINGS.values(), ids=RECORDINGS.keys()
)
def test_every_common_recording_is_taken_and_probed_as_sound_alone(
    clips: Path, make: Callable[[Path], Path], container: str, codec: str, channels: int
) -> None:
    source = make(clips)
    prober = FfmpegProber(CONFIG)
    assert prober.accepts(source.read_bytes()[:SNIFF_LENGTH])
    info = prober.probe(source)  # whole files are not taken for truncated ones
    assert info.is_audio_only
    assert (info.width, info.height, info.fps, info.video_codec) == (0, 0, 0.0, None)
    assert (info.container, info.audio_codec, info.audio_channels) == (container, codec, channels)
    # Raw ADTS has no index: ffmpeg estimates its duration from the bit rate.
    assert info.duration_seconds == pytest.approx(3.0, abs=0.2 if container == "aac" else 0.1)


def test_cover_art_is_not_a_picture(clips: Path) -> None:
    info = probe(sound_clips.mp3_with_cover(clips))
    assert info.is_audio_only and info.audio_codec == "mp3"


@pytest.mark.parametrize(
    "make", [sound_clips.flac, sound_clips.wav, sound_clips.m4a], ids=["flac", "wav", "m4a"]
)
def test_a_recording_cut_short_is_refused_as_incomplete(
    clips: Path, tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    whole = make(clips).read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MediaRejected, match="damaged or incomplete") as refused:
        probe(cut)
    assert refused.value.code is FailureCode.CORRUPT


def test_a_recording_longer_than_the_limit_is_refused(clips: Path) -> None:
    limited = attrs.evolve(CONFIG, max_duration_seconds=2.0)
    with pytest.raises(MediaRejected, match="duration 3s is beyond") as refused:
        probe(sound_clips.flac(clips), limited)
    assert refused.value.code is FailureCode.BEYOND_LIMITS


def test_a_file_with_neither_picture_nor_sound_is_refused(clips: Path, tmp_path: Path) -> None:
    subtitles = sound_clips.srt(tmp_path, "only.srt", ["Nothing else"])
    only_text = tmp_path / "only-text.mkv"
    sound_clips.run(["-i", str(subtitles), "-c:s", "srt", str(only_text)])
    with pytest.raises(MediaRejected, match="no picture or sound") as refused:
        probe(only_text)
    assert refused.value.code is FailureCode.NO_VIDEO


# --- the audio-only rendition ------------------------------------------------------


def stream_attributes(master: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
        for line in master.splitlines()
        if line.startswith("#EXT-X-STREAM-INF:")
    ]


def test_a_recording_becomes_one_audio_only_variant_measured_from_its_segments(
    clips: Path, tmp_path: Path
) -> None:
    source = sound_clips.mp3_with_cover(clips, duration=3.5)
    seen: list[int] = []
    info = probe(source)
    output = FfmpegTranscoder(CONFIG).transcode(
        source, info, [plan_audio(info)], tmp_path, seen.append
    )
    assert seen[0] == 0 and seen[-1] == 100 and seen == sorted(seen)
    assert [(r.name, r.width, r.height, r.codecs) for r in output.rungs] == [
        ("audio", 0, 0, "mp4a.40.2")
    ]
    master = (tmp_path / output.master_playlist).read_text()
    (entry,) = stream_attributes(master)
    assert entry["CODECS"] == '"mp4a.40.2"'
    assert "RESOLUTION" not in entry and "FRAME-RATE" not in entry
    variant = tmp_path / output.rungs[0].playlist
    durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", variant.read_text())]
    names = re.findall(r"^(segment_\d+\.ts)$", variant.read_text(), re.MULTILINE)
    sizes = [(variant.parent / name).stat().st_size for name in names]
    assert sum(durations) == pytest.approx(3.5, abs=0.1)
    assert all(d == pytest.approx(1.0, abs=0.05) for d in durations[:-1])
    average, peak = int(entry["AVERAGE-BANDWIDTH"]), int(entry["BANDWIDTH"])
    assert average == pytest.approx(sum(sizes) * 8 / sum(durations), abs=2)
    assert peak >= average > 100_000  # 128 kb/s AAC in MPEG-TS
    assert output.rungs[0].bandwidth == peak
    # Sound alone, decodable through the master (the cover art is not in it).
    played = report(tmp_path / output.master_playlist)
    dump = parse_dump(played)
    assert dump is not None and [s.kind for s in dump.streams] == ["Audio"]
    assert dump.streams[0].codec == "aac"


def segment_channels(variant: Path) -> set[int]:
    """The channels of every segment a variant lists, as ffmpeg reads them."""
    names = re.findall(r"^(segment_\d+\.ts)$", variant.read_text(), re.MULTILINE)
    found = set()
    for name in names:
        dump = parse_dump(report(variant.parent / name))
        assert dump is not None
        found |= {s.channels for s in dump.streams if s.kind == "Audio"}
    return found


@pytest.mark.parametrize(
    ("make", "channels"),
    [
        (lambda d: sound_clips.wav(d, channels=1), 1),
        (sound_clips.flac, 2),
        (sound_clips.surround, 2),
    ],
    ids=["mono stays mono", "stereo stays stereo", "5.1 is downmixed"],
)
def test_channels_mono_kept_and_surround_downmixed(
    clips: Path, tmp_path: Path, make: Callable[[Path], Path], channels: int
) -> None:
    output = transcode(make(clips), tmp_path)
    assert segment_channels(tmp_path / output.rungs[0].playlist) == {channels}


def integrated_loudness(playlist_path: Path) -> float:
    result = ffmpeg(
        "-protocol_whitelist", "file", "-i", str(playlist_path),
        "-af", "ebur128", "-f", "null", "-",
    )  # fmt: skip
    found = re.findall(r"I:\s+(-?[\d.]+) LUFS", result.stderr)
    assert found, result.stderr[-2000:]
    return float(found[-1])


def test_loudness_normalisation_brings_a_quiet_recording_to_the_target(
    clips: Path, tmp_path: Path
) -> None:
    quiet = sound_clips.m4a(clips, duration=8.0, volume_db=-35.0)
    as_is = transcode(quiet, tmp_path / "as-is")
    normalised = transcode(quiet, tmp_path / "loud", attrs.evolve(CONFIG, loudnorm=True))
    before = integrated_loudness(tmp_path / "as-is" / as_is.rungs[0].playlist)
    after = integrated_loudness(tmp_path / "loud" / normalised.rungs[0].playlist)
    assert before < -30
    assert after == pytest.approx(-16.0, abs=2.0)
    report_text = report(tmp_path / "loud" / normalised.rungs[0].playlist)
    assert "48000 Hz" in report_text  # back from loudnorm's 192 kHz


def test_loudness_normalisation_reaches_a_videos_renditions_too(
    clips: Path, tmp_path: Path
) -> None:
    source = media_clips.clip(clips, "quiet-video.mp4", duration=6.0)  # a -18 dB-ish tone
    info = probe(source)
    config = attrs.evolve(CONFIG, loudnorm=True)
    output = FfmpegTranscoder(config).transcode(
        source, info, plan_ladder(info, SMALL_LADDER), tmp_path, lambda _: None
    )
    assert integrated_loudness(tmp_path / output.rungs[0].playlist) == pytest.approx(-16.0, abs=2.0)


def test_sound_needs_no_gpu_even_when_the_gpu_is_required(clips: Path, tmp_path: Path) -> None:
    config = attrs.evolve(CONFIG, gpu=GpuMode.ON)
    source = sound_clips.flac(clips)
    info = probe(source)
    no_gpu = GpuCapability(False, False, "no usable CUDA device")
    output = FfmpegTranscoder(config, no_gpu).transcode(
        source, info, [plan_audio(info)], tmp_path, lambda _: None
    )
    assert output.rungs[0].codecs == "mp4a.40.2"


# --- where the timeline starts ------------------------------------------------------


def reported_start(segment: Path) -> float:
    found = re.search(r"Duration: [^,]+, start: ([\d.]+)", report(segment))
    assert found is not None
    return float(found.group(1))


def first_segment(out_dir: Path, output: LadderOutput) -> Path:
    variant = out_dir / output.rungs[0].playlist
    name: str = re.findall(r"^(segment_\d+\.ts)$", variant.read_text(), re.MULTILINE)[0]
    return variant.parent / name


def test_the_timeline_starts_where_ffmpeg_says_the_first_segment_starts(
    clips: Path, tmp_path: Path
) -> None:
    sound = transcode(sound_clips.mp3(clips), tmp_path / "sound")
    start = reported_start(first_segment(tmp_path / "sound", sound))
    assert sound.start_pts == pytest.approx(start * 90_000, abs=1)
    assert sound.start_pts > 0  # muxers do not start at zero

    source = media_clips.landscape(clips)
    info = probe(source)
    video = FfmpegTranscoder(CONFIG).transcode(
        source, info, plan_ladder(info, SMALL_LADDER), tmp_path / "video", lambda _: None
    )
    start = reported_start(first_segment(tmp_path / "video", video))
    assert video.start_pts == pytest.approx(start * 90_000, abs=1)


# --- posters of sound ----------------------------------------------------------------


def pixels(jpeg: Path) -> tuple[int, int, bytes]:
    dump = parse_dump(report(jpeg))
    assert dump is not None
    width, height = dump.streams[0].width, dump.streams[0].height
    assert width is not None and height is not None
    raw = subprocess.run(
        [
            media_clips.ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-i", str(jpeg), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
        ],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return width, height, raw


def pixel(image: tuple[int, int, bytes], x: int, y: int) -> tuple[int, int, int]:
    width, _, raw = image
    offset = (y * width + x) * 3
    return raw[offset], raw[offset + 1], raw[offset + 2]


def close(found: tuple[int, int, int], wanted: tuple[int, int, int], slack: int = 24) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(found, wanted, strict=True))


def rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour, 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def test_a_recording_with_cover_art_gets_the_cover_as_its_posters(
    clips: Path, tmp_path: Path
) -> None:
    source = sound_clips.mp3_with_cover(clips)
    targets = [tmp_path / "p640.jpg", tmp_path / "p320.jpg"]
    assert FfmpegThumbnailer(CONFIG).posters(source, 1.0, [640, 320], targets) == "image/jpeg"
    large, small = pixels(targets[0]), pixels(targets[1])
    assert (large[0], large[1], small[0], small[1]) == (640, 360, 320, 180)
    # The 300x300 cover at its own size in the middle of the 640x360 canvas...
    assert close(pixel(large, 320, 180), sound_clips.COVER_RGB)
    assert close(pixel(large, 180, 40), sound_clips.COVER_RGB)
    # ...on a darkened copy of itself at the sides.
    left = pixel(large, 20, 180)
    assert left[0] < sound_clips.COVER_RGB[0] - 30 and left[0] > left[1] + 60
    assert close(pixel(small, 160, 90), sound_clips.COVER_RGB)


@pytest.mark.parametrize("make", [sound_clips.flac, sound_clips.wav], ids=["flac", "wav"])
def test_a_recording_without_cover_art_gets_its_waveform(
    clips: Path, tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    source = make(clips)
    targets = [tmp_path / "p1280.jpg", tmp_path / "p320.jpg"]
    FfmpegThumbnailer(CONFIG).posters(source, 1.0, [1280, 320], targets)
    large, small = pixels(targets[0]), pixels(targets[1])
    assert (large[0], large[1], small[0], small[1]) == (1280, 720, 320, 180)
    # A steady tone at -6 dB: a band of waveform around the middle line, canvas above.
    assert close(pixel(large, 640, 360), rgb(WAVEFORM_COLOUR))
    assert close(pixel(large, 640, 20), rgb(CANVAS_COLOUR))
    assert close(pixel(small, 160, 90), rgb(WAVEFORM_COLOUR))
    single = tmp_path / "single.jpg"
    FfmpegThumbnailer(CONFIG).poster(source, 0.0, 320, single)
    assert pixels(single)[:2] == (320, 180)


def test_a_recording_has_no_storyboard(clips: Path, tmp_path: Path) -> None:
    source = sound_clips.flac(clips)
    with pytest.raises(ValueError, match="no pictures"):
        FfmpegStoryboarder(CONFIG).storyboard(source, probe(source), tmp_path)


# --- embedded subtitles -----------------------------------------------------------------


@pytest.fixture(scope="module")
def two_languages(clips: Path) -> Iterator[tuple[Path, Path]]:
    english = sound_clips.srt(clips, "en.srt", ["Hello there", "General Kenobi"])
    french = sound_clips.srt(clips, "fr.srt", ["Bonjour à tous"])
    tracks = [("eng", english), ("fra", french)]
    yield (
        sound_clips.subtitled(clips, "subtitled.mp4", tracks),
        sound_clips.subtitled(clips, "subtitled.mkv", tracks),
    )


@pytest.mark.parametrize("which", [0, 1], ids=["mov_text in mp4", "subrip in matroska"])
def test_text_subtitles_in_two_languages_are_probed_and_extracted_as_webvtt(
    two_languages: tuple[Path, Path], tmp_path: Path, which: int
) -> None:
    source = two_languages[which]
    prober = FfmpegProber(CONFIG)
    info = prober.probe(source)
    assert info.subtitle_languages == ("eng", "fra")
    assert not info.is_audio_only and info.audio_channels == 1
    found = FfmpegSubtitleExtractor(CONFIG, prober).extract(source, info, tmp_path / "subs")
    assert [s.language for s in found] == ["eng", "fra"]
    english, french = (s.webvtt for s in found)
    assert english.startswith("WEBVTT")
    assert re.search(r"00:00(?::00)?\.500 --> 00:0?0?:?01\.500\nHello there", english), english
    assert "General Kenobi" in english and "Bonjour à tous" in french
    # Only the job's own folder was written to.
    assert sorted(p.name for p in (tmp_path / "subs").iterdir()) == [
        "subtitles_0.vtt",
        "subtitles_1.vtt",
    ]


def test_a_video_without_subtitles_runs_no_extraction(clips: Path, tmp_path: Path) -> None:
    source = media_clips.landscape(clips)
    info = probe(source)
    assert info.subtitle_languages == ()
    assert FfmpegSubtitleExtractor(CONFIG).extract(source, info, tmp_path / "subs") == ()
    assert not (tmp_path / "subs").exists()


def test_a_flood_of_subtitles_is_skipped_and_the_rest_kept(clips: Path, tmp_path: Path) -> None:
    # 3 s of cues, 2 KiB each: 6 MiB of WebVTT.
    cues = [f"Line {n} " + "x" * 2000 for n in range(3000)]
    flood = sound_clips.srt(tmp_path, "flood.srt", cues, seconds=0.01, step=0.001)
    small = sound_clips.srt(tmp_path, "small.srt", ["Kept"])
    source = sound_clips.subtitled(
        tmp_path, "flood.mkv", [("eng", flood), ("deu", small)], duration=4.0, audio=False
    )
    info = probe(source)
    assert info.subtitle_languages == ("eng", "deu")
    found = FfmpegSubtitleExtractor(CONFIG).extract(source, info, tmp_path / "subs")
    assert [(s.language, "Kept" in s.webvtt) for s in found] == [("deu", True)]
    written = (tmp_path / "subs" / "subtitles_0.vtt").stat().st_size
    # Capped on disk (ffmpeg stops a little past the cap), not written whole.
    assert SUBTITLE_MAX_BYTES < written <= SUBTITLE_MAX_BYTES + 1024 * 1024
    assert math.isfinite(info.duration_seconds)


# --- confinement --------------------------------------------------------------------------


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    spy = Watched(tmp_path)
    yield spy
    spy.close()


@pytest.mark.parametrize("container", ["mp3", "aac", "wav", "hls"])
def test_audio_steps_refuse_a_playlist_even_with_a_forged_probe_result(
    tmp_path: Path, watched: Watched, container: str
) -> None:
    source = tmp_path / "forged.mp3"
    source.write_text(playlist(str(watched.fifo), watched.url))
    info = MediaInfo(2.0, 0, 0, None, "mp3", 0.0, 0, container=container, audio_channels=2)
    with pytest.raises((MediaRejected, RuntimeError)):
        FfmpegTranscoder(CONFIG).transcode(
            source, info, [plan_audio(info)], tmp_path / "hls", lambda _: None
        )
    with pytest.raises((MediaRejected, RuntimeError)):
        FfmpegThumbnailer(CONFIG).posters(source, 0.0, [320], [tmp_path / "poster.jpg"])
    subtitled = attrs.evolve(info, subtitle_languages=("eng",))
    with pytest.raises((MediaRejected, RuntimeError)):
        FfmpegSubtitleExtractor(CONFIG).extract(source, subtitled, tmp_path / "subs")
    assert not watched.file_opened.wait(0.2)
    assert not watched.contacted.is_set()
