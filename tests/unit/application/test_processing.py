"""Processing: an uploaded video becomes ready with every output in place, or fails with
a reason, and nothing partial is ever left visible or behind."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.unit.application.conftest import Trail, only_event
from tests.unit.conftest import MP4_HEAD, MakeUser
from videoplatform.adapters.memory.media import (
    SyntheticMediaProber,
    SyntheticStoryboarder,
    SyntheticSubtitleExtractor,
    SyntheticThumbnailer,
    SyntheticTranscoder,
    synthetic_clip,
)
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock, SequentialIds
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWork, MemoryUnitOfWorkFactory
from videoplatform.adapters.storage.local import LocalObjectStorage
from videoplatform.application.audit_recording import Auditor
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.essentials import Essentials
from videoplatform.application.events.codec import is_event_topic
from videoplatform.application.ports.media import (
    LadderOutput,
    MediaTools,
    ProgressCallback,
    Transcoder,
)
from videoplatform.application.ports.persistence import (
    STALE_VERSION,
    UnitOfWorkFactory,
    VideoListQuery,
    VideoRepository,
)
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.processing import (
    ProcessingConfig,
    ProcessingOutcome,
    ProcessingService,
    RetryableProcessingError,
)
from videoplatform.application.processing.base import GIVEN_UP, SERVER_FAULT
from videoplatform.application.processing.timings import ProcessingTimings
from videoplatform.application.video_commands import UpdateVideo, UploadVideo
from videoplatform.application.video_jobs import PROCESS_VIDEO
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import Conflict, InvalidTransition, NotFound, PermissionDenied
from videoplatform.domain.events import VideoReady
from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.ladder import PlannedRung
from videoplatform.domain.users import Role
from videoplatform.domain.videos import FailureCode, MediaInfo, Video, VideoStatus, Visibility
from videoplatform.entrypoints.bootstrap import Platform

# -- test doubles -------------------------------------------------------------------------


class ListingStorage(MemoryObjectStorage):
    """Memory storage that can say which keys it holds (the port cannot)."""

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._objects if k.startswith(prefix))


class RecordingVideos:
    """A video repository that remembers what its unit of work saved."""

    def __init__(self, inner: VideoRepository) -> None:
        self._inner = inner
        self.saved: list[Video] = []

    def add(self, video: Video) -> None:
        self._inner.add(video)

    def get(self, video_id: VideoId) -> Video:
        return self._inner.get(video_id)

    def save(self, video: Video) -> None:
        self.saved.append(video)
        self._inner.save(video)

    def delete(self, video_id: VideoId) -> None:
        self._inner.delete(video_id)

    def increment_views(self, video_id: VideoId, by: int = 1) -> None:
        self._inner.increment_views(video_id, by)

    def set_owner_disabled(self, owner_id: UserId, disabled: bool) -> None:
        self._inner.set_owner_disabled(owner_id, disabled)

    def list_page(self, query: VideoListQuery, limit: int) -> list[Video]:
        return self._inner.list_page(query, limit)

    def list_by_category(self, category_id: CategoryId) -> list[VideoId]:
        return self._inner.list_by_category(category_id)

    def usage(self, owner_id: UserId) -> tuple[int, int]:
        return self._inner.usage(owner_id)


Fault = Callable[[Video], Exception | None]


class FaultyUnitOfWork(MemoryUnitOfWork):
    """Fails a commit that saves a video matching ``fault``: before committing, or, with
    ``after=True``, after the commit landed (a lost acknowledgement)."""

    def __init__(
        self, inner: MemoryUnitOfWorkFactory, fault: Fault, after: bool, fired: list[Exception]
    ) -> None:
        self._fault = fault
        self._fired = fired
        self._after = after
        super().__init__(inner.db, inner.hooks)

    def _begin(self) -> None:
        super()._begin()
        self.recorded = RecordingVideos(self.videos)
        self.videos = self.recorded  # type: ignore[assignment]

    def commit(self) -> None:
        errors = [e for e in map(self._fault, self.recorded.saved) if e is not None]
        self._fired.extend(errors[:1])
        if errors and not self._after:
            raise errors[0]
        super().commit()
        if errors:
            raise errors[0]


class FaultyFactory:
    def __init__(self, inner: MemoryUnitOfWorkFactory, fault: Fault, after: bool = False) -> None:
        self._inner, self._fault, self._after = inner, fault, after
        self.fired: list[Exception] = []

    def __call__(self) -> FaultyUnitOfWork:
        return FaultyUnitOfWork(self._inner, self._fault, self._after, self.fired)


class CrashingTranscoder:
    """Writes part of a ladder, reports some progress, then crashes like ffmpeg would."""

    def __init__(self, crashes: int = 1_000) -> None:
        self.crashes = crashes
        self.calls = 0

    def transcode(
        self,
        source: Path,
        info: MediaInfo,
        ladder: Sequence[PlannedRung],
        output_dir: Path,
        on_progress: ProgressCallback,
    ) -> LadderOutput:
        self.calls += 1
        if self.calls > self.crashes:
            return SyntheticTranscoder().transcode(source, info, ladder, output_dir, on_progress)
        (output_dir / "720p").mkdir(parents=True)
        (output_dir / "720p" / "segment_00000.ts").write_bytes(b"half a segment")
        on_progress(40)
        raise RuntimeError("ffmpeg exited with status 1")


class DuringTranscode:
    """Runs ``action`` in the middle of a real (synthetic) transcode."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action = action

    def transcode(
        self,
        source: Path,
        info: MediaInfo,
        ladder: Sequence[PlannedRung],
        output_dir: Path,
        on_progress: ProgressCallback,
    ) -> LadderOutput:
        self._action()
        return SyntheticTranscoder().transcode(source, info, ladder, output_dir, on_progress)


