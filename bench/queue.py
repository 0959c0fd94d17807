"""The job system: how soon a committed job starts and how many go through per second,
and how processing scales with worker processes.

1. Empty jobs through the outbox: records committed in a unit of work (topic
   ``bench-empty``, an empty handler), moved to the queue by the outbox relay and run by
   job consumers. Latency is from the commit's return to the handler's start, at a light
   rate (randomly spaced commits), on each profile the way it runs:

   - production (PostgreSQL and RabbitMQ): this process commits, as an API process does,
     and runs no relay; a separate worker process (:func:`run_worker`, what
     ``videoplatform worker`` runs) relays and consumes. Its relay is woken by
     PostgreSQL's notification of the commit (LISTEN/NOTIFY), and, for comparison, with
     listening turned off (``VIDEOPLATFORM_RELAY_LISTEN=false``) it waits for its poll
     (``VIDEOPLATFORM_RELAY_POLL_MS``). Both processes read the same system-wide clock
     (``CLOCK_MONOTONIC``), so the two ends of each sample compare.
   - embedded (SQLite and the in-process queue): the committing process runs the relay
     itself and wakes it, as a commit carrying a domain event (an upload) does; and,
     for comparison, the same relay left to its poll (a commit made by another process
     on the same SQLite file).

   Throughput drains a backlog committed before the relay and consumers (in this
   process) start.
2. A backlog of short real transcodes (uploads of a tiny generated clip) drained by 1,
   then N ``videoplatform worker`` processes (``--concurrency 1`` each) on PostgreSQL,
   RabbitMQ and local storage; the time from the first video's processing start (not
   from spawning the processes, whose start-up is reported apart) until every video is
   ready.

A service that cannot be reached is reported and its part skipped.
"""

from __future__ import annotations

import io
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from bench.clips import clip
from bench.databases import percentiles, postgres
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
from videoplatform.entrypoints.worker import BackgroundWorkers, run_worker

TOPIC = "bench-empty"
SECRET = "bench-playback-secret-".ljust(48, "x")
RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
AMQP_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/%2F"
EXE = str(Path(sys.executable).parent / "videoplatform")
ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 300.0  # the longest any measurement may take before it is called failed
STOP_SECONDS = 30.0  # how long a worker process may take to stop before it is killed
GOAL_P95_MS = 25.0  # commit-to-start, production path (PostgreSQL + RabbitMQ)
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


def _now() -> float:
    """Seconds on the system-wide monotonic clock, the same in every process."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


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
        self.note(job.id, _now())

    def note(self, job_id: str, at: float) -> None:
        with self._lock:
            self.started.setdefault(job_id, at)
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


def _steady_commits(
    platform: Platform,
    recorder: _Recorder,
    *,
    samples: int,
    rate: float,
    after: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Commit ``samples`` jobs one by one at ``rate`` per second on average (calling
    ``after`` after each commit), wait until all have started; commit-to-start
    percentiles. The gaps vary at random (half to one and a half the mean) so that
    commits do not fall in step with a relay's poll."""
    recorder.expect(samples)
    committed: dict[str, float] = {}
    gaps = random.Random(7)
    next_at = _now()
    for _ in range(samples):
        (job_id,) = _commit(platform, 1)
        committed[job_id] = _now()
        if after is not None:
            after()
        next_at += gaps.uniform(0.5, 1.5) / rate
        time.sleep(max(0.0, next_at - _now()))
    recorder.wait("latency")
    return percentiles([recorder.started[j] - committed[j] for j in committed])


def _latency_in_process(
    platform: Platform,
    recorder: _Recorder,
    consumers: int,
    *,
    samples: int,
    rate: float,
    wake: bool,
) -> dict[str, float]:
    """The relay and consumers in the committing process (the embedded profile)."""
    with _workers(platform, recorder, consumers) as workers:
        time.sleep(0.5)  # connections open, the relay's first (empty) look done
        relay = workers.relay
        # What a commit's domain event does in this process (an upload's, say).
        after = relay.wake if wake and relay is not None else None
        return _steady_commits(platform, recorder, samples=samples, rate=rate, after=after)


def worker_process(consumers: int) -> int:
    """A worker process for the production path: :func:`run_worker` (as ``videoplatform
    worker`` runs it) with the empty handler, which writes each job's id and the time it
    started to standard output. Settings come from the environment."""
    lock = threading.Lock()

    def handle(job: Job) -> None:
        at = _now()
        with lock:
            sys.stdout.write(f"{job.id} {at!r}\n")
            sys.stdout.flush()

    settings = Settings.from_env()
    return run_worker(settings, concurrency=consumers, handlers={TOPIC: handle}, grace_seconds=5)


