"""Followers are told each committed change of a video's processing state through the
video feed (the announcer, an after-commit handler of the processing events), and a
follower sees the current state, then each change, until the end; a lost update only
delays it until the next re-read of the database."""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.feed import MemoryVideoFeed
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
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.announcing import ProgressAnnouncer
from videoplatform.application.audit_recording import Auditor
from videoplatform.application.context import Caller
from videoplatform.application.essentials import Essentials
from videoplatform.application.following import FollowConfig, ProgressFollower
from videoplatform.application.ports.feed import NoFeed, ProcessingProgress, Subscription, VideoFeed
from videoplatform.application.ports.media import LadderOutput, MediaTools, ProgressCallback
from videoplatform.application.processing import (
    ProcessingConfig,
    ProcessingOutcome,
    ProcessingService,
    RetryableProcessingError,
)
from videoplatform.application.processing.base import GIVEN_UP, SERVER_FAULT
from videoplatform.application.processing.timings import ProcessingTimings
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.errors import NotFound
from videoplatform.domain.events import VideoEvent
from videoplatform.domain.ids import VideoId
from videoplatform.domain.ladder import PlannedRung
from videoplatform.domain.users import Role
from videoplatform.domain.videos import FailureCode, MediaInfo, VideoStatus, Visibility
from videoplatform.entrypoints.bootstrap import Platform

PROCESSING, READY, FAILED = VideoStatus.PROCESSING, VideoStatus.READY, VideoStatus.FAILED


class CheckingFeed:
    """Records what is published, checking each time that the database already holds
    exactly that state: an update is only ever published after its commit."""

    def __init__(self, uow_factory: MemoryUnitOfWorkFactory) -> None:
        self._uow = uow_factory
        self.published: list[ProcessingProgress] = []
        self.mismatches: list[str] = []

    def publish(self, update: ProcessingProgress) -> None:
        with self._uow() as uow:
            stored = uow.videos.get(update.video_id)
        if ProcessingProgress.of(stored, update.at) != update:
            self.mismatches.append(f"published {update}, stored {stored.status} {stored.progress}")
        self.published.append(update)

    def subscribe(self, video_id: VideoId) -> Subscription:  # pragma: no cover
        raise AssertionError("processing never subscribes")

    def ping(self) -> None:  # pragma: no cover
        return None


class BrokenFeed:
    def publish(self, update: ProcessingProgress) -> None:
        raise ConnectionError("the feed is down")

    def subscribe(self, video_id: VideoId) -> Subscription:  # pragma: no cover
        raise AssertionError("processing never subscribes")

    def ping(self) -> None:  # pragma: no cover
        raise ConnectionError("the feed is down")


class Silence:
    """A feed that never delivers anything, without waiting."""

    def publish(self, update: ProcessingProgress) -> None:
        return None

    def subscribe(self, video_id: VideoId) -> Silence:
        return self

    def ping(self) -> None:  # pragma: no cover
        return None

    def next(self, timeout: float) -> ProcessingProgress | None:
        return None

    def close(self) -> None:
        return None


class CrashingTranscoder(SyntheticTranscoder):
    def transcode(
        self,
        source: Path,
        info: MediaInfo,
        ladder: Sequence[PlannedRung],
        out_dir: Path,
        on_progress: ProgressCallback,
    ) -> LadderOutput:
        on_progress(50)
        raise RuntimeError("the encoder crashed")


@pytest.fixture
def owner(make_user: MakeUser) -> Caller:
    return make_user(Role.CREATOR)


def upload(platform: Platform, owner: Caller, data: bytes | None = None) -> VideoId:
    video = platform.videos.upload(
        owner,
        UploadVideo(
            title="A clip",
            source=io.BytesIO(synthetic_clip(duration=8.0) if data is None else data),
            visibility=Visibility.PRIVATE,
        ),
    )
    return video.id


