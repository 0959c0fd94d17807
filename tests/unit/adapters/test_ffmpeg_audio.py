"""Audio uploads and embedded subtitles in the FFmpeg adapters: the reports they read and
the command lines they build (no ffmpeg runs)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from videoplatform.adapters.ffmpeg import FfmpegConfig
from videoplatform.adapters.ffmpeg.config import LOUDNORM_FILTER
from videoplatform.adapters.ffmpeg.probe import (
    channel_count,
    media_info_from,
    parse_dump,
    probe_args,
)
from videoplatform.adapters.ffmpeg.stills import audio_posters_args
from videoplatform.adapters.ffmpeg.subtitles import subtitle_args
from videoplatform.adapters.ffmpeg.transcode import Engine, audio_args, transcode_args
from videoplatform.application.ports.media import SUBTITLE_MAX_BYTES, MediaRejected
from videoplatform.domain.ladder import RungSpec, plan_audio, plan_ladder
from videoplatform.domain.videos import FailureCode, MediaInfo

CONFIG = FfmpegConfig(binary=Path("/opt/ffmpeg/bin/ffmpeg"), threads=3, segment_seconds=4.0)
SOURCE = Path("/jobs/7/source")
OUT = Path("/jobs/7/out/hls")


def after(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]


def dump_of(text: str) -> MediaInfo:
    dump = parse_dump(text)
    assert dump is not None
    return media_info_from(dump, CONFIG)


# --- what the reports say -------------------------------------------------------

MP3_WITH_COVER = """\
Input #0, mp3, from 'file:/jobs/7/source':
  Metadata:
    title           : A song
  Duration: 00:03:05.02, start: 0.025057, bitrate: 158 kb/s
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, stereo, fltp, 128 kb/s, start 0.025057
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 300x300 [SAR 1:1 DAR 1:1], 90k tbr, 90k tbn, start 0.025056 (attached pic)
    Metadata:
      comment         : Cover (front)
"""  # noqa: E501 (ffmpeg's lines, verbatim)


def test_sound_with_cover_art_is_an_audio_upload_not_a_picture() -> None:
    info = dump_of(MP3_WITH_COVER)
    assert info == MediaInfo(185.02, 0, 0, None, "mp3", 0.0, 158_000, 0, "mp3", audio_channels=2)
    assert info.is_audio_only
    dump = parse_dump(MP3_WITH_COVER)
    assert dump is not None and dump.cover is not None and dump.cover.index == 1
    assert not dump.has_picture


@pytest.mark.parametrize(
    ("layout", "channels"),
    [
        ("mono", 1), ("stereo", 2), ("2.1", 3), ("quad(side)", 4), ("5.0(side)", 5),
        ("5.1", 6), ("5.1(side)", 6), ("7.1(wide-side)", 8), ("7.1.4", 12), ("22.2", 24),
        ("hexagonal", 6), ("6 channels", 6), ("2 channels (FL+LFE)", 2), ("ambisonic 1", 0),
    ],
)  # fmt: skip
def test_channel_layouts_count_their_channels(layout: str, channels: int) -> None:
    assert channel_count(layout) == channels


def test_channels_are_reported_for_videos_and_surround_sound() -> None:
    surround = dump_of(
        "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x':\n"
        "  Duration: 00:00:03.00, start: 0.000000, bitrate: 347 kb/s\n"
        "  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, 5.1, fltp,"
        " 341 kb/s (default)\n"
    )
    assert (surround.audio_codec, surround.audio_channels, surround.container) == (
        "aac",
        6,
        "mov",
    )
    mono_wav = dump_of(
        "Input #0, wav, from 'x':\n  Duration: 00:00:03.00, bitrate: 705 kb/s\n"
        "  Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 44100 Hz, mono, s16,"
        " 705 kb/s\n"
    )
    assert (mono_wav.audio_channels, mono_wav.container, mono_wav.width) == (1, "wav", 0)


SUBTITLED = """\
Input #0, matroska,webm, from 'x':
  Duration: 00:00:02.00, start: 0.000000, bitrate: 200 kb/s
  Stream #0:0: Video: h264 (High), yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, 1k tbn
  Stream #0:1(eng): Audio: aac (LC), 48000 Hz, mono, fltp (default)
  Stream #0:2(eng): Subtitle: subrip (srt) (default)
  Stream #0:3(fre): Subtitle: dvd_subtitle, 720x576
  Stream #0:4(fra): Subtitle: ass (ssa)
  Stream #0:5: Subtitle: webvtt
  Stream #0:6(pt-BR): Subtitle: mov_text (tx3g / 0x67337874)
  Stream #0:7(deu): Subtitle: hdmv_pgs_subtitle, 1920x1080