class PercentTranscoder:
    """Reports every percent from 0 to 100, reading the stored progress at each step."""

    def __init__(self, read: Callable[[], int]) -> None:
        self._read = read
        self.seen: list[int] = []

    def transcode(
        self,
        source: Path,
        info: MediaInfo,
        ladder: Sequence[PlannedRung],
        output_dir: Path,
        on_progress: ProgressCallback,
    ) -> LadderOutput:
        out = SyntheticTranscoder().transcode(source, info, ladder, output_dir, lambda _: None)
        for percent in range(101):
            on_progress(percent)
            self.seen.append(self._read())
        return out


class RecordingThumbnailer:
    def __init__(self) -> None:
        self.calls: list[tuple[float, int]] = []
        self._inner = SyntheticThumbnailer()

    def poster(self, source: Path, at_seconds: float, width: int, target: Path) -> str:
        self.calls.append((at_seconds, width))
        return self._inner.poster(source, at_seconds, width, target)

    def posters(
        self, source: Path, at_seconds: float, widths: Sequence[int], targets: Sequence[Path]
    ) -> str:
        self.calls += [(at_seconds, width) for width in widths]
        return self._inner.posters(source, at_seconds, widths, targets)


class RecordingProber:
    def __init__(self) -> None:
        self.sources: list[Path] = []
        self._inner = SyntheticMediaProber()

    def accepts(self, head: bytes) -> bool:
        return self._inner.accepts(head)

    def probe(self, source: Path) -> MediaInfo:
        self.sources.append(source)
        return self._inner.probe(source)


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def storage() -> ListingStorage:
    return ListingStorage()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "work"


Build = Callable[..., ProcessingService]


@pytest.fixture
def build(
    platform: Platform,
    storage: ListingStorage,
    clock: ManualClock,
    work_dir: Path,
    uow_factory: MemoryUnitOfWorkFactory,
) -> Build:
    """A processing service over the platform's memory adapters and synthetic media,
    with any port or setting replaced."""

    def make(
        *,
        transcoder: Transcoder | None = None,
        thumbnailer: RecordingThumbnailer | None = None,
        prober: RecordingProber | None = None,
        units: UnitOfWorkFactory | None = None,
        objects: ObjectStorage | None = None,
        **config: Any,
    ) -> ProcessingService:
        essentials = Essentials(
            units or uow_factory,
            clock,
            SequentialIds("job"),
            platform.resolve(Auditor),
        )
        return ProcessingService(
            essentials,
            objects or storage,
            MediaTools(
                prober or SyntheticMediaProber(),
                thumbnailer or SyntheticThumbnailer(),
                SyntheticStoryboarder(),
                transcoder or SyntheticTranscoder(),
                SyntheticSubtitleExtractor(),
            ),
            ProcessingConfig(work_dir=work_dir, **config),
            ProcessingTimings(),
        )

    return make


