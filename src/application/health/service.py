"""The health use cases: readiness, the detailed report, the startup check, and who may
read the detailed report."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

from attrs import frozen

from videoplatform.application.context import Caller, current_user
from videoplatform.application.health.probing import ConcurrentProbes, Probe
from videoplatform.application.health.report import (
    ComponentHealth,
    Finding,
    HealthConfig,
    HealthReport,
    HealthStatus,
    overall,
    reason_of,
    size_text,
)
from videoplatform.application.ports.cache import Cache
from videoplatform.application.ports.feed import VideoFeed
from videoplatform.application.ports.mail import Mailer
from videoplatform.application.ports.media import MediaToolCheck
from videoplatform.application.ports.persistence import SchemaState, UnitOfWorkFactory
from videoplatform.application.ports.queue import JobQueue
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import DiskSpace, IdGenerator
from videoplatform.domain.errors import AuthenticationFailed, NotFound
from videoplatform.domain.users import Permission

PROBE_EMAIL = "readiness-probe@invalid.invalid"
PROBE_KEY = "health/probe"
STARTUP_PROBE_PREFIX = "health/startup-"
"""Where the startup check writes (and at once deletes) its object."""


@frozen
class Readiness:
    checks: dict[str, str]
    """Each dependency's state: "ok", or what is wrong."""

    @property
    def ready(self) -> bool:
        return all(state == "ok" for state in self.checks.values())


