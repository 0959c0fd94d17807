"""Processing reports each stage it finished, once, to whoever watches; a stage that
fails is not reported."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.media import (
    SyntheticMediaProber,
    SyntheticStoryboarder,
    SyntheticSubtitleExtractor,
    SyntheticThumbnailer,
    SyntheticTranscoder,
    synthetic_clip,
)
from videoplatform.application.ports.media import MediaTools
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.processing.config import ProcessingConfig
from videoplatform.application.processing.timings import STAGES, ProcessingTimings, StageTiming
from videoplatform.application.processing.workspace import Workshop
from videoplatform.application.video_commands import UploadVideo
from videoplatform.entrypoints.bootstrap import Platform


def workshop(
    platform: Platform,
    tmp_path: Path,
    timings: ProcessingTimings,
    transcoder: SyntheticTranscoder | None = None,
) -> Workshop:
    prober = SyntheticMediaProber()
    tools = MediaTools(
        prober,
        SyntheticThumbnailer(prober),
        SyntheticStoryboarder(),
        transcoder or SyntheticTranscoder(),
        SyntheticSubtitleExtractor(prober),
    )
    return Workshop(
        platform.container.resolve(ObjectStorage),
        platform.container.resolve(Clock),
        tools,
        ProcessingConfig(work_dir=tmp_path / "work"),
        timings,
    )


def test_every_stage_is_reported_once_and_the_ladder_with_the_medias_length(
    platform: Platform, make_user: MakeUser, tmp_path: Path
) -> None:
    heard: list[StageTiming] = []
    timings = ProcessingTimings()
    timings.watch(heard.append)
    video = platform.videos.upload(
        make_user(), UploadVideo(title="Clip", source=io.BytesIO(synthetic_clip(duration=4.0)))
    )
    workshop(platform, tmp_path, timings).produce(video, 1, "p/1/", lambda _: None)
    assert sorted(t.stage for t in heard) == sorted(STAGES)
    assert all(t.seconds >= 0 for t in heard)
    (ladder,) = [t for t in heard if t.stage == "ladder"]
    assert ladder.media_seconds == pytest.approx(4.0, abs=0.1)
    assert all(t.media_seconds is None for t in heard if t.stage != "ladder")


def test_a_stage_that_fails_is_not_reported(
    platform: Platform, make_user: MakeUser, tmp_path: Path
) -> None:
    class Failing(SyntheticTranscoder):
        def transcode(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise RuntimeError("the encoder crashed")

    heard: list[StageTiming] = []
    timings = ProcessingTimings()
    timings.watch(heard.append)
    video = platform.videos.upload(
        make_user(), UploadVideo(title="Clip", source=io.BytesIO(synthetic_clip(duration=2.0)))
    )
    with pytest.raises(RuntimeError):
        workshop(platform, tmp_path, timings, Failing()).produce(video, 1, "p/1/", lambda _: None)
    stages = {t.stage for t in heard}
    assert {"fetch", "probe"} <= stages
    assert "ladder" not in stages and "upload" not in stages
