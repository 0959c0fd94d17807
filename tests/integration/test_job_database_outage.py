"""A database outage spends no attempt of a queued job: the job waits on the real broker
for the database, however long the outage lasts in deliveries, and then runs once.

The processing platform reaches PostgreSQL through a TCP proxy that the test cuts and
restores (the shared server keeps running); jobs go through RabbitMQ.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ServiceEndpoint
from tests.integration.served import CHEAP_ARGON2, migrate
from tests.integration.tcp_proxy import TcpProxy
from videoplatform.adapters.memory.media import synthetic_clip
from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.application.context import Caller
from videoplatform.application.jobs import JobConsumer, RetryPolicy
from videoplatform.application.ports.queue import Job
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.application.video_jobs import PROCESS_VIDEO
from videoplatform.domain.videos import VideoStatus
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import handlers_for

MAX_ATTEMPTS = 2


@pytest.fixture
def topology(rabbitmq_service: ServiceEndpoint) -> Iterator[Topology]:
    chosen = Topology(
        url=f"amqp://guest:guest@{rabbitmq_service.host}:{rabbitmq_service.port}/%2F",
        prefix=f"vp-test-{secrets.token_hex(4)}.",
        max_deliveries=MAX_ATTEMPTS + 1,
        retry_base_seconds=0.1,
        reconnect_base_seconds=0.05,
    )
    yield chosen
    admin = RabbitJobQueue(chosen, role="teardown")
    admin.delete_queues()
    admin.close()


def open_platform(database_url: str, tmp_path: Path) -> Platform:
    environ = {
        **CHEAP_ARGON2,
        "VIDEOPLATFORM_DATABASE_URL": database_url,
        "VIDEOPLATFORM_STORAGE_URL": (tmp_path / "objects").resolve().as_uri(),
        "VIDEOPLATFORM_PLAYBACK_SECRET": "s" * 48,
        "VIDEOPLATFORM_MEDIA_BACKEND": "synthetic",
        "VIDEOPLATFORM_WORK_DIR": str(tmp_path / "work"),
        "VIDEOPLATFORM_JOB_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    }
    return create_platform(Settings.from_env(environ))


def test_a_job_waits_out_a_database_outage_without_using_its_attempts(
    tmp_path: Path, database_url: str, postgres_service: ServiceEndpoint, topology: Topology
) -> None:
    migrate({"VIDEOPLATFORM_DATABASE_URL": database_url}, tmp_path)
    proxy = TcpProxy((postgres_service.host, postgres_service.port))
    through_proxy = urlsplit(database_url)._replace(netloc=f"postgres@127.0.0.1:{proxy.port}")
    direct = open_platform(database_url, tmp_path)
    worker = open_platform(through_proxy.geturl(), tmp_path)
    queue = RabbitJobQueue(topology, role="consumer")
    try:
        owner = direct.users.register(RegisterUser("o@example.com", "long passphrase!", "O"))
        clip = io.BytesIO(synthetic_clip(duration=2.0))
        video = direct.videos.upload(Caller(owner.id), UploadVideo("Clip", clip))
        queue.publish(Job(f"job-{secrets.token_hex(4)}", PROCESS_VIDEO, {"video_id": video.id}))

        process = handlers_for(worker)[PROCESS_VIDEO]
        delivered: list[int] = []

        def handler(job: Job) -> None:
            delivered.append(job.attempt)
            process(job)

        dead: list[str] = []
        consumer = JobConsumer(
            queue, {PROCESS_VIDEO: handler}, RetryPolicy(MAX_ATTEMPTS), lambda _, r: dead.append(r)
        )

        proxy.cut()
        while len(delivered) < MAX_ATTEMPTS + 2:  # more deliveries than the job may have
            assert consumer.run_once(5), "the job did not come back"
        assert delivered == [1] * (MAX_ATTEMPTS + 2)
        assert dead == [] and queue.dead_letters() == []

        proxy.up = True
        assert consumer.run_once(5)
        assert delivered[-1] == 1
        state = direct.processing.progress(Caller(owner.id), video.id)
        assert state.status is VideoStatus.READY
        assert state.attempts == 1
        assert queue.receive(0.5) is None
    finally:
        queue.close()
        proxy.cut()
        worker.close()
        direct.close()
