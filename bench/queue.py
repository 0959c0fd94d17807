"""The job system: how soon a committed job starts and how many go through per second,
and how processing scales with worker processes.

1. Empty jobs through the outbox: records committed in a unit of work (topic
   ``bench-empty``, an empty handler), moved to the queue by the outbox relay and run by
   the job consumers of ``BackgroundWorkers``. On the production pieces (PostgreSQL and
   RabbitMQ) and, beside them in the same run, the embedded ones (SQLite and the
   in-process queue). Latency is from the commit's return to the handler's start, at a
   light steady rate, measured twice: with the relay woken by the commit (what the
   committing process does when it runs the relay itself: the embedded profile, on any
   commit that carries a domain event, as an upload does) and with the relay left to its
   poll (``RelayPolicy.poll_seconds``), as a ``videoplatform worker`` process relays what
   an API process committed. Throughput drains a backlog committed before the relay and
   consumers start.
2. A backlog of short real transcodes (uploads of a tiny generated clip) drained by 1,
   then N ``videoplatform worker`` processes (``--concurrency 1`` each) on PostgreSQL,
   RabbitMQ and local storage; the time from starting them until every video is ready.

A service that cannot be reached is reported and its part skipped.
"""

from __future__ import annotations

import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from bench.clips import clip
from bench.http import CHEAP_ARGON2
from bench.sql import _percentiles, _postgres
from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.adapters.sql import migrate
from videoplatform.application.context import Caller
from videoplatform.application.jobs import JobHandler
from videoplatform.application.ports.persistence import OutboxMessage, UnitOfWorkFactory
from videoplatform.application.ports.queue import Job
from videoplatform.application.ports.system import Clock, IdGenerator
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import BackgroundWorkers

TOPIC = "bench-empty"
SECRET = "bench-playback-secret-".ljust(48, "x")
RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
AMQP_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/%2F"
EXE = str(Path(sys.executable).parent / "videoplatform")
ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 300.0  # the longest any measurement may take before it is called failed


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


class _Recorder:
    """The empty handler: notes when each job (by id, once: delivery is at least once)
    started, and signals when the expected number have."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started: dict[str, float] = {}
        self.expected = 0
        self.all_started = threading.Event()

    def expect(self, count: int) -> None:
        with self._lock:
            self.started.clear()
            self.expected = count
            self.all_started.clear()

    def handle(self, job: Job) -> None:
        now = time.perf_counter()
        with self._lock:
            self.started.setdefault(job.id, now)
            if len(self.started) >= self.expected:
                self.all_started.set()

    def wait(self, what: str) -> None:
        if not self.all_started.wait(WAIT_SECONDS):
            raise RuntimeError(
                f"{what}: only {len(self.started)} of {self.expected} jobs started "
                f"within {WAIT_SECONDS:.0f} s"
            )


def _commit(platform: Platform, count: int) -> list[str]:
    """``count`` outbox records committed in one unit of work, as a use case writes one."""
    uow_factory: UnitOfWorkFactory = platform.container.resolve(UnitOfWorkFactory)
    ids: IdGenerator = platform.container.resolve(IdGenerator)
    clock: Clock = platform.container.resolve(Clock)
    with uow_factory() as uow:
        written = []
        for _ in range(count):
            message = OutboxMessage(
                id=ids.new_id(), topic=TOPIC, payload={}, created_at=clock.now()
            )
            uow.outbox.add(message)
            written.append(message.id)
        uow.commit()
    return written


def _workers(platform: Platform, recorder: _Recorder, consumers: int) -> BackgroundWorkers:
    handlers: dict[str, JobHandler] = {TOPIC: recorder.handle}
    return BackgroundWorkers(platform, handlers, concurrency=consumers, sweep_seconds=None)


def _latency(
    platform: Platform,
    recorder: _Recorder,
    consumers: int,
    *,
    samples: int,
    rate: float,
    wake: bool,
) -> dict[str, float]:
    recorder.expect(samples)
    committed: dict[str, float] = {}
    with _workers(platform, recorder, consumers) as workers:
        time.sleep(0.5)  # connections open, the relay's first (empty) look done
        next_at = time.perf_counter()
        for _ in range(samples):
            (job_id,) = _commit(platform, 1)
            committed[job_id] = time.perf_counter()
            if wake and workers.relay is not None:
                workers.relay.wake()  # what a commit's domain event does in this process
            next_at += 1.0 / rate
            time.sleep(max(0.0, next_at - time.perf_counter()))
        recorder.wait("latency")
    taken = [recorder.started[j] - committed[j] for j in committed]
    result = _percentiles(taken)
    result["max_ms"] = max(taken) * 1000
    return result


def _throughput(
    platform: Platform, recorder: _Recorder, consumers: int, *, jobs: int
) -> dict[str, float]:
    for start in range(0, jobs, 500):
        _commit(platform, min(500, jobs - start))
    recorder.expect(jobs)
    started = time.perf_counter()
    with _workers(platform, recorder, consumers):
        recorder.wait("throughput")
        seconds = time.perf_counter() - started
    return {"jobs": jobs, "seconds": seconds, "jobs_per_s": jobs / seconds}


def _measure_profile(
    settings: Settings, *, consumers: int, samples: int, rate: float, jobs: int
) -> dict[str, Any]:
    recorder = _Recorder()
    with create_platform(settings) as platform:
        poll_samples = max(5, samples // 4)
        return {
            "latency_woken": _latency(
                platform, recorder, consumers, samples=samples, rate=rate, wake=True
            ),
            "latency_polled": _latency(
                platform, recorder, consumers, samples=poll_samples, rate=rate / 4, wake=False
            ),
            "throughput": _throughput(platform, recorder, consumers, jobs=jobs),
        }


def _topology(settings: Settings) -> Topology:
    """The topology the platform builds from these settings (entrypoints.queueing)."""
    return Topology(
        url=settings.queue_url,
        prefix=settings.queue_prefix,
        max_deliveries=settings.job_max_attempts + 1,
        retry_base_seconds=settings.job_retry_base_seconds,
        retry_cap_seconds=settings.job_retry_cap_seconds,
        consumer_timeout_ms=settings.queue_consumer_timeout_seconds * 1000,
    )


@contextmanager
def _broker_prefix(settings: Settings) -> Iterator[None]:
    """Delete this run's queues afterwards, whatever happened."""
    try:
        yield
    finally:
        cleaner = RabbitJobQueue(_topology(settings))
        try:
            cleaner.delete_queues()
        finally:
            cleaner.close()