@pytest.fixture
def owner(make_user: MakeUser) -> Caller:
    return make_user(Role.CREATOR)


Upload = Callable[..., Video]


@pytest.fixture
def upload(platform: Platform, owner: Caller) -> Upload:
    def make(data: bytes | None = None, **clip: Any) -> Video:
        return platform.videos.upload(
            owner,
            UploadVideo(
                title="A clip",
                source=io.BytesIO(data if data is not None else synthetic_clip(**clip)),
                visibility=Visibility.PUBLIC,
            ),
        )

    return make


def stored(uow_factory: MemoryUnitOfWorkFactory, video_id: VideoId) -> Video:
    with uow_factory() as uow:
        return uow.videos.get(video_id)


def outputs(storage: ListingStorage, video_id: VideoId) -> list[str]:
    return storage.keys(f"videos/{video_id}/out/")


def leftovers(work_dir: Path) -> list[Path]:
    return list(work_dir.iterdir()) if work_dir.exists() else []


# -- the happy path -----------------------------------------------------------------------


def test_a_processed_video_is_ready_with_every_output_under_its_job_prefix(
    build: Build,
    upload: Upload,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
    work_dir: Path,
) -> None:
    video = upload(width=1280, height=720, duration=12.0)
    assert build().process("job-1", video.id) is ProcessingOutcome.READY

    ready = stored(uow_factory, video.id)
    assert (ready.status, ready.progress, ready.processing_attempts) == (VideoStatus.READY, 100, 1)
    assert ready.media_info is not None
    assert (ready.media_info.width, ready.media_info.height) == (1280, 720)
    assert [(r.name, r.width, r.height) for r in ready.renditions] == [
        ("720p", 1280, 720),
        ("480p", 854, 480),
        ("360p", 640, 360),
    ]
    assets = ready.assets
    assert assets is not None
    assert assets.prefix == f"videos/{video.id}/out/job-1/1/"
    assert [(p.width, p.height) for p in assets.posters] == [(1280, 720), (640, 360), (320, 180)]
    assert assets.storyboard is not None
    referenced = [assets.master_playlist, assets.storyboard.vtt_path, assets.storyboard.sprite_path]
    referenced += [p.path for p in assets.posters] + [r.playlist_key for r in ready.renditions]
    keys = outputs(storage, video.id)
    for path in referenced:
        assert assets.key(path) in keys, path
    assert all(key.startswith(assets.prefix) for key in keys)
    master = b"".join(storage.get(assets.prefix + assets.master_playlist)).decode()
    assert "720p/index.m3u8" in master
    assert any(key.endswith(".ts") for key in keys)
    assert leftovers(work_dir) == []  # the job's temporary directory is gone


def test_processing_is_audited_as_the_system(build: Build, upload: Upload, trail: Trail) -> None:
    video = upload()
    build().process("job-1", video.id)
    events = trail(AuditFilter(action=AuditAction.VIDEO_PROCESS))
    assert len(events) == 1
    event = events[0]
    assert (event.result, event.resource_id, event.actor_id) == (
        AuditResult.SUCCESS,
        video.id,
        None,
    )
    assert event.metadata["job_id"] == "job-1"
    assert event.metadata["renditions"] == "720p,480p,360p"