@contextmanager
def _worker_process(
    env: dict[str, str], recorder: _Recorder, consumers: int, log_path: Path
) -> Iterator[None]:
    """A worker process (:func:`worker_process`) whose job starts go to ``recorder``."""
    code = (
        "import sys; from bench.queue import worker_process; "
        "sys.exit(worker_process(int(sys.argv[1])))"
    )
    with log_path.open("wb") as log:
        worker = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-c", code, str(consumers)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        stdout = worker.stdout
        if stdout is None:
            raise RuntimeError("the worker process's output is not piped")

        def read() -> None:
            for line in stdout:
                job_id, at = line.split()
                recorder.note(job_id, float(at))

        reader = threading.Thread(target=read, name="worker-output", daemon=True)
        reader.start()
        try:
            yield
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            reader.join(5)


def _latency_across_processes(
    api: Platform,
    env: dict[str, str],
    recorder: _Recorder,
    consumers: int,
    *,
    samples: int,
    rate: float,
    listen: bool,
    log_path: Path,
) -> dict[str, float]:
    """``api`` (this process, no relay) commits; a worker process relays and consumes,
    its relay woken by PostgreSQL's notification or (``listen`` off) by its poll."""
    worker_env = env | {"VIDEOPLATFORM_RELAY_LISTEN": "true" if listen else "false"}
    with _worker_process(worker_env, recorder, consumers, log_path):
        recorder.expect(1)
        _commit(api, 1)
        recorder.wait("the worker process's first job")  # it runs: connected, consuming
        time.sleep(0.5)
        return _steady_commits(api, recorder, samples=samples, rate=rate)


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


