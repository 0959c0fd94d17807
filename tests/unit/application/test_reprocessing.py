"""Reprocessing: a ready video processed again stays ready and playable on its current
outputs until the new ones replace them in one commit; a failure leaves it as it was."""

# The processing tests' fixtures are imported by name; pytest passes them as arguments of
# the same names, which ruff would report as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import io
import threading

import pytest

from tests.unit.application.conftest import Trail
from tests.unit.application.test_processing import (  # noqa: F401 - fixtures
    Build,
    CrashingTranscoder,
    DuringTranscode,
    ListingStorage,
    Upload,
    build,
    outputs,
    owner,
    storage,
    stored,
    upload,
    work_dir,
)
from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.ports.feed import ProcessingProgress
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.application.processing.base import GIVEN_UP
from videoplatform.application.video_jobs import PROCESS_VIDEO
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import InvalidTransition, NotFound, PermissionDenied
from videoplatform.domain.events import VideoReady
from videoplatform.domain.ids import VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import FailureCode, Video, VideoStatus
from videoplatform.entrypoints.bootstrap import Platform


def ready_video(build: Build, upload: Upload) -> Video:
    video = upload(width=1280, height=720, duration=12.0)
    assert build().process("job-1", video.id) is ProcessingOutcome.READY
    return video


def queued_jobs(uow_factory: MemoryUnitOfWorkFactory, video_id: VideoId) -> int:
    with uow_factory() as uow:
        pending = [(m.topic, dict(m.payload)) for m in uow.outbox.pending(100)]
    return pending.count((PROCESS_VIDEO, {"video_id": video_id}))


def test_the_owner_reprocesses_a_ready_video_which_stays_ready_meanwhile(
    build: Build,
    upload: Upload,
    platform: Platform,
    owner: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
    trail: Trail,
) -> None:
    video = ready_video(build, upload)
    before = stored(uow_factory, video.id)
    state = platform.processing.reprocess(owner, video.id)
    assert (state.status, state.reprocessing, state.attempts, state.progress) == (
        VideoStatus.READY,
        True,
        0,
        0,
    )
    assert not state.finished
    assert queued_jobs(uow_factory, video.id) == 2  # the upload's, then this one
    waiting = stored(uow_factory, video.id)
    assert waiting.status is VideoStatus.READY and waiting.reprocessing
    assert waiting.assets == before.assets and waiting.renditions == before.renditions
    event = trail(AuditFilter(action=AuditAction.VIDEO_REPROCESS))[0]
    assert (event.actor_id, event.resource_id, event.result) == (
        owner.user_id,
        video.id,
        AuditResult.SUCCESS,
    )
    assert event.metadata["current_renditions"] == "720p,480p,360p"


def test_the_new_outputs_replace_the_old_ones_in_one_step(
    build: Build,
    upload: Upload,
    platform: Platform,
    owner: Caller,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
    trail: Trail,
) -> None:
    video = ready_video(build, upload)
    old = stored(uow_factory, video.id)
    assert old.assets is not None
    old_keys = outputs(storage, video.id)
    platform.processing.reprocess(owner, video.id)
    seen_during: list[Video] = []
    keys_during: list[list[str]] = []

    def look() -> None:
        seen_during.append(stored(uow_factory, video.id))
        keys_during.append(outputs(storage, video.id))

    ready: list[VideoReady] = []
    platform.events.subscribe(VideoReady, ready.append)
    service = build(transcoder=DuringTranscode(look))
    assert service.process("job-2", video.id) is ProcessingOutcome.READY

    during = seen_during[0]
    assert (during.status, during.reprocessing, during.run_attempts) == (
        VideoStatus.READY,
        True,
        1,
    )
    assert during.assets == old.assets  # viewers still play the old renditions
    assert set(old_keys) <= set(keys_during[0])
    after = stored(uow_factory, video.id)
    assert after.assets is not None
    assert (after.status, after.reprocessing, after.progress) == (VideoStatus.READY, False, 100)
    assert after.assets.prefix == f"videos/{video.id}/out/job-2/2/"  # attempt numbers grow
    assert after.assets.prefix != old.assets.prefix
    keys = outputs(storage, video.id)
    assert keys and all(k.startswith(after.assets.prefix) for k in keys)  # old ones gone
    assert len(ready) == 1
    processed = trail(AuditFilter(action=AuditAction.VIDEO_PROCESS))
    assert [e.metadata.get("reprocessed") for e in processed] == ["true", None]


