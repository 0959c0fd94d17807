"""Background work in the embedded profile: an upload's processing job reaches its
handler through the outbox and the in-process queue, with no server running."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import attrs

from tests.unit.conftest import CHEAP_ARGON2, MakeUser
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.queue import Job, JobQueue, JobQueueClients
from videoplatform.application.shares import CreateShare
from videoplatform.application.video_commands import UploadVideo
from videoplatform.application.video_jobs import PROCESS_VIDEO
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.resilience import GuardedJobQueue
from videoplatform.entrypoints.worker import (
    BackgroundWorkers,
    heartbeat_is_fresh,
    settle_events,
    start_background,
    worker_check,
)


def upload(platform: Platform, make_user: MakeUser) -> str:
    video = platform.videos.upload(
        make_user(), UploadVideo(title="Clip", source=io.BytesIO(b"\x00\x00\x00\x18ftypmp42 bytes"))
    )
    return str(video.id)


def test_an_uploaded_video_is_handed_to_the_process_video_handler(
    platform: Platform, make_user: MakeUser
) -> None:
    seen: list[Job] = []
    arrived = threading.Event()

    def process(job: Job) -> None:
        seen.append(job)
        arrived.set()

    workers = start_background(platform, {PROCESS_VIDEO: process}, concurrency=2)
    try:
        video_id = upload(platform, make_user)
        assert arrived.wait(5), "the processing job never reached its handler"
    finally:
        assert workers.stop(5)
    assert [(j.kind, j.payload["video_id"], j.attempt) for j in seen] == [
        (PROCESS_VIDEO, video_id, 1)
    ]


def test_a_job_nobody_handles_reaches_the_dead_letter_hook(
    platform: Platform, make_user: MakeUser
) -> None:
    dead: list[tuple[str, str]] = []
    arrived = threading.Event()

    def record(job: Job, reason: str) -> None:
        dead.append((job.kind, reason))
        arrived.set()

    workers = BackgroundWorkers(platform, {}, on_dead_letter=record).start()
    try:
        upload(platform, make_user)
        assert arrived.wait(5)
    finally:
        assert workers.stop(5)
    assert dead == [(PROCESS_VIDEO, "no handler for jobs of kind 'process-video'")]
    queue: JobQueue = platform.container.resolve(JobQueue)
    assert [j.kind for j in queue.dead_letters()] == [PROCESS_VIDEO]


def test_stopping_lets_the_running_job_finish(platform: Platform) -> None:
    started, finished = threading.Event(), threading.Event()

    def slow(job: Job) -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    queue: JobQueue = platform.container.resolve(JobQueue)
    workers = BackgroundWorkers(platform, {"slow": slow}, relay=False, poll_seconds=0.05).start()
    queue.publish(Job("j1", "slow", {}))
    assert started.wait(5)
    assert workers.stop(5)
    assert finished.is_set()
    assert not workers.alive()


def test_a_rabbitmq_url_is_accepted_and_nothing_connects_until_used() -> None:
    # Nothing listens on port 1: building the platform must not try to connect.
    settings = attrs.evolve(
        CHEAP_ARGON2,
        queue_url="amqp://guest:guest@127.0.0.1:1/%2F",
    )
    with create_platform(settings) as platform:
        queue: JobQueue = platform.container.resolve(JobQueue)
        clients: JobQueueClients = platform.container.resolve(JobQueueClients)
        assert isinstance(queue, GuardedJobQueue)  # publishing behind its circuit breaker
        assert type(queue.inner).__name__ == "RabbitJobQueue"
        assert type(clients()).__name__ == "RabbitJobQueue"


def test_worker_check_follows_the_heartbeat_file(tmp_path: Path) -> None:
    beat = tmp_path / "worker.alive"
    assert worker_check(beat, 60) == 1
    beat.touch()
    assert heartbeat_is_fresh(beat, 60)
    assert worker_check(beat, 60) == 0
    old = time.time() - 120
    os.utime(beat, (old, old))
    assert worker_check(beat, 60) == 1
    assert worker_check(None, 60) == 2


def test_background_workers_run_the_durable_handlers_of_committed_events(
    platform: Platform, make_user: MakeUser
) -> None:
    owner = make_user()
    stored = platform.files.store(owner, StoreFile(name="doc.txt", content=io.BytesIO(b"doc")))
    created = platform.shares.create(owner, CreateShare(file_id=stored.id))
    workers = start_background(platform, {}, concurrency=0)
    try:
        platform.files.delete(owner, stored.id)  # FileDeleted: its shares get revoked
        deadline = time.monotonic() + 5
        while platform.shares.details(owner, created.share.id).revoked_at is None:
            assert time.monotonic() < deadline, "the share was never revoked"
            time.sleep(0.02)
    finally:
        assert workers.stop(5)


def test_settle_events_runs_what_the_worker_would_and_then_nothing(
    platform: Platform, make_user: MakeUser
) -> None:
    owner = make_user()
    stored = platform.files.store(owner, StoreFile(name="doc.txt", content=io.BytesIO(b"doc")))
    created = platform.shares.create(owner, CreateShare(file_id=stored.id))
    settle_events(platform)  # the owner's registration (account mail)
    platform.files.delete(owner, stored.id)
    assert platform.shares.details(owner, created.share.id).revoked_at is None
    assert settle_events(platform) == 1  # FileDeleted, to the share revocation handler
    assert platform.shares.details(owner, created.share.id).revoked_at is not None
    assert settle_events(platform) == 0


def test_a_relay_stuck_in_a_call_makes_the_workers_not_alive_until_it_moves_again(
    platform: Platform,
) -> None:
    workers = BackgroundWorkers(
        platform, {}, concurrency=0, sweep_seconds=None, relay_stall_seconds=0.3
    )
    assert workers.relay is not None
    release = threading.Event()
    entered = threading.Event()
    original = workers.relay.relay_once

    def stuck() -> int:
        entered.set()
        release.wait(10)  # a database that never answers
        return original()

    workers.relay.relay_once = stuck  # type: ignore[method-assign]
    workers.start()
    try:
        assert entered.wait(5)
        time.sleep(0.6)
        assert workers.stalled() == ["outbox-relay"]
        assert not workers.alive()
        release.set()
        deadline = time.monotonic() + 5
        while not workers.alive():
            assert time.monotonic() < deadline, "the relay never showed progress again"
            time.sleep(0.05)
    finally:
        release.set()
        assert workers.stop(5)