@contextmanager
def _production(work: Path) -> Iterator[tuple[dict[str, str], Settings, Engine]]:
    """The environment and settings of a production profile on a throwaway, migrated
    PostgreSQL database and a fresh queue prefix, and that database's engine."""
    with _postgres() as engine:
        migrate.upgrade(engine)
        env = _production_env(work, engine)
        settings = Settings.from_env(env)
        with _broker_prefix(settings):
            yield env, settings, engine


def _production_env(work: Path, engine: Engine) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
    env |= {f"VIDEOPLATFORM_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()}
    env |= {
        "VIDEOPLATFORM_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "VIDEOPLATFORM_QUEUE_URL": AMQP_URL,
        "VIDEOPLATFORM_QUEUE_PREFIX": f"vp-bench-{secrets.token_hex(4)}.",
        "VIDEOPLATFORM_PLAYBACK_SECRET": SECRET,
        "VIDEOPLATFORM_STORAGE_URL": (work / "objects").resolve().as_uri(),
        "VIDEOPLATFORM_DATA_DIR": str(work / "data"),
        "VIDEOPLATFORM_X264_PRESET": "ultrafast",
    }
    return env


def _empty_jobs(
    services: dict[str, bool], *, consumers: int, samples: int, rate: float, jobs: int
) -> dict[str, Any]:
    profiles: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        embedded = Settings(data_dir=str(Path(folder) / "embedded"))
        profiles["sqlite+memory"] = _measure_profile(
            embedded, consumers=consumers, samples=samples, rate=rate, jobs=jobs
        )
        if services["postgresql"] and services["rabbitmq"]:
            with _production(Path(folder) / "production") as (_, settings, _engine):
                profiles["postgresql+rabbitmq"] = _measure_profile(
                    settings, consumers=consumers, samples=samples, rate=rate, jobs=jobs
                )
    return profiles


# -- worker processes draining real transcodes -----------------------------------------


def _upload_backlog(platform: Platform, owner: Caller, source: bytes, count: int) -> list[str]:
    return [
        str(
            platform.videos.upload(
                owner, UploadVideo(title=f"Bench {n}", source=io.BytesIO(source))
            ).id
        )
        for n in range(count)
    ]


def _finished(engine: Engine, ids: list[str]) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, count(*) FROM videos WHERE id = ANY(:ids) GROUP BY status"),
            {"ids": ids},
        )
        return {str(status): int(count) for status, count in rows}