def test_a_failed_reprocessing_leaves_the_video_playing_what_it_had(
    build: Build,
    upload: Upload,
    platform: Platform,
    owner: Caller,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = ready_video(build, upload)
    old = stored(uow_factory, video.id)
    old_keys = outputs(storage, video.id)
    platform.processing.reprocess(owner, video.id)
    crashing = build(transcoder=CrashingTranscoder(), max_attempts=2)
    with pytest.raises(Exception, match="ffmpeg exited"):
        crashing.process("job-2", video.id)
    retrying = stored(uow_factory, video.id)
    assert (retrying.status, retrying.reprocessing) == (VideoStatus.READY, True)
    assert crashing.process("job-2", video.id) is ProcessingOutcome.GAVE_UP
    after = stored(uow_factory, video.id)
    assert (after.status, after.reprocessing, after.last_error, after.failure_code) == (
        VideoStatus.READY,
        False,
        GIVEN_UP,
        FailureCode.PROCESSING_ERROR,
    )
    assert after.assets == old.assets and after.renditions == old.renditions
    assert outputs(storage, video.id) == old_keys  # the attempts' outputs removed, old kept
    # It may be asked for again, and then succeeds.
    platform.processing.reprocess(owner, video.id)
    assert build().process("job-3", video.id) is ProcessingOutcome.READY
    assert stored(uow_factory, video.id).last_error is None


def test_a_late_copy_of_the_job_that_made_the_current_outputs_does_no_harm(
    build: Build,
    upload: Upload,
    platform: Platform,
    owner: Caller,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = ready_video(build, upload)
    keys = outputs(storage, video.id)
    platform.processing.reprocess(owner, video.id)
    assert build().process("job-1", video.id) is ProcessingOutcome.ALREADY_DONE
    assert outputs(storage, video.id) == keys
    waiting = stored(uow_factory, video.id)
    assert (waiting.reprocessing, waiting.run_attempts) == (True, 0)


def test_only_a_ready_video_is_reprocessed_and_only_once_at_a_time(
    build: Build, upload: Upload, platform: Platform, owner: Caller
) -> None:
    video = upload()
    with pytest.raises(InvalidTransition) as caught:
        platform.processing.reprocess(owner, video.id)
    assert caught.value.code == "video_not_ready"
    build().process("job-1", video.id)
    platform.processing.reprocess(owner, video.id)
    with pytest.raises(InvalidTransition) as again:
        platform.processing.reprocess(owner, video.id)
    assert again.value.code == "already_reprocessing"


def test_moderators_may_reprocess_viewers_may_not_and_strangers_learn_nothing(
    build: Build,
    upload: Upload,
    platform: Platform,
    make_user: MakeUser,
    trail: Trail,
) -> None:
    public = ready_video(build, upload)  # the upload fixture makes public videos
    viewer = make_user(Role.CREATOR)
    with pytest.raises(PermissionDenied):
        platform.processing.reprocess(viewer, public.id)
    with pytest.raises(NotFound):
        platform.processing.reprocess(viewer, VideoId("01NOSUCHVIDEO000000000000"))
    state = platform.processing.reprocess(make_user(Role.MODERATOR), public.id)
    assert state.reprocessing
    denied = trail(AuditFilter(action=AuditAction.VIDEO_REPROCESS, result=AuditResult.DENIED))
    # A missing video is refused and recorded exactly like a hidden one (newest first).
    assert [(e.actor_id, e.resource_id, e.metadata["reason"]) for e in denied] == [
        (viewer.user_id, "01NOSUCHVIDEO000000000000", "not_found"),
        (viewer.user_id, public.id, "permission_denied"),
    ]


def test_a_restart_queues_a_reprocessing_video_again_and_keeps_its_outputs(
    build: Build,
    upload: Upload,
    platform: Platform,
    owner: Caller,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = ready_video(build, upload)
    keys = outputs(storage, video.id)
    platform.processing.reprocess(owner, video.id)
    with uow_factory() as uow:
        before = {m.id for m in uow.outbox.pending(100)}
    assert build().requeue_unfinished() == 1
    with uow_factory() as uow:
        queued = [m for m in uow.outbox.pending(100) if m.id not in before]
    assert [m.payload["video_id"] for m in queued] == [video.id]
    assert outputs(storage, video.id) == keys


def test_a_dead_lettered_reprocessing_job_ends_it_and_keeps_the_video_ready(
    build: Build,
    upload: Upload,
    platform: Platform,
    owner: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = ready_video(build, upload)
    platform.processing.reprocess(owner, video.id)
    assert build().abandon(video.id, "dead-lettered") is True
    after = stored(uow_factory, video.id)
    assert (after.status, after.reprocessing, after.last_error) == (
        VideoStatus.READY,
        False,
        GIVEN_UP,
    )
    assert build().abandon(video.id, "again") is False


def test_progress_of_a_reprocessing_video_is_not_finished_until_it_is_replaced(
    build: Build, upload: Upload, platform: Platform, owner: Caller
) -> None:
    video = ready_video(build, upload)
    assert platform.processing.progress(owner, video.id).finished
    platform.processing.reprocess(owner, video.id)
    state: ProcessingProgress = platform.processing.progress(owner, video.id)
    assert (state.status, state.reprocessing, state.finished) == (VideoStatus.READY, True, False)
    build().process("job-2", video.id)
    assert platform.processing.progress(owner, video.id).finished


def test_an_uploaded_but_not_yet_processed_source_cannot_be_reprocessed(
    platform: Platform, owner: Caller
) -> None:
    from videoplatform.adapters.memory.media import synthetic_clip
    from videoplatform.application.video_commands import UploadVideo

    video = platform.videos.upload(
        owner, UploadVideo(title="Waiting", source=io.BytesIO(synthetic_clip()))
    )
    with pytest.raises(InvalidTransition):
        platform.processing.reprocess(owner, video.id)


def test_an_attempt_that_lost_its_claim_before_a_reprocessing_never_gets_it_back(
    build: Build,
    upload: Upload,
    platform: Platform,
    owner: Caller,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    """Job 1 ran twice (its first worker was given up for dead but kept going) and the
    second run published. The owner reprocesses, and job 2 claims the video. When the
    first run of job 1 finally finishes, it must be refused: its attempt number is never
    handed out again, so it cannot publish over job 2 (nor remove what job 2 makes)."""
    video = upload()
    job2_claimed, release_job2 = threading.Event(), threading.Event()
    outcomes: dict[str, ProcessingOutcome] = {}

    def job2_transcoding() -> None:
        job2_claimed.set()
        assert release_job2.wait(10)

    def job2() -> None:
        worker = build(transcoder=DuringTranscode(job2_transcoding))
        outcomes["job-2"] = worker.process("job-2", video.id)

    runner = threading.Thread(target=job2)

    def meanwhile() -> None:
        assert build().process("job-1", video.id) is ProcessingOutcome.READY  # redelivery
        platform.processing.reprocess(owner, video.id)
        runner.start()
        assert job2_claimed.wait(10)

    stale = build(transcoder=DuringTranscode(meanwhile))
    outcomes["stale"] = stale.process("job-1", video.id)
    release_job2.set()
    runner.join(10)
    assert outcomes == {
        "stale": ProcessingOutcome.SUPERSEDED,
        "job-2": ProcessingOutcome.READY,
    }
    after = stored(uow_factory, video.id)
    assert after.assets is not None
    assert after.assets.prefix.startswith(f"videos/{video.id}/out/job-2/")
    keys = outputs(storage, video.id)
    assert keys and all(k.startswith(after.assets.prefix) for k in keys)
