"""Choosing the media adapters from settings: ffmpeg (default) or the synthetic format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from videoplatform.adapters.memory.media import (
    SyntheticAvatarMaker,
    SyntheticMediaCheck,
    SyntheticMediaProber,
    SyntheticStoryboarder,
    SyntheticSubtitleExtractor,
    SyntheticThumbnailer,
    SyntheticTranscoder,
)
from videoplatform.application.ports.media import AvatarMaker, MediaToolCheck, MediaTools
from videoplatform.entrypoints.settings import Settings

if TYPE_CHECKING:
    from videoplatform.adapters.ffmpeg import FfmpegConfig


def ffmpeg_config(settings: Settings) -> FfmpegConfig:
    # The ffmpeg adapters load with the first platform that uses them, not with the
    # package: a platform on synthetic media never needs them.
    from videoplatform.adapters.ffmpeg import FfmpegConfig, GpuMode

    return FfmpegConfig(
        binary=Path(settings.ffmpeg_path) if settings.ffmpeg_path else None,
        timeout_seconds=float(settings.ffmpeg_timeout_seconds),
        threads=settings.ffmpeg_threads,
        memory_limit_bytes=settings.ffmpeg_memory_limit_mib * 1024 * 1024,
        preset=settings.x264_preset,
        crf=settings.video_crf,
        segment_seconds=float(settings.hls_segment_seconds),
        gpu=GpuMode(settings.gpu_mode),
        max_width=settings.media_max_width,
        max_height=settings.media_max_height,
        max_duration_seconds=float(settings.media_max_duration_seconds),
        max_fps=float(settings.media_max_fps),
        max_frames=settings.media_max_duration_seconds * settings.media_max_fps,
        loudnorm=settings.audio_loudnorm,
    )


def open_avatar_maker(settings: Settings) -> AvatarMaker:
    """What makes avatars of uploaded pictures: ffmpeg, or the synthetic format's."""
    if settings.media_backend == "synthetic":
        return SyntheticAvatarMaker()
    from videoplatform.adapters.ffmpeg.avatars import FfmpegAvatarMaker

    return FfmpegAvatarMaker(ffmpeg_config(settings))


def open_media(settings: Settings) -> MediaTools:
    """The media adapters ``settings`` choose. Nothing runs here: the ffmpeg binary is
    located on first use and the GPU is detected on the first transcode."""
    if settings.media_backend == "synthetic":
        synthetic = SyntheticMediaProber()
        return MediaTools(
            synthetic,
            SyntheticThumbnailer(synthetic),
            SyntheticStoryboarder(),
            SyntheticTranscoder(),
            SyntheticSubtitleExtractor(synthetic),
        )
    from videoplatform.adapters.ffmpeg import (
        FfmpegProber,
        FfmpegStoryboarder,
        FfmpegSubtitleExtractor,
        FfmpegThumbnailer,
        FfmpegTranscoder,
    )

    config = ffmpeg_config(settings)
    # One prober for all: it remembers what it found in a source, so posters and
    # subtitles learn the source's streams without running ffmpeg again.
    prober = FfmpegProber(config)
    return MediaTools(
        prober,
        FfmpegThumbnailer(config, prober),
        FfmpegStoryboarder(config),
        FfmpegTranscoder(config),
        FfmpegSubtitleExtractor(config, prober),
    )


def open_media_check(settings: Settings) -> MediaToolCheck:
    """How the health checks ask whether the media tool runs (nothing runs here)."""
    if settings.media_backend == "synthetic":
        return SyntheticMediaCheck()
    from videoplatform.adapters.ffmpeg import FfmpegCheck

    return FfmpegCheck(ffmpeg_config(settings))
