"""Prometheus metrics: what the API and the workers do (RED per route, every use case
through the dispatch point, logins, uploads, processing outcomes) and, at each scrape,
the platform's state (videos by status, the outbox backlog, dependencies, free disk).

Label values come from closed sets only (route templates, use-case names, error codes,
enum values), never ids or free text, so the number of series stays bounded.

Several gunicorn workers share one set of numbers through prometheus_client's
multiprocess mode: ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a directory it
empties at start, each worker writes its values there, and whichever worker answers a
scrape sums them. Without it (one process, an embedder) the values live in memory.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from videoplatform.application.dispatch import Message, Proceed, UseCaseCall
from videoplatform.application.health import HealthStatus
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import JobQueue, QueueDepth
from videoplatform.application.ports.system import Clock
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.application.processing.config import RetryableProcessingError
from videoplatform.application.processing.timings import STAGES, ProcessingTimings, StageTiming
from videoplatform.domain.errors import DomainError
from videoplatform.domain.videos import Video, VideoStatus
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.instruments import STORAGE_OPERATIONS, CacheReads, StorageTimings
from videoplatform.entrypoints.resilience import STATES, Breakers

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "videoplatform_"

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
USE_CASE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0)
STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
POOL_STATES = ("in_use", "idle", "overflow")
STORAGE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)
SPEED_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
UNMATCHED = "unmatched"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR) or None


def prepare_multiprocess(directory: Path) -> None:
    """Point this process (and the ones it forks) at ``directory`` for their values,
    emptied first: values of processes from an earlier run would be summed in."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    os.environ[MULTIPROCESS_DIR] = str(directory)