def _embedded_profile(
    settings: Settings, *, consumers: int, samples: int, rate: float, jobs: int
) -> dict[str, Any]:
    recorder = _Recorder()
    poll_samples = max(5, samples // 4)
    with create_platform(settings) as platform:
        return {
            "poll_ms": settings.relay_poll_ms,
            "latency": {
                "woken": {
                    "rate_per_s": rate,
                    **_latency_in_process(
                        platform, recorder, consumers, samples=samples, rate=rate, wake=True
                    ),
                },
                "polled": {
                    "rate_per_s": rate / 4,
                    **_latency_in_process(
                        platform,
                        recorder,
                        consumers,
                        samples=poll_samples,
                        rate=rate / 4,
                        wake=False,
                    ),
                },
            },
            "throughput": _throughput(platform, recorder, consumers, jobs=jobs),
        }


def _production_profile(
    env: dict[str, str],
    settings: Settings,
    work: Path,
    *,
    consumers: int,
    samples: int,
    rate: float,
    jobs: int,
) -> dict[str, Any]:
    recorder = _Recorder()
    poll_samples = max(5, samples // 4)
    with create_platform(settings) as api:
        notified = _latency_across_processes(
            api,
            env,
            recorder,
            consumers,
            samples=samples,
            rate=rate,
            listen=True,
            log_path=work / "worker-notified.log",
        )
        polled = _latency_across_processes(
            api,
            env,
            recorder,
            consumers,
            samples=poll_samples,
            rate=rate / 4,
            listen=False,
            log_path=work / "worker-polled.log",
        )
        return {
            "poll_ms": settings.relay_poll_ms,
            "latency": {
                "notified": {"rate_per_s": rate, **notified},
                "polled": {"rate_per_s": rate / 4, **polled},
            },
            "goal_p95_ms": GOAL_P95_MS,
            "throughput": _throughput(api, recorder, consumers, jobs=jobs),
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
    with postgres() as engine:
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
        profiles["sqlite+memory"] = _embedded_profile(
            embedded, consumers=consumers, samples=samples, rate=rate, jobs=jobs
        )
        if services["postgresql"] and services["rabbitmq"]:
            work = Path(folder) / "production"
            with _production(work) as (env, settings, _engine):
                profiles["postgresql+rabbitmq"] = _production_profile(
                    env,
                    settings,
                    Path(folder),
                    consumers=consumers,
                    samples=samples,
                    rate=rate,
                    jobs=jobs,
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


def _progress(engine: Engine, ids: list[str]) -> tuple[int, int, int]:
    """Of the videos ``ids``: how many have started processing (or finished), how many
    are ready, how many failed."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE status <> 'uploaded'),"
                " count(*) FILTER (WHERE status = 'ready'),"
                " count(*) FILTER (WHERE status = 'failed')"
                " FROM videos WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _drain(
    engine: Engine, env: dict[str, str], ids: list[str], processes: int, work: Path
) -> dict[str, float]:
    """Start ``processes`` workers; seconds from spawning them to the first video's
    processing start (their start-up), and from that start until every video in ``ids``
    is done (looked at every 20 ms)."""
    logs = [(work / f"worker-{processes}-{n}.log").open("wb") for n in range(processes)]
    spawned = time.perf_counter()
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
    first_start: float | None = None
    try:
        while True:
            now = time.perf_counter()
            started, ready, failed = _progress(engine, ids)
            if started and first_start is None:
                first_start = now
            if ready + failed == len(ids):
                break
            if now - spawned > WAIT_SECONDS:
                raise RuntimeError(f"{processes} workers: not done after {WAIT_SECONDS:.0f} s")
            if any(w.poll() is not None for w in workers):
                raise RuntimeError(f"a worker exited early; see its log in {work}")
            time.sleep(0.02)
        if failed:
            raise RuntimeError(f"{failed} of {len(ids)} videos failed to process")
        began = now if first_start is None else first_start  # all done at the first look
        return {"startup_seconds": began - spawned, "seconds": now - began}
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(STOP_SECONDS)
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
                timed = _drain(engine, env, ids, processes, work)
                result["runs"][str(processes)] = {
                    **timed,
                    "videos_per_minute": videos / timed["seconds"] * 60,
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


_PATHS = {
    ("sqlite+memory", "woken"): "embedded: relay in the committing process, woken",
    ("sqlite+memory", "polled"): "embedded: same relay, not woken (poll {poll} ms)",
    ("postgresql+rabbitmq", "notified"): "API commits, worker process: LISTEN/NOTIFY",
    ("postgresql+rabbitmq", "polled"): "API commits, worker process: poll {poll} ms only",
}


def _print(report: dict[str, Any]) -> None:
    for name, up in report["services"].items():
        if not up:
            print(f"{name} unreachable: its measurements are skipped")
    print(
        f"\nEmpty jobs, outbox -> relay -> queue -> {report['consumers']} consumer thread(s); "
        "commit-to-start latency, ms"
    )
    header = f"{'profile':<20} {'path':<52} {'rate/s':>6} {'p50':>7} {'p95':>7} {'max':>7}  goal"
    print(header)
    print("-" * len(header))
    for profile, measured in report["empty_jobs"].items():
        for key, row in measured["latency"].items():
            path = _PATHS[(profile, key)].format(poll=measured["poll_ms"])
            goal = ""
            if (profile, key) == ("postgresql+rabbitmq", "notified"):
                met = row["p95_ms"] < measured["goal_p95_ms"]
                goal = f"p95 < {measured['goal_p95_ms']:g} ms: {'met' if met else 'MISSED'}"
            print(
                f"{profile:<20} {path:<52} {row['rate_per_s']:>6g} {row['p50_ms']:>7.1f} "
                f"{row['p95_ms']:>7.1f} {row['max_ms']:>7.1f}  {goal}"
            )
    print(
        "The production rows are the path users meet (an API process commits, a "
        "`videoplatform worker` process relays and consumes); the embedded rows, one "
        "process doing both."
    )
    print(f"\n{'profile':<20} {'backlog':>8} {'seconds':>8} {'jobs/s':>8}")
    for profile, measured in report["empty_jobs"].items():
        t = measured["throughput"]
        print(f"{profile:<20} {t['jobs']:>8} {t['seconds']:>8.2f} {t['jobs_per_s']:>8.0f}")
    print("backlog: committed first, then drained by the relay and consumers of one process")
    transcodes = report.get("transcodes")
    if transcodes:
        print(
            f"\n{transcodes['videos']} transcodes ({transcodes['clip']}, x264 ultrafast) "
            "drained by `videoplatform worker --concurrency 1` processes"
        )
        print(f"{'workers':>7} {'start-up s':>10} {'seconds':>8} {'videos/min':>10}")
        for count, row in transcodes["runs"].items():
            print(
                f"{count:>7} {row['startup_seconds']:>10.1f} {row['seconds']:>8.1f} "
                f"{row['videos_per_minute']:>10.1f}"
            )
        low, high = transcodes["workers"][0], transcodes["workers"][-1]
        print(
            f"scaling {low} -> {high} workers: x{transcodes['scaling']:.2f} "
            f"(this machine has {report['cpu_count']} cores; ffmpeg uses several threads)"
        )
        print(
            "seconds: from the first video's processing start to all ready; start-up: "
            "from spawning the processes to that start (not counted in seconds)"
        )