def test_a_redelivered_job_of_a_ready_video_does_no_work(
    build: Build,
    upload: Upload,
    storage: ListingStorage,
    platform: Platform,
    trail: Trail,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    ready_events: list[VideoReady] = []
    platform.events.subscribe(VideoReady, ready_events.append)
    video = upload()
    transcoder = CrashingTranscoder(crashes=0)
    service = build(transcoder=transcoder)
    assert service.process("job-1", video.id) is ProcessingOutcome.READY
    keys = outputs(storage, video.id)
    assert service.process("job-1", video.id) is ProcessingOutcome.ALREADY_DONE
    assert service.process("job-2", video.id) is ProcessingOutcome.ALREADY_DONE
    assert transcoder.calls == 1
    assert outputs(storage, video.id) == keys
    assert len(ready_events) == 1
    assert len(trail(AuditFilter(action=AuditAction.VIDEO_PROCESS))) == 1
    assert stored(uow_factory, video.id).processing_attempts == 1


def test_a_deleted_video_is_gone_and_nothing_is_done(
    build: Build, upload: Upload, platform: Platform, owner: Caller, storage: ListingStorage
) -> None:
    video = upload()
    platform.videos.delete(owner, video.id)
    assert build().process("job-1", video.id) is ProcessingOutcome.GONE
    assert storage.keys(f"videos/{video.id}/") == []


def test_a_malformed_job_id_is_refused_before_anything_changes(
    build: Build, upload: Upload, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    video = upload()
    for job_id in ("../x", "", "a/b", "x" * 65):
        with pytest.raises(ValueError):
            build().process(job_id, video.id)
    assert stored(uow_factory, video.id).status is VideoStatus.UPLOADED


def test_a_source_on_local_disk_is_read_in_place(
    build: Build,
    platform: Platform,
    owner: Caller,
    tmp_path: Path,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    disk = LocalObjectStorage(tmp_path / "objects")
    source_key = f"videos/{VideoId('v-local')}/source"
    disk.put(source_key, io.BytesIO(synthetic_clip()))
    video = upload_record(platform, owner, uow_factory, source_key)
    prober = RecordingProber()
    assert build(prober=prober, objects=disk).process("job-1", video) is ProcessingOutcome.READY
    assert len(prober.sources) == 1
    assert prober.sources[0].resolve().is_relative_to((tmp_path / "objects").resolve())
    assert disk.exists(f"videos/{video}/out/job-1/1/hls/master.m3u8")


def upload_record(
    platform: Platform, owner: Caller, uow_factory: MemoryUnitOfWorkFactory, source_key: str
) -> VideoId:
    """A video record whose source lives at ``source_key`` in some other storage."""
    video = platform.videos.upload(
        owner, UploadVideo(title="On disk", source=io.BytesIO(MP4_HEAD + b"placeholder"))
    )
    with uow_factory() as uow:
        record = uow.videos.get(video.id)
        record.source_key = source_key
        uow.videos.save(record)
        uow.commit()
    return video.id


# -- restarts and claims ------------------------------------------------------------------


def test_a_video_stuck_processing_is_restarted_and_its_leftovers_removed(
    build: Build,
    upload: Upload,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = upload()
    with uow_factory() as uow:  # a worker claimed it, uploaded a little, and died
        record = uow.videos.get(video.id)
        record.start_processing(record.updated_at)
        uow.videos.save(record)
        uow.commit()
    dead = f"videos/{video.id}/out/job-1/1/hls/720p/segment_00000.ts"
    storage.put(dead, io.BytesIO(b"partial"))

    assert build().process("job-1", video.id) is ProcessingOutcome.READY
    ready = stored(uow_factory, video.id)
    assert ready.processing_attempts == 2
    assert ready.assets is not None
    assert ready.assets.prefix == f"videos/{video.id}/out/job-1/2/"
    assert not storage.exists(dead)
    assert all(k.startswith(ready.assets.prefix) for k in outputs(storage, video.id))


def test_an_attempt_overtaken_by_a_newer_one_publishes_nothing(
    build: Build,
    upload: Upload,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = upload()
    newer = build()
    results: list[ProcessingOutcome] = []
    # While attempt 1 transcodes, the job is delivered again (its worker was thought
    # dead) and attempt 2 runs to the end.
    older = build(
        transcoder=DuringTranscode(lambda: results.append(newer.process("job-1", video.id)))
    )
    assert older.process("job-1", video.id) is ProcessingOutcome.SUPERSEDED
    assert results == [ProcessingOutcome.READY]
    ready = stored(uow_factory, video.id)
    assert ready.assets is not None
    assert ready.assets.prefix.endswith("/job-1/2/")
    keys = outputs(storage, video.id)
    assert keys and all(k.startswith(ready.assets.prefix) for k in keys)


def test_an_attempt_that_lost_its_claim_cannot_finish_the_video(
    build: Build,
    upload: Upload,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = upload()

    def newer_claim() -> None:  # a newer delivery claims the video and is still running
        with uow_factory() as uow:
            record = uow.videos.get(video.id)
            record.restart_processing(record.updated_at)
            uow.videos.save(record)
            uow.commit()

    older = build(transcoder=DuringTranscode(newer_claim))
    assert older.process("job-1", video.id) is ProcessingOutcome.SUPERSEDED
    waiting = stored(uow_factory, video.id)
    assert (waiting.status, waiting.processing_attempts) == (VideoStatus.PROCESSING, 2)
    assert (waiting.assets, waiting.renditions) == (None, ())
    assert outputs(storage, video.id) == []


# -- failures -----------------------------------------------------------------------------


def test_non_media_fails_for_good_with_its_reason_and_no_outputs(
    build: Build,
    upload: Upload,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
    trail: Trail,
    work_dir: Path,
) -> None:
    video = upload(b"\x00\x00\x00\x18ftypmp42 but not really a video")
    assert build().process("job-1", video.id) is ProcessingOutcome.FAILED
    failed = stored(uow_factory, video.id)
    assert (failed.status, failed.last_error) == (VideoStatus.FAILED, "not a media file")
    assert (failed.renditions, failed.assets) == ((), None)
    assert outputs(storage, video.id) == []
    assert storage.exists(failed.source_key)  # the upload itself is kept
    event = trail(AuditFilter(action=AuditAction.VIDEO_PROCESS))[0]
    assert (event.result, event.metadata["reason"]) == (AuditResult.FAILURE, "not a media file")
    assert leftovers(work_dir) == []
    # Failed is final until a moderator retries: a stray delivery changes nothing.
    assert build().process("job-1", video.id) is ProcessingOutcome.ALREADY_DONE
    assert stored(uow_factory, video.id).processing_attempts == 1


def test_a_picture_too_small_to_encode_is_refused_as_media(
    build: Build, upload: Upload, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    video = upload(width=1, height=1)
    assert build().process("job-1", video.id) is ProcessingOutcome.FAILED
    failed = stored(uow_factory, video.id)
    assert "too small" in (failed.last_error or "")
    assert failed.failure_code is FailureCode.BEYOND_LIMITS


def test_a_crash_is_retried_then_fails_after_the_last_attempt_leaving_no_outputs(
    build: Build,
    upload: Upload,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
    work_dir: Path,
    trail: Trail,
) -> None:
    video = upload()
    service = build(transcoder=CrashingTranscoder(), max_attempts=3)
    for attempt in (1, 2):
        with pytest.raises(RetryableProcessingError) as caught:
            service.process("job-1", video.id)
        assert caught.value.attempt == attempt
        waiting = stored(uow_factory, video.id)
        assert waiting.status is VideoStatus.PROCESSING
        # The owner reads that it was no fault of the file; the cause is not theirs to see.
        assert waiting.last_error == SERVER_FAULT
        assert waiting.failure_code is FailureCode.PROCESSING_ERROR
        assert outputs(storage, video.id) == []
    # The last allowed attempt fails it for good, and says the job is given up.
    assert service.process("job-1", video.id) is ProcessingOutcome.GAVE_UP
    failed = stored(uow_factory, video.id)
    assert (failed.status, failed.processing_attempts) == (VideoStatus.FAILED, 3)
    assert (failed.last_error, failed.failure_code) == (GIVEN_UP, FailureCode.PROCESSING_ERROR)
    assert outputs(storage, video.id) == []
    assert leftovers(work_dir) == []
    # The technical cause is in the audit trail.
    (event,) = trail(AuditFilter(action=AuditAction.VIDEO_PROCESS))
    assert event.result is AuditResult.FAILURE
    assert event.metadata["detail"] == "RuntimeError: ffmpeg exited with status 1"
    assert event.metadata["code"] == "processing_error"


def test_a_crash_that_passes_costs_one_attempt(
    build: Build, upload: Upload, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    video = upload()
    service = build(transcoder=CrashingTranscoder(crashes=1))
    with pytest.raises(RetryableProcessingError):
        service.process("job-1", video.id)
    assert service.process("job-1", video.id) is ProcessingOutcome.READY
    ready = stored(uow_factory, video.id)
    assert (ready.processing_attempts, ready.last_error) == (2, None)


def test_a_video_deleted_while_processing_leaves_no_outputs(
    build: Build, upload: Upload, platform: Platform, owner: Caller, storage: ListingStorage
) -> None:
    video = upload()
    service = build(transcoder=DuringTranscode(lambda: platform.videos.delete(owner, video.id)))
    assert service.process("job-1", video.id) is ProcessingOutcome.GONE
    assert storage.keys(f"videos/{video.id}/") == []


def test_a_fault_in_the_final_commit_leaves_nothing_behind(
    build: Build,
    upload: Upload,
    platform: Platform,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = upload()

    def fault(saved: Video) -> Exception | None:
        return OSError("connection reset") if saved.status is VideoStatus.READY else None

    units = FaultyFactory(uow_factory, fault)
    with pytest.raises(RetryableProcessingError):
        build(units=units).process("job-1", video.id)
    assert len(units.fired) == 1
    waiting = stored(uow_factory, video.id)
    assert (waiting.status, waiting.assets) == (VideoStatus.PROCESSING, None)
    assert outputs(storage, video.id) == []
    # The next delivery, with the database back, finishes the video.
    assert build().process("job-1", video.id) is ProcessingOutcome.READY


def test_a_final_commit_that_landed_but_reported_failure_keeps_its_outputs(
    build: Build,
    upload: Upload,
    platform: Platform,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = upload()

    def fault(saved: Video) -> Exception | None:
        return OSError("lost acknowledgement") if saved.status is VideoStatus.READY else None

    units = FaultyFactory(uow_factory, fault, after=True)
    assert build(units=units).process("job-1", video.id) is ProcessingOutcome.READY
    assert len(units.fired) == 1
    ready = stored(uow_factory, video.id)
    assert ready.status is VideoStatus.READY
    assert ready.assets is not None
    assert storage.exists(ready.assets.prefix + ready.assets.master_playlist)


# -- posters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clip", "expected"),
    [
        ({"duration": 12.0}, [(4.0, 1280), (4.0, 640), (4.0, 320)]),
        ({"duration": 3600.0}, [(10.0, 1280), (10.0, 640), (10.0, 320)]),
        ({"width": 480, "height": 270}, [(10 / 3, 320)]),  # never upscaled
        ({"width": 200, "height": 112}, [(10 / 3, 200)]),  # smaller than every width
        ({"width": 1280, "height": 720, "rotation": 90}, [(10 / 3, 640), (10 / 3, 320)]),
    ],
)
def test_posters_are_taken_early_but_not_at_the_start_and_never_upscaled(
    build: Build, upload: Upload, clip: dict[str, Any], expected: list[tuple[float, int]]
) -> None:
    thumbnailer = RecordingThumbnailer()
    video = upload(**clip)
    assert build(thumbnailer=thumbnailer).process("job-1", video.id) is ProcessingOutcome.READY
    assert [w for _, w in thumbnailer.calls] == [w for _, w in expected]
    assert [t for t, _ in thumbnailer.calls] == pytest.approx([t for t, _ in expected])


def test_the_owners_poster_time_is_used_when_it_lies_within_the_video(
    build: Build,
    upload: Upload,
    platform: Platform,
    owner: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    thumbnailer = RecordingThumbnailer()
    chosen = upload(duration=30.0)
    platform.videos.update(owner, chosen.id, UpdateVideo(poster_at_seconds=21.5))
    beyond = upload(duration=30.0)
    platform.videos.update(owner, beyond.id, UpdateVideo(poster_at_seconds=45.0))
    service = build(thumbnailer=thumbnailer, poster_widths=(320,))
    service.process("job-1", chosen.id)
    service.process("job-2", beyond.id)
    assert thumbnailer.calls == [(21.5, 320), (10.0, 320)]
    assets = stored(uow_factory, chosen.id).assets
    assert assets is not None
    assert [(p.width, p.height, p.path) for p in assets.posters] == [(320, 180, "poster-320.png")]


# -- progress -----------------------------------------------------------------------------


def test_progress_reaches_the_video_while_transcoding_in_throttled_steps(
    build: Build, upload: Upload, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    video = upload()
    transcoder = PercentTranscoder(lambda: stored(uow_factory, video.id).progress)
    assert build(transcoder=transcoder, progress_step=10).process("job-1", video.id) is (
        ProcessingOutcome.READY
    )
    seen = transcoder.seen
    assert seen == sorted(seen)  # never backwards
    assert 0 < seen[0] < seen[-1] < 100  # visible while transcoding, 100 only when ready
    commits = len(set(seen))
    assert 5 <= commits <= 12  # about one update per 10 percent, not one per call
    assert stored(uow_factory, video.id).progress == 100


def test_progress_is_also_committed_after_a_quiet_while(
    build: Build, upload: Upload, uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock
) -> None:
    video = upload()
    seen: list[int] = []

    def read_and_wait() -> int:
        clock.advance(timedelta(seconds=6))
        progress = stored(uow_factory, video.id).progress
        seen.append(progress)
        return progress

    transcoder = PercentTranscoder(read_and_wait)
    build(transcoder=transcoder, progress_step=50).process("job-1", video.id)
    assert len(set(seen)) > 50  # every small move is committed once the interval passed


def test_a_conflict_on_a_progress_update_does_not_stop_the_job(
    build: Build,
    upload: Upload,
    platform: Platform,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = upload()

    def fault(saved: Video) -> Exception | None:
        if saved.status is VideoStatus.PROCESSING and saved.progress > 0:
            return Conflict("someone else saved first", code=STALE_VERSION)
        return None

    units = FaultyFactory(uow_factory, fault)
    assert build(units=units).process("job-1", video.id) is ProcessingOutcome.READY
    assert len(units.fired) >= 2  # progress updates were refused, more than once
    assert stored(uow_factory, video.id).status is VideoStatus.READY


# -- retry and the progress read ----------------------------------------------------------


def fail_video(build: Build, video_id: VideoId) -> None:
    assert build(transcoder=CrashingTranscoder(), max_attempts=1).process("job-1", video_id) is (
        ProcessingOutcome.GAVE_UP
    )


def test_a_moderator_retries_a_failed_video_which_is_then_processed_again(
    build: Build,
    upload: Upload,
    platform: Platform,
    make_user: MakeUser,
    uow_factory: MemoryUnitOfWorkFactory,
    trail: Trail,
) -> None:
    video = upload()
    fail_video(build, video.id)
    moderator = make_user(Role.MODERATOR)
    state = platform.processing.retry(moderator, video.id)
    assert (state.status, state.attempts, state.progress) == (VideoStatus.UPLOADED, 0, 0)
    with uow_factory() as uow:
        queued = [(m.topic, dict(m.payload)) for m in uow.outbox.pending(100)]
    assert queued.count((PROCESS_VIDEO, {"video_id": video.id})) == 2  # upload, then retry
    event = trail(AuditFilter(action=AuditAction.VIDEO_RETRY))[0]
    assert (event.actor_id, event.resource_id, event.result) == (
        moderator.user_id,
        video.id,
        AuditResult.SUCCESS,
    )
    assert event.metadata["previous_attempts"] == "1"
    assert build().process("job-2", video.id) is ProcessingOutcome.READY
    after = stored(uow_factory, video.id)
    # A new run: its own attempts count from one, the claim number keeps growing.
    assert (after.run_attempts, after.processing_attempts) == (1, 2)


def test_only_a_failed_video_can_be_retried(
    build: Build, upload: Upload, platform: Platform, admin: Caller
) -> None:
    video = upload()
    with pytest.raises(InvalidTransition) as caught:
        platform.processing.retry(admin, video.id)
    assert caught.value.code == "video_not_failed"
    build().process("job-1", video.id)
    with pytest.raises(InvalidTransition):
        platform.processing.retry(admin, video.id)


def test_owners_may_not_retry_and_others_do_not_learn_of_a_private_video(
    build: Build,
    platform: Platform,
    owner: Caller,
    make_user: MakeUser,
    trail: Trail,
) -> None:
    video = platform.videos.upload(
        owner, UploadVideo(title="Private", source=io.BytesIO(synthetic_clip()))
    )
    fail_video(build, video.id)
    with pytest.raises(PermissionDenied):
        platform.processing.retry(owner, video.id)
    with pytest.raises(NotFound):
        platform.processing.retry(make_user(Role.CREATOR), video.id)
    denied = trail(AuditFilter(action=AuditAction.VIDEO_RETRY, result=AuditResult.DENIED))
    assert len(denied) == 2


def test_progress_is_read_by_whoever_may_see_the_video(
    build: Build,
    upload: Upload,
    platform: Platform,
    owner: Caller,
    make_user: MakeUser,
) -> None:
    video = upload()  # public, but not ready yet
    stranger = make_user(Role.CREATOR)
    state = platform.processing.progress(owner, video.id)
    assert (state.status, state.progress, state.attempts, state.last_error) == (
        VideoStatus.UPLOADED,
        0,
        0,
        None,
    )
    with pytest.raises(NotFound):
        platform.processing.progress(stranger, video.id)
    with pytest.raises(NotFound):
        platform.processing.progress(Caller(), video.id)
    build().process("job-1", video.id)
    assert platform.processing.progress(Caller(), video.id).status is VideoStatus.READY
    assert platform.processing.progress(stranger, video.id).progress == 100


# -- after a restart -------------------------------------------------------------------


def test_a_restart_queues_every_unfinished_video_again_and_clears_its_leftovers(
    build: Build,
    upload: Upload,
    storage: ListingStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    waiting, stuck, done = upload(), upload(), upload()
    service = build()
    assert service.process("job-done", done.id) is ProcessingOutcome.READY
    with uow_factory() as uow:  # a worker claimed it, stored a little, and died
        record = uow.videos.get(stuck.id)
        record.start_processing(record.updated_at)
        uow.videos.save(record)
        uow.commit()
    leftover = f"videos/{stuck.id}/out/job-old/1/hls/720p/segment_00000.ts"
    storage.put(leftover, io.BytesIO(b"partial"))
    with uow_factory() as uow:
        before = {m.id for m in uow.outbox.pending(100)}

    assert service.requeue_unfinished(batch=1) == 2  # pages of one: paging is exercised

    with uow_factory() as uow:
        queued = [m for m in uow.outbox.pending(100) if m.id not in before]
    assert sorted(m.payload["video_id"] for m in queued) == sorted([waiting.id, stuck.id])
    assert not storage.exists(leftover)
    ready = stored(uow_factory, done.id)
    assert ready.assets is not None and outputs(storage, done.id)  # a ready video keeps its own


def test_a_video_left_with_no_job_is_queued_again_by_the_sweep_and_audited(
    build: Build,
    upload: Upload,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
    trail: Trail,
) -> None:
    lost, done = upload(), upload()
    service = build()
    assert service.process("job-done", done.id) is ProcessingOutcome.READY
    clock.advance(timedelta(hours=2))
    recent = upload()
    with uow_factory() as uow:
        before = {m.id for m in uow.outbox.pending(100) if not is_event_topic(m.topic)}

    assert service.requeue_stranded(timedelta(hours=1)) == 1

    with uow_factory() as uow:
        queued = [
            m for m in uow.outbox.pending(100) if m.id not in before and not is_event_topic(m.topic)
        ]
    assert [m.payload["video_id"] for m in queued] == [lost.id]
    event = only_event(trail, AuditAction.VIDEO_RETRY, AuditResult.SUCCESS, lost.id)
    assert event.metadata["reason"] == "stranded"
    assert stored(uow_factory, lost.id).status is VideoStatus.UPLOADED
    assert stored(uow_factory, recent.id).status is VideoStatus.UPLOADED
    # Queued again just now: not stranded any more.
    assert service.requeue_stranded(timedelta(hours=1)) == 0


def test_job_directories_of_dead_attempts_are_swept_once_old_enough(
    build: Build, work_dir: Path, clock: ManualClock
) -> None:
    work_dir.mkdir(parents=True)
    dead = work_dir / "video-job-dead"
    (dead / "out").mkdir(parents=True)
    (dead / "out" / "segment.ts").write_bytes(b"x")
    unrelated = work_dir / "notes"
    unrelated.mkdir()
    old = clock.now().timestamp() - 7200
    for folder in (dead, unrelated):
        os.utime(folder, (old, old))
    live = work_dir / "video-job-live"
    live.mkdir()
    os.utime(live, (clock.now().timestamp(), clock.now().timestamp()))

    assert build().sweep_workspaces(timedelta(hours=1)) == 1
    assert not dead.exists()
    assert live.is_dir() and unrelated.is_dir()