def forget_process(pid: int) -> None:
    """A worker process ended: its live gauges stop counting."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Metrics:
    """Every metric of one process, and what a scrape of it answers."""

    def __init__(self) -> None:
        shared = multiprocess_dir()
        if shared:
            # prometheus_client chooses where values live when it is imported; a process
            # forked after the environment changed must choose again.
            prometheus_values.ValueClass = prometheus_values.get_value_class()  # type: ignore[no-untyped-call]
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._pools: list[_PoolGauges] = []
        self._own = CollectorRegistry(auto_describe=True)
        target = None if shared else self._own  # shared: the values live in files
        self.http_requests = Counter(
            PREFIX + "http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=target,
        )
        self.http_duration = Histogram(
            PREFIX + "http_request_duration_seconds",
            "Time to answer an HTTP request (to the start of its body for streams).",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=target,
        )
        self.use_cases = Counter(
            PREFIX + "use_case_calls",
            "Use-case calls through the dispatch point, by name and outcome (ok or the "
            "error's stable code).",
            ["name", "outcome"],
            registry=target,
        )
        self.use_case_duration = Histogram(
            PREFIX + "use_case_duration_seconds",
            "Time a use case took.",
            ["name"],
            buckets=USE_CASE_BUCKETS,
            registry=target,
        )
        self.logins = Counter(
            PREFIX + "logins",
            "Password logins, by result (ok, failed, throttled).",
            ["result"],
            registry=target,
        )
        self.uploads = Counter(PREFIX + "uploads", "Videos uploaded.", registry=target)
        self.upload_bytes = Counter(
            PREFIX + "upload_bytes", "Bytes of uploaded video sources.", registry=target
        )
        self.processing = Counter(
            PREFIX + "processing_outcomes",
            "Processing attempts, by how they ended (retry: failed, another follows).",
            ["outcome"],
            registry=target,
        )
        self.processing_stages = Histogram(
            PREFIX + "processing_stage_seconds",
            "Time a stage of processing took, when it finished: fetch, probe, ladder (every "
            "rung at once, from one decode), stills (alongside the ladder), upload.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=target,
        )
        self.transcode_speed = Histogram(
            PREFIX + "transcode_speed_ratio",
            "How many times real time the HLS ladder was made at (media seconds per second).",
            buckets=SPEED_BUCKETS,
            registry=target,
        )
        self.event_streams = Gauge(
            PREFIX + "event_streams_open",
            "Server-Sent Event streams open now.",
            registry=target,
            multiprocess_mode="livesum",
        )
        self.share_redemptions = Counter(
            PREFIX + "share_redemptions",
            "Uses of share links (redeem, download, playback), by result (ok, refused: "
            "unknown, expired, used up, revoked or a wrong password; throttled).",
            ["result"],
            registry=target,
        )
        self.storage_duration = Histogram(
            PREFIX + "storage_operation_seconds",
            "Time a call to the object storage took (get: until the object was open), "
            "failed ones included.",
            ["operation"],
            buckets=STORAGE_BUCKETS,
            registry=target,
        )
        self.cache_reads = Counter(
            PREFIX + "cache_reads",
            "Cache reads, by result (hit or miss).",
            ["result"],
            registry=target,
        )
        self.db_pool = Gauge(
            PREFIX + "db_pool_connections",
            "Database connections of the pools: in_use (checked out), idle (open, "
            "waiting), overflow (open beyond the pool's size).",
            ["state"],
            registry=target,
            multiprocess_mode="livesum",
        )
        self.circuits = Gauge(
            PREFIX + "circuit_state",
            "Each dependency's circuit breaker in this process: 0 closed, 1 half-open (one "
            "call trying it again), 2 open (not tried: what needs it fails fast or does "
            "without).",
            ["dependency"],
            registry=target,
            multiprocess_mode="livemax",
        )
        # Known outcomes start at 0, so that increase() sees the first one after a start.
        for result in ("ok", "failed", "throttled"):
            self.logins.labels(result)
        for outcome in (*(o.value for o in ProcessingOutcome), "retry"):
            self.processing.labels(outcome)
        for stage in STAGES:
            self.processing_stages.labels(stage)
        for result in ("ok", "refused", "throttled"):
            self.share_redemptions.labels(result)
        for operation in STORAGE_OPERATIONS:
            self.storage_duration.labels(operation)
        for result in ("hit", "miss"):
            self.cache_reads.labels(result)
        self._exposed = self._own
        if shared:
            self._exposed = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(self._exposed, path=shared)  # type: ignore[no-untyped-call]

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, kept: prometheus-client checks and looks the labels
        up under a lock at each call, a cost on every request; the label values come
        from closed sets, so what is kept stays small."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    @property
    def registry(self) -> CollectorRegistry:
        """What a scrape of this process reads."""
        return self._exposed

    def watch(self, collector: Collector) -> None:
        """Have every scrape also ask ``collector`` (state read at scrape time)."""
        self._exposed.register(collector)

    def render(self) -> bytes:
        """The text a scrape gets."""
        for pool in self._pools:
            pool.publish()
        return generate_latest(self._exposed)

    def storage_called(self, operation: str, seconds: float) -> None:
        """A storage call ended (a :class:`StorageTimings` watcher)."""
        self.child(self.storage_duration, operation).observe(seconds)

    def cache_read(self, result: str, count: float) -> None:
        """A cache read found something or not (a :class:`CacheReads` watcher)."""
        self.child(self.cache_reads, result).inc(count)

    def watch_pool(self, engine: Any) -> None:
        """Keep the pool gauges of ``engine`` (SQLAlchemy) current: counted from the
        pool's events, published at each scrape of this process and at least once a
        second (:class:`_PoolGauges`)."""
        pool = _PoolGauges(engine.pool, *(self.db_pool.labels(state) for state in POOL_STATES))
        pool.publish()
        self._pools.append(pool)
        _pool_publisher.add(pool)

    def circuit_changed(self, dependency: str, state: str) -> None:
        """A circuit changed state (a :class:`Breakers` watcher)."""
        self.circuits.labels(dependency).set(STATES[state])

    # -- the dispatch point ------------------------------------------------------------

    def stage_finished(self, timing: StageTiming) -> None:
        """A processing stage finished (a :class:`ProcessingTimings` watcher)."""
        if timing.stage not in STAGES:
            return  # closed label values only
        self.processing_stages.labels(timing.stage).observe(timing.seconds)
        if timing.media_seconds and timing.seconds > 0:
            self.transcode_speed.observe(timing.media_seconds / timing.seconds)

    def use_case_middleware(self, message: Message, proceed: Proceed) -> Any:
        """Dispatch middleware: counts and times every use-case call, and reads the
        few results that are business metrics (logins, uploads, processing)."""
        if not isinstance(message, UseCaseCall):
            return proceed()
        started = time.perf_counter()
        outcome = "ok"
        result: Any = None
        try:
            result = proceed()
            return result
        except DomainError as refusal:
            outcome = refusal.code
            raise
        except RetryableProcessingError:
            outcome = "retry"
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            name = message.name
            self.child(self.use_cases, name, outcome).inc()
            self.child(self.use_case_duration, name).observe(time.perf_counter() - started)
            self._business(name, outcome, result)

    def _business(self, name: str, outcome: str, result: Any) -> None:
        if name == "users.login":
            found = {"ok": "ok", "too_many_attempts": "throttled"}.get(outcome, "failed")
            self.logins.labels(found).inc()
        elif name == "videos.upload" and isinstance(result, Video):
            self.uploads.inc()
            self.upload_bytes.inc(result.source_size)
        elif name in ("shares.redeem", "shares.redeem_video", "shares.open_shared_file"):
            found = {"ok": "ok", "too_many_attempts": "throttled"}.get(outcome, "refused")
            self.share_redemptions.labels(found).inc()
        elif name == "processing.process":
            if isinstance(result, ProcessingOutcome):
                self.processing.labels(result.value).inc()
            elif outcome == "retry":
                self.processing.labels("retry").inc()


POOL_PUBLISH_SECONDS = 1.0
"""How stale the pool gauges of a process that is not being scraped may be."""


class _PoolGauges:
    """The connections of one pool, in use, idle and over its size: counted from the
    pool's events (the pool's own counts lag by one inside them) as plain integers, and
    written to the gauges only when published. A gauge of a multiprocess registry is a
    locked write to a shared file: setting two on every checkout and every checkin cost
    about as much as the rest of a read's metrics (``python -m bench observability``)."""

    def __init__(self, pool: Any, in_use: Gauge, idle: Gauge, overflow: Gauge) -> None:
        from sqlalchemy import event

        self._gauges = (in_use, idle, overflow)
        self._size = pool.size() if hasattr(pool, "size") else 0
        self._lock = threading.Lock()
        self._in_use = self._open = 0
        if hasattr(pool, "checkedout") and hasattr(pool, "checkedin"):
            self._in_use = pool.checkedout()
            self._open = pool.checkedout() + pool.checkedin()
        self._published: tuple[int, int, int] | None = None
        event.listen(pool, "checkout", self._checked_out)
        event.listen(pool, "checkin", self._checked_in)
        event.listen(pool, "connect", self._opened)
        event.listen(pool, "close", self._closed)
        event.listen(pool, "close_detached", self._closed)

    def _checked_out(self, *_: Any) -> None:
        with self._lock:
            self._in_use += 1

    def _checked_in(self, *_: Any) -> None:
        with self._lock:
            self._in_use -= 1

    def _opened(self, *_: Any) -> None:
        with self._lock:
            self._open += 1

    def _closed(self, *_: Any) -> None:
        with self._lock:
            self._open -= 1

    def publish(self) -> None:
        """Write the counts to the gauges, where they changed since last time."""
        with self._lock:
            in_use, opened = self._in_use, self._open
        counts = (in_use, max(0, opened - in_use), max(0, opened - self._size))
        if counts != self._published:
            for gauge, count in zip(self._gauges, counts, strict=True):
                gauge.set(count)
            self._published = counts


