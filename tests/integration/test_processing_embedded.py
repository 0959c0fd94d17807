"""Processing on the embedded profile: a real SQLite file (optimistic versions, real
transactions) and real files on local disk, with the synthetic media adapters."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from videoplatform.adapters.memory.media import synthetic_clip
from videoplatform.application.context import Caller
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UpdateVideo, UploadVideo
from videoplatform.domain.videos import VideoStatus
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import Settings


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        media_backend="synthetic",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    with create_platform(settings) as embedded:
        yield embedded


def test_an_upload_is_processed_into_files_on_disk_and_a_ready_row(
    platform: Platform, tmp_path: Path
) -> None:
    admin = platform.users.create_admin(RegisterUser("a@example.com", "long enough pw", "A"))
    caller = Caller(admin.id)
    video = platform.videos.upload(
        caller, UploadVideo(title="Clip", source=io.BytesIO(synthetic_clip(duration=9.0)))
    )
    platform.videos.update(caller, video.id, UpdateVideo(poster_at_seconds=2.0))

    assert platform.processing.process("job-1", video.id) is ProcessingOutcome.READY
    assert platform.processing.process("job-1", video.id) is ProcessingOutcome.ALREADY_DONE

    ready = platform.videos.get(caller, video.id)
    assert (ready.status, ready.progress, ready.processing_attempts) == (VideoStatus.READY, 100, 1)
    assert ready.assets is not None
    objects = tmp_path / "data" / "objects"
    out = objects / ready.assets.prefix
    assert (out / ready.assets.master_playlist).is_file()
    assert all((out / p.path).is_file() for p in ready.assets.posters)
    assert all((out / r.playlist_key).is_file() for r in ready.renditions)
    # The job's temporary directories, under the data directory, are all gone.
    assert list((tmp_path / "data" / "work").iterdir()) == []


def test_a_non_media_upload_fails_and_a_moderator_retry_processes_it_again(
    platform: Platform, tmp_path: Path
) -> None:
    admin = platform.users.create_admin(RegisterUser("a@example.com", "long enough pw", "A"))
    caller = Caller(admin.id)
    video = platform.videos.upload(
        caller, UploadVideo(title="Clip", source=io.BytesIO(b"\x00\x00\x00\x18ftypmp42 junk"))
    )
    assert platform.processing.process("job-1", video.id) is ProcessingOutcome.FAILED
    state = platform.processing.retry(caller, video.id)
    assert (state.status, state.attempts) == (VideoStatus.UPLOADED, 0)
    assert platform.processing.process("job-2", video.id) is ProcessingOutcome.FAILED
    failed = platform.processing.progress(caller, video.id)
    assert (failed.status, failed.attempts, failed.last_error) == (
        VideoStatus.FAILED,
        1,
        "not a media file",
    )
    out = tmp_path / "data" / "objects" / "videos" / video.id / "out"
    assert [p for p in out.rglob("*") if p.is_file()] == []