def _drain(
    engine: Engine, env: dict[str, str], ids: list[str], processes: int, work: Path
) -> float:
    """Start ``processes`` workers; seconds until every video in ``ids`` is ready."""
    logs = [(work / f"worker-{processes}-{n}.log").open("wb") for n in range(processes)]
    started = time.perf_counter()
    workers = [
        subprocess.Popen(  # noqa: S603 - our own console script
            [EXE, "worker", "--concurrency", "1", "--grace", "10"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        while True:
            counts = _finished(engine, ids)
            if counts.get("ready", 0) + counts.get("failed", 0) == len(ids):
                elapsed = time.perf_counter() - started
                break
            if time.perf_counter() - started > WAIT_SECONDS:
                raise RuntimeError(f"{processes} workers: not done after {WAIT_SECONDS:.0f} s")
            if any(w.poll() is not None for w in workers):
                raise RuntimeError(f"a worker exited early; see its log in {work}")
            time.sleep(0.1)
        if counts.get("failed"):
            raise RuntimeError(f"{counts['failed']} of {len(ids)} videos failed to process")
        return elapsed
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        for log in logs:
            log.close()


def _transcodes(*, videos: int, max_workers: int, clip_seconds: float) -> dict[str, Any]:
    counts = sorted({1, max_workers})
    result: dict[str, Any] = {
        "videos": videos,
        "clip": f"640x360, {clip_seconds:g} s, with audio",
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = clip(work, width=640, height=360, duration=clip_seconds).read_bytes()
        with (
            _production(work / "production") as (env, settings, engine),
            create_platform(settings) as platform,
        ):
            admin = platform.users.create_admin(
                RegisterUser("bench@example.com", "a long bench passphrase", "Bench")
            )
            for processes in counts:
                ids = _upload_backlog(platform, Caller(admin.id), source, videos)
                seconds = _drain(engine, env, ids, processes, work)
                result["runs"][str(processes)] = {
                    "seconds": seconds,
                    "videos_per_minute": videos / seconds * 60,
                }
    first, last = result["runs"][str(counts[0])], result["runs"][str(counts[-1])]
    result["scaling"] = first["seconds"] / last["seconds"]
    result["workers"] = counts
    return result


def run(
    *,
    jobs: int = 2000,
    samples: int = 100,
    consumers: int = 1,
    videos: int = 8,
    workers: int = 2,
    clip_seconds: float = 2.0,
) -> dict[str, Any]:
    services = {
        "postgresql": _reachable(POSTGRES_HOST, POSTGRES_PORT),
        "rabbitmq": _reachable(RABBIT_HOST, RABBIT_PORT),
    }
    report: dict[str, Any] = {
        "services": services,
        "cpu_count": os.cpu_count(),
        "consumers": consumers,
        "rate_per_s": 20.0,
    }
    report["empty_jobs"] = _empty_jobs(
        services, consumers=consumers, samples=samples, rate=report["rate_per_s"], jobs=jobs
    )
    if services["postgresql"] and services["rabbitmq"]:
        report["transcodes"] = _transcodes(
            videos=videos, max_workers=workers, clip_seconds=clip_seconds
        )
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    for name, up in report["services"].items():
        if not up:
            print(f"{name} unreachable: its measurements are skipped")
    rate = report["rate_per_s"]
    print(
        f"\nEmpty jobs, outbox -> relay -> queue -> {report['consumers']} consumer thread(s); "
        "commit-to-start latency, ms"
    )
    header = f"{'profile':<21} {'relay':<14} {'rate/s':>6} {'p50':>8} {'p95':>8} {'max':>8}"
    print(header)
    print("-" * len(header))
    for profile, measured in report["empty_jobs"].items():
        for label, key, at in (
            ("woken", "latency_woken", rate),
            ("polled", "latency_polled", rate / 4),
        ):
            row = measured[key]
            print(
                f"{profile:<21} {label:<14} {at:>6g} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} "
                f"{row['max_ms']:>8.1f}"
            )
    print("woken: the commit wakes the relay (same process); polled: the relay's 1 s poll")
    print(f"\n{'profile':<21} {'backlog':>8} {'seconds':>8} {'jobs/s':>8}")
    for profile, measured in report["empty_jobs"].items():
        t = measured["throughput"]
        print(f"{profile:<21} {t['jobs']:>8} {t['seconds']:>8.2f} {t['jobs_per_s']:>8.0f}")
    transcodes = report.get("transcodes")
    if transcodes:
        print(
            f"\n{transcodes['videos']} transcodes ({transcodes['clip']}, x264 ultrafast) "
            "drained by `videoplatform worker --concurrency 1` processes"
        )
        print(f"{'workers':>7} {'seconds':>8} {'videos/min':>10}")
        for count, row in transcodes["runs"].items():
            print(f"{count:>7} {row['seconds']:>8.1f} {row['videos_per_minute']:>10.1f}")
        low, high = transcodes["workers"][0], transcodes["workers"][-1]
        print(
            f"scaling {low} -> {high} workers: x{transcodes['scaling']:.2f} "
            f"(this machine has {report['cpu_count']} cores; ffmpeg uses several threads)"
        )
        print("seconds: from starting the processes (their start-up included) to all ready")