class _PoolPublisher:
    """One daemon thread per process that publishes every watched pool's gauges each
    :data:`POOL_PUBLISH_SECONDS`; pools are held weakly (a closed platform's go with
    it). Started by the first pool of a process, and again in a forked child, which
    does not inherit its parent's thread."""

    def __init__(self) -> None:
        self._pools: weakref.WeakSet[_PoolGauges] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._pid = 0
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()  # the parent's thread may have held it

    def add(self, pool: _PoolGauges) -> None:
        with self._lock:
            self._pools.add(pool)
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="pool-gauges", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(POOL_PUBLISH_SECONDS)
            with self._lock:
                pools = list(self._pools)
            for pool in pools:
                pool.publish()
            del pools


_pool_publisher = _PoolPublisher()


class PlatformState(Collector):
    """Read at each scrape: videos by status, the outbox backlog, whether the database
    and storage answer, free space of the data directory. A failing read leaves its
    numbers out (and says the dependency is down) rather than failing the scrape."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        readiness: Callable[[], dict[str, str]],
        data_dir: Path | None,
        queue_depth: Callable[[], QueueDepth] | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._readiness = readiness
        self._data_dir = data_dir
        self._queue_depth = queue_depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        checks = self._readiness()
        up = GaugeMetricFamily(
            PREFIX + "dependency_up",
            "Whether a dependency answers (1) or not (0).",
            labels=["dependency"],
        )
        for name, state in sorted(checks.items()):
            up.add_metric([name], 1.0 if state == "ok" else 0.0)
        yield up
        if checks.get("database") == "ok":
            yield from self._database()
        if self._queue_depth is not None and checks.get("queue") == "ok":
            yield from self._queue(self._queue_depth)
        if self._data_dir is not None and self._data_dir.exists():
            free = GaugeMetricFamily(
                PREFIX + "data_dir_free_bytes", "Free bytes where the data directory is."
            )
            free.add_metric([], float(shutil.disk_usage(self._data_dir).free))
            yield free

    def _database(self) -> Iterable[GaugeMetricFamily]:
        try:
            with self._uow() as uow:
                counts = uow.videos.count_by_status()
                pending, oldest = uow.outbox.backlog()
        except Exception:
            return []
        videos = GaugeMetricFamily(
            PREFIX + "videos", "Videos in each processing state.", labels=["status"]
        )
        for status in VideoStatus:
            videos.add_metric([status.value], float(counts.get(status, 0)))
        backlog = GaugeMetricFamily(
            PREFIX + "outbox_pending", "Outbox records not yet confirmed by the queue."
        )
        backlog.add_metric([], float(pending))
        age = GaugeMetricFamily(
            PREFIX + "outbox_oldest_age_seconds",
            "Age of the oldest outbox record not yet sent (0 when none waits).",
        )
        waited = (self._clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        age.add_metric([], max(0.0, waited))
        return [videos, backlog, age]

    def _queue(self, queue_depth: Callable[[], QueueDepth]) -> Iterable[GaugeMetricFamily]:
        try:
            depth = queue_depth()
        except Exception:
            return []
        jobs = GaugeMetricFamily(
            PREFIX + "queue_jobs",
            "Jobs waiting in the job queue: ready to be handed out, retrying (waiting out "
            "a backoff), dead (letters). Jobs being handled are in none.",
            labels=["state"],
        )
        for state, count in (
            ("ready", depth.ready),
            ("retrying", depth.retrying),
            ("dead", depth.dead),
        ):
            jobs.add_metric([state], float(count))
        return [jobs]


DEPENDENCIES = ("database", "storage", "queue", "cache", "feed", "mail")


def _dependencies(platform: Platform) -> dict[str, str]:
    """Each dependency's state from the detailed health check (all probed at once,
    within its timeout): "ok", or "down"."""
    report = platform.health.detailed()
    return {
        c.name: "ok" if c.status is not HealthStatus.DOWN else "down"
        for c in report.components
        if c.name in DEPENDENCIES
    }


def platform_metrics(platform: Platform) -> Metrics:
    """Metrics for ``platform``: its use cases counted at the dispatch point, and its
    state read at each scrape. Made once per platform (by the app that serves it, or
    the worker command)."""
    metrics = Metrics()
    platform.dispatcher.use(metrics.use_case_middleware)
    platform.resolve(ProcessingTimings).watch(metrics.stage_finished)
    platform.resolve(Breakers).watch(metrics.circuit_changed)
    platform.resolve(StorageTimings).watch(metrics.storage_called)
    platform.resolve(CacheReads).watch(metrics.cache_read)
    engine = getattr(platform.resolve(UnitOfWorkFactory), "engine", None)  # type: ignore[type-abstract]
    if engine is not None:
        metrics.watch_pool(engine)
    settings = platform.settings
    data_dir = Path(settings.data_dir) if settings.data_dir else None
    metrics.watch(
        PlatformState(
            platform.resolve(UnitOfWorkFactory),  # type: ignore[type-abstract]
            platform.resolve(Clock),  # type: ignore[type-abstract]
            lambda: _dependencies(platform),
            data_dir,
            platform.resolve(JobQueue).depth,  # type: ignore[type-abstract]
        )
    )
    return metrics
