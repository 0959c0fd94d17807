"""Background work: the outbox relay, the job consumers and the durable event handlers.

:class:`BackgroundWorkers` runs them as threads of the current process: the
``videoplatform worker`` command does that (and handles signals), and an embedded
platform does it with :func:`start_background` so that processing runs without any
server. Each consumer thread takes its own queue client (prefetch 1 each); each durable
subscription gets one consumer thread (its queue serves one consumer at a time anyway).
An HTTP node of the production profile runs only its per-node subscriptions
(:func:`start_node_events`).

Job handlers come from :func:`handlers_for`, the one registry of job kinds. Processing
registers there with one line (see its docstring).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from videoplatform.application.events.consumer import (
    DurableHandler,
    DurableHandlers,
    SubscriptionHandler,
)
from videoplatform.application.jobs import (
    DeadLetterHook,
    JobConsumer,
    JobHandler,
    PermanentJobError,
    RetryPolicy,
)
from videoplatform.application.ports.outbox import OutboxListener
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import EventChannel, Job, JobQueue, JobQueueClients
from videoplatform.application.ports.system import Clock
from videoplatform.application.ports.tracing import Tracer
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.application.relay import OutboxRelay, RelayPolicy, prune_delivered
from videoplatform.application.resumable import ResumableUploadService
from videoplatform.application.video_jobs import PROCESS_VIDEO
from videoplatform.domain.events import DomainEvent
from videoplatform.domain.ids import VideoId
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.error_tracking import configure_error_tracking
from videoplatform.entrypoints.persistence import outbox_listener_of
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.tracing import configure_tracing, flush_tracing

log = logging.getLogger(__name__)


def handlers_for(platform: Platform) -> dict[str, JobHandler]:
    """The job handlers of ``platform``, by job kind (an outbox message's topic).

    Processing a video is idempotent (a job delivered again after it finished does
    nothing); its retryable failures raise and are retried by the consumer, and the
    permanent ones it records itself, so the job is acked. A failure on the last allowed
    attempt (processing and the queue share ``job_max_attempts``) is recorded too, and
    the job goes to the dead letters, where poison jobs are looked for.
    """
    processing = platform.processing

    def process_video(job: Job) -> None:
        video_id = _video_of(job)
        if processing.process(job.id, video_id) is ProcessingOutcome.GAVE_UP:
            raise PermanentJobError(
                f"processing video {video_id} failed on its last allowed attempt"
            )

    return {PROCESS_VIDEO: process_video}


def _video_of(job: Job) -> VideoId:
    video_id = job.payload.get("video_id")
    if not video_id:
        raise PermanentJobError(f"job {job.id} names no video")
    return VideoId(video_id)


def dead_letter_hook_for(platform: Platform) -> DeadLetterHook | None:
    """A processing job that went to the dead letters leaves its video failed, with the
    reason, so nothing stays "processing" without a visible cause."""
    processing = platform.processing

    def record(job: Job, reason: str) -> None:
        if job.kind == PROCESS_VIDEO and job.payload.get("video_id"):
            processing.abandon(VideoId(job.payload["video_id"]), reason)

    return record


def retry_policy_for(platform: Platform) -> RetryPolicy:
    return RetryPolicy(max_attempts=platform.settings.job_max_attempts)


RELAY_STALL_SECONDS = 120.0
"""A relay turn (a claim, a batch published, its marks) takes far less, every call in it
being bounded; longer means it is stuck."""
EVENTS_STALL_SECONDS = 300.0
"""The longest an event handler (mail included) may take before its thread counts as
stuck."""

SWEEP_SECONDS = 600.0
"""How often background workers remove expired resumable uploads."""


class BackgroundWorkers:
    """The relay and ``concurrency`` consumers, as daemon threads: a process that exits
    does not wait for them, and the jobs they held go back to the queue."""

    def __init__(
        self,
        platform: Platform,
        handlers: Mapping[str, JobHandler] | None = None,
        *,
        concurrency: int = 1,
        relay: bool = True,
        on_dead_letter: DeadLetterHook | None = None,
        relay_policy: RelayPolicy | None = None,
        poll_seconds: float = 1.0,
        sweep_seconds: float | None = SWEEP_SECONDS,
        shared_events: bool = True,
        node_events: bool = True,
        relay_stall_seconds: float = RELAY_STALL_SECONDS,
    ) -> None:
        if concurrency < 0:
            raise ValueError("concurrency cannot be negative")
        self._platform = platform
        self._handlers = dict(handlers if handlers is not None else handlers_for(platform))
        self._concurrency = concurrency
        self._hook = on_dead_letter or dead_letter_hook_for(platform)
        self._poll = poll_seconds
        self._sweep_seconds = sweep_seconds
        self._events = (shared_events, node_events)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._consumers: list[JobConsumer] = []
        self.relay: OutboxRelay | None = None
        self.listener: OutboxListener | None = None
        if relay:
            # Ports resolve through the container (punq answers Any; the names type them).
            uow: UnitOfWorkFactory = platform.container.resolve(UnitOfWorkFactory)
            queue: JobQueue = platform.container.resolve(JobQueue)
            channel: EventChannel = platform.container.resolve(EventChannel)
            clock: Clock = platform.container.resolve(Clock)
            policy = relay_policy or RelayPolicy(
                poll_seconds=platform.settings.relay_poll_ms / 1000
            )
            self.relay = OutboxRelay(uow, queue, channel, clock, policy, tracer_of(platform))
            # Commits of other processes (API nodes) wake the relay too, where the
            # database can tell (PostgreSQL); the poll stays the fallback.
            self.listener = outbox_listener_of(uow, platform.settings)
        self.last_activity = time.monotonic()
        # Liveness: each watched thread's last sign of progress, and how long it may be
        # silent (the longest job; an event handler; a turn of the relay).
        self._beats: dict[str, list[float]] = {}
        settings = platform.settings
        self._job_stall = settings.ffmpeg_timeout_seconds + 600.0
        self._relay_stall = relay_stall_seconds

    def start(self) -> BackgroundWorkers:
        if self._threads:
            raise RuntimeError("the background workers are already running")
        clients: JobQueueClients = self._platform.container.resolve(JobQueueClients)
        policy = retry_policy_for(self._platform)
        for n in range(self._concurrency):
            consumer = JobConsumer(
                clients(), self._handlers, policy, self._hook, tracer=tracer_of(self._platform)
            )
            self._consumers.append(consumer)
            self._watch(f"job-consumer-{n + 1}", self._job_stall, self._consume, consumer)
        self._start_event_consumers(policy)
        relay = self.relay
        if relay is not None:
            # Any commit may have written to the outbox: look at once, not at the poll.
            def wake(_: DomainEvent) -> None:
                relay.wake()

            platform = self._platform
            platform.dispatcher.subscribe(platform.events, DomainEvent, "relay.wake", wake)
            self._watch(
                "outbox-relay",
                self._relay_stall,
                lambda: relay.run(self._stop, tick=lambda: self._beat("outbox-relay")),
            )
            listener = self.listener
            if listener is not None:
                # Every wait of the listener is bounded (its timeout, the connection's):
                # one that stops turning is stuck like a relay would be.
                self._watch(
                    "outbox-listener",
                    self._relay_stall,
                    lambda: relay.follow(
                        listener, self._stop, tick=lambda: self._beat("outbox-listener")
                    ),
                )
        if self._sweep_seconds is not None:
            self._spawn("upload-sweeper", self._sweep, self._sweep_seconds)
        return self

    def _start_event_consumers(self, policy: RetryPolicy) -> None:
        platform = self._platform
        shared, per_node = self._events
        channel: EventChannel = platform.container.resolve(EventChannel)
        for durable in platform.resolve(DurableHandlers):
            wanted = per_node if durable.subscription.per_node else shared
            if not wanted:
                continue
            consumer = event_consumer(platform, channel, durable, policy)
            self._consumers.append(consumer)
            self._watch(
                f"events-{durable.subscription.name}",
                EVENTS_STALL_SECONDS,
                self._consume,
                consumer,
            )

    def _sweep(self, every: float) -> None:
        """Remove expired resumable uploads and their bytes, partial writes left in
        storage by killed processes, the job directories of attempts that died, and
        sent outbox messages and old event receipts, now and every ``every`` seconds;
        and queue again videos left waiting with no job for longer than any attempt.
        A failing sweep is logged and tried again at the next turn."""
        uploads = self._platform.resolve(ResumableUploadService)
        uow: UnitOfWorkFactory = self._platform.container.resolve(UnitOfWorkFactory)
        clock: Clock = self._platform.container.resolve(Clock)
        # A live job's directory is never older than the longest transcode allowed.
        abandoned = timedelta(seconds=self._platform.settings.ffmpeg_timeout_seconds + 600)
        while not self._stop.is_set():
            try:
                removed = uploads.sweep()
                if removed:
                    log.info("swept %d expired uploads", removed)
                removed = uploads.sweep_partial_writes()
                if removed:
                    log.info("removed %d partial writes left in storage", removed)
                removed = self._platform.processing.sweep_workspaces(abandoned)
                if removed:
                    log.info("removed %d abandoned job directories", removed)
                requeued = self._platform.processing.requeue_stranded(abandoned)
                if requeued:
                    log.warning("queued %d stranded videos again", requeued)
                removed = prune_delivered(uow, clock.now())
                if removed:
                    log.info("pruned %d sent outbox messages and old event receipts", removed)
                removed = self._platform.users.sweep_exports()
                if removed:
                    log.info("deleted %d data archives never downloaded", removed)
                self._platform.search.refresh_completions()
                kept = timedelta(days=self._platform.settings.search_log_days)
                removed = self._platform.search.prune_log(kept)
                if removed:
                    log.info("pruned %d search analytics rows", removed)
            except Exception:
                log.exception("sweeping expired uploads or job directories failed")
            self._stop.wait(every)

    def _spawn(self, name: str, target: Callable[..., object], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _watch(self, name: str, stall: float, target: Callable[..., object], *args: object) -> None:
        """Spawn ``target`` as thread ``name``, expected to show progress (``_beat``)
        at least every ``stall`` seconds."""
        self._beats[name] = [time.monotonic(), stall]
        self._spawn(name, target, *args)

    def _beat(self, name: str) -> None:
        now = time.monotonic()
        self._beats[name][0] = now
        self.last_activity = now

    def _consume(self, consumer: JobConsumer) -> None:
        name = threading.current_thread().name
        consumer.run(poll_seconds=self._poll, tick=lambda: self._beat(name))

    def stalled(self) -> list[str]:
        """The watched threads that showed no progress for longer than they may."""
        now = time.monotonic()
        return [name for name, (last, stall) in self._beats.items() if now - last > stall]

    def alive(self) -> bool:
        """Every thread is still running (none died of an unexpected error) and none is
        stuck: the relay turns, each consumer finishes its job within the longest a job
        may take."""
        running = bool(self._threads) and all(t.is_alive() for t in self._threads)
        return running and not self.stalled()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop taking jobs, let the current ones finish within ``timeout`` seconds;
        whether every thread ended. A job still running past that is left unsettled
        and goes back to the queue when the process (and its connection) ends."""
        self._stop.set()
        for consumer in self._consumers:
            consumer.stop.set()
        if self.relay is not None:
            self.relay.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        stopped = not any(t.is_alive() for t in self._threads)
        if not stopped:
            log.warning("background workers still busy after %.0f s; leaving them", timeout)
        return stopped

    def __enter__(self) -> BackgroundWorkers:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_background(
    platform: Platform,
    handlers: Mapping[str, JobHandler] | None = None,
    *,
    concurrency: int = 1,
    relay: bool = True,
) -> BackgroundWorkers:
    """Run processing inside this process (the embedded profile): the relay and
    ``concurrency`` consumer threads. Stop them with ``.stop()`` before closing the
    platform."""
    return BackgroundWorkers(platform, handlers, concurrency=concurrency, relay=relay).start()


def settle_events(platform: Platform, *, rounds: int = 100) -> int:
    """Relay what was committed and run every durable handler on it, in this thread,
    until nothing is left that is ready (a retry still waiting out its backoff is left);
    the number of deliveries handled. For tests and scripts on the embedded profile,
    where no background workers run: what the worker would do, at once."""
    uow: UnitOfWorkFactory = platform.container.resolve(UnitOfWorkFactory)
    channel: EventChannel = platform.container.resolve(EventChannel)
    clock: Clock = platform.container.resolve(Clock)
    relay = OutboxRelay(
        uow, platform.container.resolve(JobQueue), channel, clock, tracer=tracer_of(platform)
    )
    policy = retry_policy_for(platform)
    consumers = [
        event_consumer(platform, channel, durable, policy)
        for durable in platform.resolve(DurableHandlers)
    ]
    handled = 0
    try:
        for _ in range(rounds):
            moved = relay.relay_once()
            for consumer in consumers:
                while consumer.run_once(0):
                    handled += 1
                    moved += 1
            if not moved:
                break
    finally:
        for consumer in consumers:
            consumer.close()
    return handled


def event_consumer(
    platform: Platform, channel: EventChannel, durable: DurableHandler, policy: RetryPolicy
) -> JobConsumer:
    """The consumer of one durable handler's subscription, on a client of its own."""
    handler = SubscriptionHandler(
        durable,
        platform.container.resolve(UnitOfWorkFactory),
        platform.container.resolve(Clock),
        platform.dispatcher,
    )
    return JobConsumer(
        channel.subscribe(durable.subscription),
        handler.handlers(),
        policy,
        handler.dead_lettered,
        tracer=tracer_of(platform),
    )


def tracer_of(platform: Platform) -> Tracer:
    """The platform's tracer (punq resolves a Protocol key to Any; the name types it)."""
    tracer: Tracer = platform.container.resolve(Tracer)
    return tracer


def start_node_events(platform: Platform) -> BackgroundWorkers:
    """Run only this process's per-node event subscriptions (an HTTP node of the
    production profile, where workers do the rest)."""
    return BackgroundWorkers(
        platform,
        {},
        concurrency=0,
        relay=False,
        sweep_seconds=None,
        shared_events=False,
    ).start()


def touch(path: Path) -> None:
    """The liveness signal: the heartbeat file's modification time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def heartbeat_is_fresh(path: Path, max_age_seconds: float) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age <= max_age_seconds


HEARTBEAT_SECONDS = 5.0


def _serve_metrics(platform: Platform) -> Any:
    """The worker's own ``/metrics`` (Prometheus text) on ``VIDEOPLATFORM_METRICS_BIND``,
    in a thread of its own; loopback or a private network only (it has no token)."""
    from prometheus_client import start_http_server

    from videoplatform.entrypoints.metrics import platform_metrics

    host, _, port = platform.settings.metrics_bind.rpartition(":")
    metrics = platform_metrics(platform)
    server, _thread = start_http_server(
        int(port), addr=host.strip("[]") or "127.0.0.1", registry=metrics.registry
    )
    log.info("worker metrics on http://%s/metrics", platform.settings.metrics_bind)
    return server


def run_worker(
    settings: Settings,
    *,
    concurrency: int = 1,
    relay: bool = True,
    heartbeat: Path | None = None,
    grace_seconds: float = 60.0,
    handlers: Mapping[str, JobHandler] | None = None,
) -> int:
    """The ``videoplatform worker`` process: runs until SIGTERM or SIGINT, touching the
    heartbeat file every few seconds while every thread is alive. Exits 1 if a thread
    died (a supervisor restarts the process), 0 after a requested stop."""
    configure_error_tracking(settings, "worker")
    configure_tracing("worker")  # before the platform: its engine is instrumented as made
    stop = threading.Event()

    def on_signal(signum: int, _: object) -> None:
        log.info("worker stopping on signal %d", signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with create_platform(settings) as platform:
            exporter = _serve_metrics(platform) if settings.metrics_bind else None
            workers = BackgroundWorkers(
                platform, handlers, concurrency=concurrency, relay=relay
            ).start()
            log.info("worker started: %d consumers, relay %s", concurrency, relay)
            healthy = True
            while not stop.is_set():
                if not workers.alive():
                    stuck = workers.stalled()
                    if stuck:
                        log.error("worker threads stopped making progress: %s; stopping", stuck)
                    else:
                        log.error("a worker thread died; stopping")
                    healthy = False
                    break
                if heartbeat is not None:
                    touch(heartbeat)
                stop.wait(HEARTBEAT_SECONDS)
            workers.stop(grace_seconds)
            if exporter is not None:
                exporter.shutdown()
            flush_tracing()  # the last jobs' spans, before the process ends
            return 0 if healthy else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def worker_check(heartbeat: Path | None, max_age_seconds: float) -> int:
    if heartbeat is None:
        print("videoplatform: worker check needs --heartbeat PATH", file=sys.stderr)
        return 2
    if heartbeat_is_fresh(heartbeat, max_age_seconds):
        print("worker alive")
        return 0
    print(f"worker heartbeat {heartbeat} missing or older than {max_age_seconds:g} s")
    return 1
