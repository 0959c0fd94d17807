"""``videoplatform worker``: relays the outbox of a real database to RabbitMQ and
consumes it, signals its liveness, and stops cleanly on SIGTERM."""

from __future__ import annotations

import io
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ServiceEndpoint
from videoplatform.adapters.rabbitmq.events import RabbitEventChannel
from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.application.context import Caller
from videoplatform.application.events.reactions import PLATFORM_SUBSCRIPTIONS
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.videos import VideoStatus
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.settings import Settings

EXE = str(Path(sys.executable).parent / "videoplatform")


def test_the_worker_moves_an_upload_to_the_queue_beats_and_stops_on_sigterm(
    tmp_path: Path, rabbitmq_service: ServiceEndpoint
) -> None:
    url = f"amqp://guest:guest@{rabbitmq_service.host}:{rabbitmq_service.port}/%2F"
    prefix = f"vp-test-{secrets.token_hex(4)}."
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")},
        "VIDEOPLATFORM_DATA_DIR": str(tmp_path / "data"),
        "VIDEOPLATFORM_QUEUE_URL": url,
        "VIDEOPLATFORM_QUEUE_PREFIX": prefix,
        "VIDEOPLATFORM_ARGON2_TIME_COST": "1",
        "VIDEOPLATFORM_ARGON2_MEMORY_KIB": "1024",
        "VIDEOPLATFORM_ARGON2_PARALLELISM": "1",
    }
    settings = Settings.from_env(env)
    # The API side: an upload commits the video and its outbox message, nothing more.
    with create_platform(settings) as platform:
        admin = platform.users.create_admin(RegisterUser("a@example.com", "a long passphrase", "A"))
        video = platform.videos.upload(
            Caller(admin.id),
            UploadVideo(title="Clip", source=io.BytesIO(b"\x00\x00\x00\x18ftypmp42")),
        )

    heartbeat = tmp_path / "worker.alive"
    worker = subprocess.Popen(
        [EXE, "worker", "--concurrency", "2", "--heartbeat", str(heartbeat), "--grace", "10"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watcher = RabbitJobQueue(Topology(url=url, prefix=prefix, max_deliveries=4))
    try:
        # The worker relays the job, processes it (the bytes are no media: the video
        # fails with the reason, for good) and acks it: nothing is dead-lettered.
        deadline = time.monotonic() + 60
        status = VideoStatus.UPLOADED
        while status is not VideoStatus.FAILED and time.monotonic() < deadline:
            with create_platform(settings) as platform:
                state = platform.processing.progress(Caller(admin.id), video.id)
            status = state.status
            time.sleep(0.2)
        assert status is VideoStatus.FAILED
        assert state.last_error
        assert watcher.dead_letters() == []
        assert heartbeat.exists()
        check = subprocess.run(
            [EXE, "worker", "check", "--heartbeat", str(heartbeat)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )
        assert check.returncode == 0, check.stdout

        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0, output
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        watcher.delete_queues()
        watcher.close()
        # The event subscriptions' queues the worker's relay declared, and the exchange.
        events = RabbitEventChannel(watcher.topology)
        events.delete_queues(PLATFORM_SUBSCRIPTIONS)
        events.close()