"""  # noqa: E501 (ffmpeg's lines, verbatim)


def test_text_subtitles_are_listed_with_their_languages_and_bitmaps_left_out() -> None:
    info = dump_of(SUBTITLED)
    assert info.subtitle_languages == ("eng", "fra", "und", "pt-BR")
    assert info.audio_channels == 1
    dump = parse_dump(SUBTITLED)
    assert dump is not None
    # Positions among all subtitle streams, bitmaps counted: what -map 0:s:N means.
    assert dump.text_subtitles() == [(0, "eng"), (2, "fra"), (3, "und"), (4, "pt-BR")]


def test_a_language_the_file_makes_up_is_undetermined() -> None:
    info = dump_of(
        SUBTITLED.replace("Stream #0:2(eng)", "Stream #0:2(<b>x</b>)").replace(
            "Stream #0:4(fra)", "Stream #0:4(english subtitles)"
        )
    )
    assert info.subtitle_languages[:2] == ("und", "und")


HEAD = "Input #0, mp3, from 'x':\n  Duration: "
SOUND = "\n  Stream #0:0: Audio: mp3, 44100 Hz, stereo, fltp, 128 kb/s\n"


@pytest.mark.parametrize(
    ("stderr", "reason", "code"),
    [
        (
            "Input #0, matroska,webm, from 'x':\n  Duration: 00:00:10.00\n"
            "  Stream #0:0: Subtitle: subrip\n  Stream #0:1: Attachment: ttf\n",
            "no picture or sound",
            FailureCode.NO_VIDEO,
        ),
        (
            "Input #0, mp3, from 'x':\n  Duration: 00:00:10.00\n  Stream #0:0: Video: mjpeg,"
            " yuvj420p, 300x300, 90k tbr (attached pic)\n",
            "no picture or sound",
            FailureCode.NO_VIDEO,
        ),
        (
            HEAD + "N/A, bitrate: N/A" + SOUND,
            "recording's duration is unknown",
            FailureCode.CORRUPT,
        ),
        (HEAD + "24:00:00.00" + SOUND, "duration 86400s is beyond", FailureCode.BEYOND_LIMITS),
        (
            "Input #0, amr, from 'x':\n  Duration: 00:00:10.00" + SOUND,
            "amr format are not accepted",
            FailureCode.UNSUPPORTED_FORMAT,
        ),
    ],
)
def test_sound_is_held_to_the_same_rules(stderr: str, reason: str, code: FailureCode) -> None:
    dump = parse_dump(stderr)
    assert dump is not None
    with pytest.raises(MediaRejected, match=reason) as refused:
        media_info_from(dump, CONFIG)
    assert refused.value.code is code


def test_sound_alone_is_probed_by_decoding_its_first_frame_of_sound() -> None:
    picture, sound = probe_args(CONFIG, SOURCE), probe_args(CONFIG, SOURCE, picture=False)
    assert after(picture, "-frames:v") == ["1"] and "-frames:a" not in picture
    assert after(sound, "-frames:a") == ["1"] and "-frames:v" not in sound
    assert after(sound, "-map")[0] == "0:a:0" and "-vn" in sound
    # The end window is the same: the last second's packets, copied, whatever they are.
    assert sound[sound.index("-copyinkf") :] == picture[picture.index("-copyinkf") :]
    assert sound.count("-protocol_whitelist") == 2 and sound.count("-i") == 2


# --- the audio-only rendition ---------------------------------------------------

STEREO = MediaInfo(185.0, 0, 0, None, "mp3", 0.0, 158_000, container="mp3", audio_channels=2)


def test_an_audio_rendition_is_aac_in_mpeg_ts_segments_of_the_usual_length() -> None:
    rung = plan_audio(STEREO)
    args = audio_args(CONFIG, SOURCE, STEREO, rung, OUT)
    assert args.count("-i") == 1 and after(args, "-f")[0] == "mp3"
    assert after(args, "-map") == ["0:a:0"]  # the sound, never the cover art
    assert "-vn" in args and "-filter_complex" not in args and "-hwaccel" not in args
    assert after(args, "-af") == ["aformat=channel_layouts=stereo"]
    assert after(args, "-c:a") == ["aac"] and after(args, "-profile:a") == ["aac_low"]
    assert after(args, "-b:a") == ["128000"]
    assert after(args, "-hls_time") == ["4"] and after(args, "-hls_segment_type") == ["mpegts"]
    assert after(args, "-hls_segment_filename") == ["/jobs/7/out/hls/audio/segment_%05d.ts"]
    assert args[-1] == "/jobs/7/out/hls/audio/index.m3u8"
    assert "-var_stream_map" not in args and "-master_pl_name" not in args


@pytest.mark.parametrize(
    ("channels", "layout", "bitrate"),
    [
        (1, "mono", "64000"),
        (2, "stereo", "128000"),
        (6, "stereo", "128000"),
        (0, "stereo", "128000"),
    ],
)
def test_mono_stays_mono_and_more_channels_are_downmixed_to_stereo(
    channels: int, layout: str, bitrate: str
) -> None:
    info = attrs.evolve(STEREO, audio_channels=channels)
    args = audio_args(CONFIG, SOURCE, info, plan_audio(info), OUT)
    assert after(args, "-af") == [f"aformat=channel_layouts={layout}"]
    assert after(args, "-b:a") == [bitrate]


def test_loudness_normalisation_follows_the_downmix_and_returns_to_48_khz() -> None:
    config = attrs.evolve(CONFIG, loudnorm=True)
    args = audio_args(config, SOURCE, STEREO, plan_audio(STEREO), OUT)
    assert after(args, "-af") == [
        f"aformat=channel_layouts=stereo,{LOUDNORM_FILTER},aresample=48000"
    ]
    assert LOUDNORM_FILTER.startswith("loudnorm=I=-16:")


def test_video_rungs_share_one_normalised_sound_when_loudnorm_is_on() -> None:
    video = MediaInfo(10.0, 1920, 1080, "h264", "aac", 30.0, 0, 0, "mov", audio_channels=6)
    ladder = plan_ladder(
        video, (RungSpec("720p", 720, 2_800_000, 128_000), RungSpec("360p", 360, 800_000, 96_000))
    )
    plain = transcode_args(CONFIG, SOURCE, video, ladder, OUT, Engine.CPU)
    assert after(plain, "-map") == ["[v0]", "0:a:0", "[v1]", "0:a:0"]
    assert "loudnorm" not in " ".join(plain)
    loud = transcode_args(
        attrs.evolve(CONFIG, loudnorm=True), SOURCE, video, ladder, OUT, Engine.CPU
    )
    graph = after(loud, "-filter_complex")[0]
    assert graph.endswith(
        f";[0:a:0]aformat=channel_layouts=stereo,{LOUDNORM_FILTER},aresample=48000,asplit=2[a0][a1]"
    )
    assert after(loud, "-map") == ["[v0]", "[a0]", "[v1]", "[a1]"]
    assert after(loud, "-var_stream_map") == after(plain, "-var_stream_map")
    silent = attrs.evolve(video, audio_codec=None, audio_channels=0)
    quiet = transcode_args(
        attrs.evolve(CONFIG, loudnorm=True), SOURCE, silent, ladder, OUT, Engine.CPU
    )
    assert "loudnorm" not in " ".join(quiet) and "-an" in quiet


def test_only_an_audio_rung_makes_an_audio_rendition() -> None:
    video = MediaInfo(10.0, 640, 360, "h264", "aac", 30.0, 0, 0, "mov")
    with pytest.raises(ValueError, match="not an audio-only rendition"):
        audio_args(CONFIG, SOURCE, STEREO, plan_ladder(video)[0], OUT)


# --- posters of sound -----------------------------------------------------------


def test_cover_art_is_centred_on_a_blurred_canvas_never_upscaled() -> None:
    targets = [Path("/jobs/7/out/poster-640"), Path("/jobs/7/out/poster-320")]
    args = audio_posters_args(CONFIG, SOURCE, STEREO, 1, [640, 320], targets)
    graph = after(args, "-filter_complex")[0]
    assert graph.startswith("[0:1]split=2[bg][fg];")
    assert "scale=w='min(iw,640)':h='min(ih,360)':force_original_aspect_ratio=decrease" in graph
    assert "gblur" in graph and "showwavespic" not in graph
    assert graph.endswith(
        "[p0]scale=w=640:h=360:flags=bicubic,setsar=1,format=yuvj420p[o0];"
        "[p1]scale=w=320:h=180:flags=bicubic,setsar=1,format=yuvj420p[o1]"
    )
    assert after(args, "-map") == ["[o0]", "[o1]"]
    assert args[-1] == "file:/jobs/7/out/poster-320"


def test_without_cover_art_the_poster_is_the_waveform_and_still_one_input() -> None:
    args = audio_posters_args(CONFIG, SOURCE, STEREO, None, [1280], [Path("/jobs/7/p.jpg")])
    graph = after(args, "-filter_complex")[0]
    assert "[0:a:0]aformat=channel_layouts=mono,showwavespic=s=1280x720" in graph
    assert graph.startswith("color=c=")  # a generated background, not another input
    assert args.count("-i") == 1 and after(args, "-protocol_whitelist") == ["file"]
    assert after(args, "-f")[0] == "mp3"


# --- subtitles ------------------------------------------------------------------


def test_every_text_subtitle_stream_is_converted_in_one_run_each_capped() -> None:
    video = MediaInfo(2.0, 320, 240, "h264", None, 25.0, 0, 0, "matroska")
    args = subtitle_args(CONFIG, SOURCE, video, [0, 2], Path("/jobs/7/subtitles"))
    assert args.count("-i") == 1 and after(args, "-f")[0] == "matroska"
    assert after(args, "-map") == ["0:s:0", "0:s:2"]
    assert after(args, "-c:s") == ["webvtt", "webvtt"]
    assert after(args, "-fs") == [str(SUBTITLE_MAX_BYTES + 1)] * 2
    outputs = [a for a in args if a.endswith(".vtt")]
    assert outputs == [
        "file:/jobs/7/subtitles/subtitles_0.vtt",
        "file:/jobs/7/subtitles/subtitles_2.vtt",
    ]
