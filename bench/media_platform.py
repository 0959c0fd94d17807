"""The platform's side of the media benchmark: its ffmpeg adapters, the exact command its
transcoder runs (for the bare-ffmpeg and per-rendition baselines), and one video
processed end to end on the embedded profile."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bench.media_timing import Took, timed
from videoplatform.adapters.ffmpeg import (
    Engine,
    FfmpegConfig,
    FfmpegProber,
    FfmpegStoryboarder,
    FfmpegThumbnailer,
    FfmpegTranscoder,
)
from videoplatform.adapters.ffmpeg.transcode import transcode_args
from videoplatform.application.context import Caller
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.ladder import PlannedRung
from videoplatform.domain.videos import MediaInfo
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.settings import Settings

FFMPEG = FfmpegConfig().executable()


def config_for(preset: str) -> FfmpegConfig:
    return FfmpegConfig(preset=preset)


def ladder_command(
    source: Path, info: MediaInfo, rungs: Sequence[PlannedRung], out: Path, preset: str
) -> list[str]:
    """The command line the platform's CPU transcoder runs for ``rungs``."""
    for rung in rungs:
        (out / rung.spec.name).mkdir(parents=True, exist_ok=True)
    return transcode_args(config_for(preset), source, info, rungs, out, Engine.CPU)


def make_adapters() -> tuple[
    FfmpegProber, FfmpegThumbnailer, FfmpegStoryboarder, Callable[[str], FfmpegTranscoder]
]:
    config = FfmpegConfig()
    prober = FfmpegProber(config)
    return (
        prober,
        FfmpegThumbnailer(config, prober),
        FfmpegStoryboarder(config),
        lambda preset: FfmpegTranscoder(config_for(preset)),
    )


def fresh_prober() -> FfmpegProber:
    """A prober that has seen no file yet (nothing remembered)."""
    return FfmpegProber(FfmpegConfig())


def process_with_platform(work: Path, source: Path, preset: str) -> Took:
    """Wall and CPU time for the platform to process ``source`` once it is uploaded:
    probe, posters, storyboard, ladder, storing every output and committing the ready
    video (embedded profile: SQLite and local disk)."""
    settings = Settings(
        data_dir=str(work),
        media_backend="ffmpeg",
        x264_preset=preset,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    with create_platform(settings) as platform, source.open("rb") as body:
        owner = platform.users.register(RegisterUser("bench@example.com", "bench passphrase", "B"))
        video = platform.videos.upload(Caller(owner.id), UploadVideo(title="bench", source=body))
        outcomes: list[ProcessingOutcome] = []
        took = timed(lambda: outcomes.append(platform.processing.process("bench-job", video.id)))
    if outcomes != [ProcessingOutcome.READY]:
        raise RuntimeError(f"the platform did not process the clip: {outcomes}")
    return took
