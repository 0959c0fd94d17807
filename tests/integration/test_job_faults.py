"""Faults in the job system, on the real processes with real ffmpeg: a worker killed with
SIGKILL in the middle of a transcode (and an embedded ``serve`` killed the same way),
the broker stopped while uploads are accepted, and a poison job that ends in the dead
letters with its video failed.

The RabbitMQ broker is shared by every integration test, and nox runs them in several
processes at once: the outage test never stops it. Its processes reach the broker
through a TCP proxy (``tests.integration.tcp_proxy``), and the outage is the proxy
cutting every connection and refusing new ones. Every test uses queues of its own
prefix and deletes them afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pika
import psycopg
import pytest
from bench import clips as media_clips

from tests.conftest import ServiceEndpoint, service_unavailable, services_required
from tests.integration.served import (
    API,
    Served,
    Worker,
    play,
    process_env,
    queue_topology,
    sign_up,
    upload_video,
)
from tests.integration.tcp_proxy import TcpProxy
from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
from videoplatform.application.context import Caller
from videoplatform.application.processing.base import GIVEN_UP
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.application.video_jobs import PROCESS_VIDEO
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.settings import Settings

EXE = str(Path(sys.executable).parent / "videoplatform")
# Small outputs, but a transcode that lasts several seconds on two cores: long enough to
# kill a worker in the middle of it.
SLOW_MEDIA = {
    "VIDEOPLATFORM_X264_PRESET": "medium",
    "VIDEOPLATFORM_HLS_SEGMENT_SECONDS": "2",
    "VIDEOPLATFORM_POSTER_WIDTHS": "320",
    "VIDEOPLATFORM_PROCESSING_LADDER": "720p,360p",
}
FAST_MEDIA = {**SLOW_MEDIA, "VIDEOPLATFORM_X264_PRESET": "ultrafast"}

Query = Callable[[str, tuple[object, ...]], list[tuple[Any, ...]]]


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("clip")
    return media_clips.clip(folder, "long.mp4", width=1280, height=720, duration=8.0).read_bytes()


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("clip")
    return media_clips.clip(folder, "short.mp4", width=640, height=360, duration=2.0).read_bytes()


@pytest.fixture
def production_env(production_env: dict[str, str]) -> dict[str, str]:
    """The shared production profile, with this module's slow media settings."""
    production_env.update(SLOW_MEDIA)
    return production_env


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (here: a test's temporary
    directory, which every ffmpeg of that test is given as input or output)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def _wait_for(what: str, check: Callable[[], bool], seconds: float, step: float = 0.1) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(step)