class HealthService:
    """Readiness (is this process fit for traffic now: database and storage), the
    detailed report (every dependency and disk, for operators) and the startup check
    (may this process start taking traffic at all)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        storage: ObjectStorage,
        queue: JobQueue,
        cache: Cache,
        feed: VideoFeed,
        mailer: Mailer,
        media: MediaToolCheck,
        schema: SchemaState,
        disks: DiskSpace,
        ids: IdGenerator,
        config: HealthConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow_factory
        self._storage = storage
        self._queue = queue
        self._cache = cache
        self._feed = feed
        self._mailer = mailer
        self._media = media
        self._schema = schema
        self._disks = disks
        self._ids = ids
        self._config = config
        self._monotonic = monotonic
        self._probes = ConcurrentProbes()
        self._media_lock = threading.Lock()
        self._media_answer: tuple[float, Finding] | None = None

    def readiness(self) -> Readiness:
        """The database and the storage, probed at once and waited for at most the
        configured timeout (a dependency that hangs is "not ready", not a hung check).
        Each state is "ok" or "unavailable: " and the error's type (or the wait), never
        its text: readiness is answered to anyone."""
        components = self._probes.run(
            (
                Probe("database", True, _terse(self._database), key="ready.database"),
                Probe("storage", True, _terse(self._storage_answers), key="ready.storage"),
            ),
            self._config.timeout_seconds,
        )
        return Readiness(
            {
                c.name: "ok" if c.status is HealthStatus.OK else f"unavailable: {c.message}"
                for c in components
            }
        )

    def detailed(self) -> HealthReport:
        """Every dependency and disk, probed at once, within the configured timeout.

        Required: the database, the storage, and the queue when it is a broker. Optional
        (down makes the report degraded, not down): the cache, the feed, the mail
        server, ffmpeg on a node that does not process videos, and the free space of the
        data and work directories (degraded under the configured minimum). Permission is
        the caller's business (:meth:`ensure_details_reader`): an embedder, or the holder
        of an operator's token, may ask directly."""
        config = self._config
        return self._check(
            (
                Probe("database", True, self._database),
                Probe("storage", True, self._storage_answers),
                Probe("queue", config.queue_required, _answers(self._queue.ping)),
                Probe("cache", False, _answers(self._cache.ping)),
                Probe("feed", False, _answers(self._feed.ping)),
                Probe("mail", False, _answers(self._mailer.ping)),
                Probe("ffmpeg", config.media_required, self._media_runs),
                Probe("data_disk", False, lambda: self._disk(config.data_dir)),
                Probe("work_disk", False, lambda: self._disk(config.work_dir)),
            )
        )

    def startup(self) -> HealthReport:
        """What must hold before this process takes any traffic, every item required:
        the database's schema is this release's (every migration applied), the storage
        takes a write (an object written and deleted), and, where this process processes
        videos, ffmpeg runs. Checked at once, within the configured timeout."""
        probes = [
            Probe("migrations", True, self._migrated, key="startup.migrations"),
            Probe("storage", True, self._storage_writable, key="startup.storage"),
        ]
        if self._config.media_required:
            probes.append(Probe("ffmpeg", True, self._media_runs))
        return self._check(probes)

    def ensure_details_reader(self, caller: Caller) -> None:
        """Refuse a caller who may not read the detailed report with NotFound, as if
        there were nothing here: anyone but an active user holding
        ``Permission.HEALTH_READ`` (administrators)."""
        try:
            with self._uow() as uow:
                user = current_user(uow, caller)
        except AuthenticationFailed:
            user = None
        if user is None or not user.can(Permission.HEALTH_READ):
            raise NotFound("no such resource")

    # -- probes --------------------------------------------------------------------------

    def _check(self, probes: list[Probe] | tuple[Probe, ...]) -> HealthReport:
        started = time.perf_counter()
        components: tuple[ComponentHealth, ...] = self._probes.run(
            probes, self._config.timeout_seconds
        )
        took = round((time.perf_counter() - started) * 1000, 1)
        return HealthReport(overall(components), components, took)

    def _database(self) -> Finding:
        with self._uow() as uow:
            uow.users.find_by_email(PROBE_EMAIL)
        return Finding(HealthStatus.OK, "answered")

    def _storage_answers(self) -> Finding:
        self._storage.exists(PROBE_KEY)
        return Finding(HealthStatus.OK, "answered")

    def _storage_writable(self) -> Finding:
        key = f"{STARTUP_PROBE_PREFIX}{self._ids.new_id()}"
        self._storage.put(key, io.BytesIO(b"startup probe\n"))
        self._storage.delete(key)
        return Finding(HealthStatus.OK, "an object was written and deleted")

    def _migrated(self) -> Finding:
        if not self._schema.is_current():
            return Finding(
                HealthStatus.DOWN,
                "the database schema is not this release's: run `videoplatform migrate upgrade`",
            )
        return Finding(HealthStatus.OK, "the schema is this release's")

    def _media_runs(self) -> Finding:
        """ffmpeg's answer, asked at most once per ``media_check_seconds`` (a run costs
        a process); concurrent checks wait for the one run."""
        with self._media_lock:
            answer = self._media_answer
            fresh_for = self._config.media_check_seconds
            if answer is not None and self._monotonic() - answer[0] < fresh_for:
                return answer[1]
            try:
                finding = Finding(HealthStatus.OK, self._media.version())
            except Exception as error:  # not found, not runnable, too slow: its reason
                finding = Finding(HealthStatus.DOWN, reason_of(error))
            self._media_answer = (self._monotonic(), finding)
            return finding

    def _disk(self, path: Path) -> Finding:
        free = self._disks.free_bytes(path)
        wanted = self._config.min_free_bytes
        if free < wanted:
            return Finding(
                HealthStatus.DEGRADED,
                f"{size_text(free)} free at {path}, under the {size_text(wanted)} wanted",
            )
        return Finding(HealthStatus.OK, f"{size_text(free)} free at {path}")


def _answers(ping: Callable[[], None]) -> Callable[[], Finding]:
    """A probe of a port's ``ping``: ok when it returns, down with its reason when not."""

    def check() -> Finding:
        ping()
        return Finding(HealthStatus.OK, "answered")

    return check


def _terse(check: Callable[[], Finding]) -> Callable[[], Finding]:
    """``check``, its failures told by the error's type alone."""

    def terse() -> Finding:
        try:
            return check()
        except Exception as error:  # any failure means "not ready", with its kind
            return Finding(HealthStatus.DOWN, type(error).__name__)

    return terse