def processing_with(
    platform: Platform,
    uow_factory: MemoryUnitOfWorkFactory,
    storage: MemoryObjectStorage,
    clock: ManualClock,
    tmp_path: Path,
    feed: VideoFeed,
    transcoder: SyntheticTranscoder | None = None,
) -> ProcessingService:
    """A processing service over the platform's database, whose committed changes are
    announced on ``feed`` (by the announcer, from the platform's event bus)."""
    announcer = ProgressAnnouncer(uow_factory, feed, clock)
    platform.dispatcher.subscribe(platform.events, VideoEvent, "test.announce", announcer)
    essentials = Essentials(
        uow_factory,
        clock,
        SequentialIds("job"),
        platform.resolve(Auditor),
    )
    return ProcessingService(
        essentials,
        storage,
        MediaTools(
            SyntheticMediaProber(),
            SyntheticThumbnailer(),
            SyntheticStoryboarder(),
            transcoder or SyntheticTranscoder(),
            SyntheticSubtitleExtractor(),
        ),
        ProcessingConfig(work_dir=tmp_path, progress_step=1),
        ProcessingTimings(),
    )


def test_a_processed_video_publishes_started_then_progress_then_ready(
    platform: Platform,
    owner: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
    storage: MemoryObjectStorage,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    feed = CheckingFeed(uow_factory)
    service = processing_with(platform, uow_factory, storage, clock, tmp_path, feed)
    video = upload(platform, owner)

    assert service.process("job-1", video) is ProcessingOutcome.READY

    updates = feed.published
    assert feed.mismatches == []
    assert (updates[0].status, updates[0].progress, updates[0].attempts) == (PROCESSING, 0, 1)
    assert (updates[-1].status, updates[-1].progress, updates[-1].attempts) == (READY, 100, 1)
    steps = updates[1:-1]
    assert len(steps) >= 2 and all(u.status is PROCESSING for u in steps)
    progress = [u.progress for u in updates]
    assert progress == sorted(progress) and len(set(progress)) == len(progress)
    assert {u.video_id for u in updates} == {video}


def test_a_rejected_source_publishes_the_failure_with_its_reason(
    platform: Platform,
    owner: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
    storage: MemoryObjectStorage,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    feed = CheckingFeed(uow_factory)
    service = processing_with(platform, uow_factory, storage, clock, tmp_path, feed)
    video = upload(platform, owner, b"\x00\x00\x00\x18ftypmp42 not really a video")

    assert service.process("job-1", video) is ProcessingOutcome.FAILED

    assert feed.mismatches == []
    assert [(u.status, u.last_error) for u in feed.published] == [
        (PROCESSING, None),
        (FAILED, "not a media file"),
    ]


def test_a_failed_attempt_that_will_be_retried_is_published_with_its_reason(
    platform: Platform,
    owner: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
    storage: MemoryObjectStorage,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    feed = CheckingFeed(uow_factory)
    service = processing_with(
        platform, uow_factory, storage, clock, tmp_path, feed, CrashingTranscoder()
    )
    video = upload(platform, owner)

    with pytest.raises(RetryableProcessingError):
        service.process("job-1", video)

    assert feed.mismatches == []
    last = feed.published[-1]
    assert (last.status, last.attempts) == (PROCESSING, 1)
    assert last.last_error == SERVER_FAULT
    assert last.failure_code is FailureCode.PROCESSING_ERROR


def test_a_moderators_retry_and_a_dead_lettered_job_are_published(
    platform: Platform,
    owner: Caller,
    make_user: MakeUser,
    uow_factory: MemoryUnitOfWorkFactory,
    storage: MemoryObjectStorage,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    feed = CheckingFeed(uow_factory)
    service = processing_with(platform, uow_factory, storage, clock, tmp_path, feed)
    video = upload(platform, owner, b"\x00\x00\x00\x18ftypmp42 not really a video")
    service.process("job-1", video)
    moderator = make_user(Role.MODERATOR)

    service.retry(moderator, video)
    assert (feed.published[-1].status, feed.published[-1].attempts) == (VideoStatus.UPLOADED, 0)
    assert service.abandon(video, "too many deliveries")
    assert feed.published[-1].status is FAILED
    assert feed.published[-1].last_error == GIVEN_UP
    assert feed.published[-1].failure_code is FailureCode.PROCESSING_ERROR
    assert feed.mismatches == []


def test_a_feed_outage_never_fails_processing(
    platform: Platform,
    owner: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
    storage: MemoryObjectStorage,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    service = processing_with(platform, uow_factory, storage, clock, tmp_path, BrokenFeed())
    video = upload(platform, owner)

    assert service.process("job-1", video) is ProcessingOutcome.READY
    assert service.progress(owner, video).status is READY


# -- following ------------------------------------------------------------------------

FAST = FollowConfig(poll_seconds=0.05, heartbeat_seconds=10, lifetime_seconds=30)


def follow_in_background(
    follower: ProgressFollower, caller: Caller, video: VideoId
) -> tuple[list[ProcessingProgress | None], threading.Thread, Iterator[ProcessingProgress | None]]:
    """Start following (the first state is read now), then collect the rest on a thread."""
    states = follower.follow(caller, video)
    seen: list[ProcessingProgress | None] = [next(states)]
    thread = threading.Thread(target=lambda: seen.extend(states), daemon=True)
    thread.start()
    return seen, thread, states


def test_a_follower_sees_the_current_state_then_each_change_until_ready(
    platform: Platform, owner: Caller
) -> None:
    feed: VideoFeed = platform.container.resolve(VideoFeed)
    follower = ProgressFollower(platform.processing, feed, FollowConfig(poll_seconds=10))
    video = upload(platform, owner)

    seen, thread, _ = follow_in_background(follower, owner, video)
    platform.processing.process("job-1", video)
    thread.join(5)

    assert not thread.is_alive()
    states = [s for s in seen if s is not None]
    assert (states[0].status, states[0].progress) == (VideoStatus.UPLOADED, 0)
    assert (states[1].status, states[1].progress) == (PROCESSING, 0)
    assert (states[-1].status, states[-1].progress) == (READY, 100)
    assert states[-1] == platform.processing.progress(owner, video)


def test_a_follower_whose_updates_are_lost_still_reaches_ready_from_the_database(
    platform: Platform, owner: Caller
) -> None:
    follower = ProgressFollower(platform.processing, NoFeed(), FAST)
    video = upload(platform, owner)

    seen, thread, _ = follow_in_background(follower, owner, video)
    platform.processing.process("job-1", video)
    thread.join(5)

    assert not thread.is_alive()
    statuses = [s.status for s in seen if s is not None]
    # Whatever the re-reads happened to catch on the way (processing, perhaps), the
    # follower starts from the current state and reaches the end.
    assert statuses[0] is VideoStatus.UPLOADED and statuses[-1] is READY
    assert set(statuses[1:-1]) <= {PROCESSING}


def test_following_a_video_one_may_not_see_fails_and_leaves_no_subscription(
    platform: Platform, owner: Caller, make_user: MakeUser, clock: ManualClock
) -> None:
    feed = MemoryVideoFeed()
    follower = ProgressFollower(platform.processing, feed, FAST)
    video = upload(platform, owner)
    stranger = make_user(Role.CREATOR)

    with pytest.raises(NotFound):
        follower.follow(stranger, video)
    with pytest.raises(NotFound):
        follower.follow(owner, VideoId("01NOSUCHVIDEO000000000000"))
    assert feed.followed() == set()  # the subscriptions made meanwhile were closed


def test_the_stream_ends_when_the_video_is_deleted(platform: Platform, owner: Caller) -> None:
    follower = ProgressFollower(platform.processing, NoFeed(), FAST)
    video = upload(platform, owner)

    seen, thread, _ = follow_in_background(follower, owner, video)
    platform.videos.delete(owner, video)
    thread.join(5)

    assert not thread.is_alive()
    assert [s.status for s in seen if s is not None] == [VideoStatus.UPLOADED]


def test_a_quiet_stream_sends_heartbeats_and_ends_after_its_lifetime(
    platform: Platform, owner: Caller
) -> None:
    ticks = itertools.count()
    quiet = FollowConfig(poll_seconds=4, heartbeat_seconds=3, lifetime_seconds=10)
    follower = ProgressFollower(
        platform.processing, Silence(), quiet, monotonic=lambda: float(next(ticks))
    )
    video = upload(platform, owner)

    seen = list(follower.follow(owner, video))

    assert seen[0] == platform.processing.progress(owner, video)
    assert None in seen  # heartbeats while nothing changed
    assert [s for s in seen[1:] if s is not None] == []  # re-reads found no change