def _postgres(url: str) -> Query:
    def query(sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with psycopg.connect(url) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()

    return query


def _sqlite(path: Path) -> Query:
    def query(sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return conn.execute(sql, params).fetchall()

    return query


class VideoRow(NamedTuple):
    status: str
    progress: int
    attempts: int
    last_error: str | None
    assets: dict[str, Any] | None
    renditions: list[dict[str, Any]]


def _video(query: Query, video_id: str) -> VideoRow:
    [(status, progress, attempts, last_error, assets, renditions)] = query(
        "SELECT status, progress, processing_attempts, last_error, assets, renditions "
        "FROM videos WHERE id = ?",
        (video_id,),
    )
    return VideoRow(
        status,
        progress,
        attempts,
        last_error,
        json.loads(assets) if assets else None,
        json.loads(renditions),
    )


def _process_events(query: Query, video_id: str) -> list[tuple[str, dict[str, str]]]:
    """The audit trail's processing results for the video: (result, metadata), in order."""
    rows = query(
        "SELECT result, metadata FROM audit_events "
        "WHERE action = 'video.process' AND resource_id = ? ORDER BY seq",
        (video_id,),
    )
    return [(result, json.loads(metadata)) for result, metadata in rows]


def _outputs(objects: Path, video_id: str) -> list[str]:
    """Every stored file under the video's output prefix, as storage keys."""
    out = objects / "videos" / video_id / "out"
    return sorted(p.relative_to(objects).as_posix() for p in out.rglob("*") if p.is_file())


def _wait_until_transcoding(query: Query, video_id: str, seconds: float, folder: Path) -> VideoRow:
    """Wait until the video is processing with progress between 0 and 100 exclusive
    while an ffmpeg of this test (one mentioning ``folder``) runs: the transcode is
    under way, not over with only its outputs left to store."""
    row = _video(query, video_id)
    deadline = time.monotonic() + seconds
    while not (
        row.status == "processing" and 0 < row.progress < 100 and _processes_mentioning(str(folder))
    ):
        assert row.status in ("uploaded", "processing"), row
        if time.monotonic() > deadline:
            pytest.fail(f"the video never got into transcoding: {row}")
        time.sleep(0.05)
        row = _video(query, video_id)
    return row


def _assert_ready_exactly_once(
    query: Query, objects: Path, video_id: str, attempts: int
) -> dict[str, Any]:
    """Ready from attempt ``attempts``: one success in the audit trail, and the stored
    outputs are exactly that attempt's, every one the video refers to among them."""
    row = _video(query, video_id)
    assert (row.status, row.progress, row.attempts) == ("ready", 100, attempts), row
    assert row.assets is not None
    prefix = str(row.assets["prefix"])
    assert prefix.startswith(f"videos/{video_id}/out/") and prefix.endswith(f"/{attempts}/")
    events = _process_events(query, video_id)
    assert [(result, meta["attempt"]) for result, meta in events] == [("success", str(attempts))]
    stored = _outputs(objects, video_id)
    assert stored and all(key.startswith(prefix) for key in stored), stored
    assert not any("/.incoming-" in key for key in stored), stored
    referenced = [row.assets["master_playlist"]] + [r["playlist_key"] for r in row.renditions]
    assert {prefix + key for key in referenced} <= set(stored)
    assert [r["name"] for r in row.renditions] == ["720p", "360p"]
    master = (objects / (prefix + row.assets["master_playlist"])).read_text()
    listed = [ln for ln in master.splitlines() if ln and not ln.startswith("#")]
    assert sorted(f"hls/{v}" for v in listed) == sorted(r["playlist_key"] for r in row.renditions)
    return row.assets


# -- 1. a worker killed in the middle of a transcode ------------------------------------------


def test_a_worker_killed_mid_transcode_leaves_the_job_to_another_which_makes_it_ready_once(
    tmp_path: Path, long_clip: bytes, production_env: dict[str, str]
) -> None:
    query = _postgres(production_env["VIDEOPLATFORM_DATABASE_URL"])
    objects = tmp_path / "objects"
    (tmp_path / "api").mkdir()
    server = Served(tmp_path / "api", env=production_env)
    doomed = Worker(production_env, tmp_path, "doomed")
    survivor: Worker | None = None
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            me = sign_up(http)
            video_id = upload_video(http, me, long_clip, "Killed mid-transcode")
            _wait_until_transcoding(query, video_id, 60, tmp_path)

            doomed.kill_group()
            # ffmpeg leads a session of its own (so a timeout kills its group whole), out
            # of reach of the worker's group: it must die with its worker all the same.
            _wait_for(
                "ffmpeg to die with its worker", lambda: not _processes_mentioning(str(tmp_path)), 5
            )
            interrupted = _video(query, video_id)
            assert (interrupted.status, interrupted.attempts) == ("processing", 1)
            assert _outputs(objects, video_id) == []  # nothing was uploaded yet

            # The broker saw the connection go and puts the job back; another worker
            # takes it as its second attempt.
            survivor = Worker(production_env, tmp_path, "survivor")
            _wait_for(
                "the video to be ready",
                lambda: _video(query, video_id).status in ("ready", "failed"),
                40,
                0.2,
            )
            _assert_ready_exactly_once(query, objects, video_id, attempts=2)
            play(http, me, video_id, rungs=2)
        queue = RabbitJobQueue(queue_topology(Settings.from_env(production_env)), role="watcher")
        try:
            assert queue.dead_letters() == []
            assert queue.receive(0.2) is None  # nothing left to do
        finally:
            queue.close()
    finally:
        server.stop()
        if doomed.process.poll() is None:
            doomed.kill_group()
        if survivor is not None:
            survivor.stop()


SILENT_FFMPEG = """
import sys
from videoplatform.adapters.ffmpeg.config import FfmpegConfig
from videoplatform.adapters.ffmpeg.process import run_ffmpeg

config = FfmpegConfig()
run_ffmpeg(
    [config.executable(), "-nostdin", "-nostats", "-loglevel", "error",
     "-re", "-f", "lavfi", "-i", "nullsrc=s=64x64:r=5:d=120", "-metadata", "comment=" + sys.argv[1],
     "-f", "null", "-"],
    config,
    timeout=300,
)
"""


def test_ffmpeg_dies_with_its_worker_even_when_it_writes_nothing(tmp_path: Path) -> None:
    # A transcode reporting progress would also die of its broken pipe once it writes;
    # a poster or a storyboard writes nothing until it ends, and must not run on alone.
    marker = f"vp-orphan-{secrets.token_hex(6)}"
    parent = subprocess.Popen([sys.executable, "-c", SILENT_FFMPEG, marker], cwd=tmp_path)
    try:

        def ffmpeg() -> list[int]:
            return [pid for pid in _processes_mentioning(marker) if pid != parent.pid]

        _wait_for("ffmpeg to start", lambda: bool(ffmpeg()), 30)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        _wait_for("ffmpeg to die with its parent", lambda: not ffmpeg(), 5)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        for pid in _processes_mentioning(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_an_embedded_serve_killed_mid_transcode_finishes_the_video_once_after_restart(
    tmp_path: Path, long_clip: bytes
) -> None:
    query = _sqlite(tmp_path / "data" / "videoplatform.db")
    objects = tmp_path / "data" / "objects"
    first = Served(tmp_path, env=SLOW_MEDIA, new_session=True)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as http:
            me = sign_up(http)
            video_id = upload_video(http, me, long_clip, "Killed with its server")
        _wait_until_transcoding(query, video_id, 60, tmp_path / "data")
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(10)
    finally:
        if first.process.poll() is None:
            os.killpg(first.process.pid, signal.SIGKILL)
        first.stop()
    # The gunicorn worker (serve's child) and its ffmpeg are gone too.
    _wait_for("ffmpeg to die with serve", lambda: not _processes_mentioning(str(tmp_path)), 5)
    assert _video(query, video_id).status == "processing"

    # Restarted, serve queues the unfinished video again (its jobs died with it).
    second = Served(tmp_path, env=SLOW_MEDIA)
    try:
        _wait_for(
            "the video to be ready",
            lambda: _video(query, video_id).status in ("ready", "failed"),
            40,
            0.2,
        )
        _assert_ready_exactly_once(query, objects, video_id, attempts=2)
        with httpx.Client(base_url=second.url, timeout=30) as http:
            login = http.post(
                f"{API}/auth/session",
                json={"email": _owner_email(query, video_id), "password": "a long passphrase"},
            )
            assert login.status_code == 201, login.text
            play(http, {"Authorization": f"Bearer {login.json()['token']}"}, video_id, rungs=2)
    finally:
        second.stop()


def _owner_email(query: Query, video_id: str) -> str:
    [(email,)] = query(
        "SELECT users.email FROM users JOIN videos ON videos.owner_id = users.id "
        "WHERE videos.id = ?",
        (video_id,),
    )
    return str(email)


# -- 2. the broker stopped while uploads are accepted -----------------------------------------


def _rabbitmqctl() -> str:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        service_unavailable(
            "rabbitmqctl",
            "localhost",
            0,
            "not on PATH: cannot list the broker's connections",
            services_required(),
        )
    return ctl


def _amqp_answers(host: str, port: int) -> bool:
    """The broker accepts an AMQP connection (not only TCP: a stopped app keeps none)."""
    try:
        parameters = pika.ConnectionParameters(
            host=host,
            port=port,
            credentials=pika.PlainCredentials("guest", "guest"),
            connection_attempts=1,
            socket_timeout=1,
            blocked_connection_timeout=1,
        )
        pika.BlockingConnection(parameters).close()
    except (pika.exceptions.AMQPError, OSError):
        return False
    return True


@contextlib.contextmanager
def _broker_cut(proxy: TcpProxy) -> Iterator[None]:
    """The broker out of reach for the block (through ``proxy``: connections dropped, new
    ones refused), and answering AMQP again before the block's caller goes on."""
    proxy.cut()
    try:
        if _amqp_answers("127.0.0.1", proxy.port):
            pytest.fail("the broker still answers through the cut proxy")
        yield
    finally:
        proxy.restore()
        _wait_for("the broker to answer AMQP", lambda: _amqp_answers("127.0.0.1", proxy.port), 60)


def test_uploads_accepted_while_the_broker_is_down_are_all_processed_once_it_is_back(
    tmp_path: Path,
    short_clip: bytes,
    production_env: dict[str, str],
    rabbitmq_service: ServiceEndpoint,
) -> None:
    ctl = _rabbitmqctl()
    production_env.update(FAST_MEDIA)
    proxy = TcpProxy((rabbitmq_service.host, rabbitmq_service.port))
    # The processes' own settings: the fixture deletes the queues directly afterwards.
    env = production_env | {
        "VIDEOPLATFORM_QUEUE_URL": f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"
    }
    query = _postgres(env["VIDEOPLATFORM_DATABASE_URL"])
    (tmp_path / "api").mkdir()
    server = Served(tmp_path / "api", env=env)
    worker = Worker(env, tmp_path, "worker")  # connected before the outage
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            me = sign_up(http)
            with _broker_cut(proxy):
                # The API only writes the video and its outbox message, in one commit.
                playable = [upload_video(http, me, short_clip, f"Clip {n}") for n in range(2)]
                junk = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 16
                not_media = [upload_video(http, me, junk, "Not a video")]
                time.sleep(1)  # the worker's relay tries, and fails, meanwhile
                [(pending,)] = query(
                    "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND topic = %s",
                    (PROCESS_VIDEO,),
                )
                assert pending == 3
                # The uploads' events wait beside their jobs.
                [(events,)] = query(
                    "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND topic = %s",
                    ("event.VideoUploaded",),
                )
                assert events == 3
                assert {_video(query, v).status for v in playable + not_media} == {"uploaded"}

            def settled() -> bool:
                return all(
                    _video(query, v).status in ("ready", "failed") for v in playable + not_media
                )

            _wait_for("every upload to be processed", settled, 60, 0.2)
            for video_id in playable:
                row = _video(query, video_id)
                assert (row.status, row.attempts, row.last_error) == ("ready", 1, None), row
                play(http, me, video_id, rungs=1)  # 360p: nothing is upscaled
            for video_id in not_media:
                row = _video(query, video_id)
                assert row.status == "failed" and row.last_error, row
                assert _outputs(tmp_path / "objects", video_id) == []
            # The worker's relay sends the last events (the videos ready) right after.
            _wait_for(
                "the outbox to be empty",
                lambda: query("SELECT count(*) FROM outbox WHERE sent_at IS NULL", ()) == [(0,)],
                10,
                0.1,
            )

            # Only the worker ever published to the broker, never the API's processes:
            # their one connection follows the events of the API node's read cache.
            listed = subprocess.run(
                [ctl, "-q", "list_connections", "client_properties"],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
            api_pids = {server.process.pid, *_children(server.process.pid)}
            api_connections = [
                line for line in listed.splitlines() for p in api_pids if f"pid {p} #" in line
            ]
            assert all("videoplatform events read-cache pid" in c for c in api_connections), listed
            assert f"pid {worker.process.pid} #" in listed
    finally:
        server.stop()
        worker.stop()
        proxy.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


# -- 3. a poison job ----------------------------------------------------------------------------


def test_a_job_failing_every_attempt_is_dead_lettered_and_its_video_failed_with_the_reason(
    tmp_path: Path, long_clip: bytes, production_env: dict[str, str]
) -> None:
    # Every transcode of this clip runs past the time limit: a failure that might pass
    # (a busy machine) and is retried, but never does.
    env = production_env  # updated in place: its teardown deletes these queues
    env.update(
        VIDEOPLATFORM_FFMPEG_TIMEOUT_SECONDS="1",
        VIDEOPLATFORM_JOB_MAX_ATTEMPTS="2",
        VIDEOPLATFORM_JOB_RETRY_BASE_SECONDS="1",
        VIDEOPLATFORM_JOB_RETRY_CAP_SECONDS="1",
    )
    settings = Settings.from_env(process_env(env))
    query = _postgres(settings.database_url)
    with create_platform(settings) as platform:
        owner = platform.users.create_admin(RegisterUser("o@example.com", "a long passphrase", "O"))
        video = platform.videos.upload(
            Caller(owner.id), UploadVideo(title="Too slow", source=io.BytesIO(long_clip))
        )
    video_id = str(video.id)
    worker = Worker(env, tmp_path, "worker")
    queue = RabbitJobQueue(queue_topology(settings), role="watcher")
    try:
        _wait_for("the job in the dead letters", lambda: bool(queue.dead_letters()), 60, 0.3)
        [dead] = queue.dead_letters()
        assert (dead.kind, dict(dead.payload)) == (PROCESS_VIDEO, {"video_id": video_id})
        # Failed when, and only when, its job was given up: after exactly two attempts.
        row = _video(query, video_id)
        assert (row.status, row.attempts) == ("failed", 2), row
        # The owner reads that it was the server's doing; the audit trail says what.
        assert row.last_error == GIVEN_UP
        assert _process_events(query, video_id) == [
            (
                "failure",
                {
                    "attempt": "2",
                    "reason": GIVEN_UP,
                    "code": "processing_error",
                    "detail": "RuntimeError: transcoding took too long: ffmpeg ran longer than 1s",
                },
            )
        ]
        assert _outputs(tmp_path / "objects", video_id) == []
        assert queue.receive(0.2) is None
    finally:
        queue.close()
        worker.stop()
