"""The health checks: the detailed report (every dependency probed at once, within a
deadline, adding up to ok, degraded or down), the startup check, and who may read the
detailed report."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from attrs import define

from videoplatform.adapters.memory.cache import MemoryCache
from videoplatform.adapters.memory.feed import MemoryVideoFeed
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.adapters.memory.queue import MemoryJobQueue
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import FixedDiskSpace, SequentialIds
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.health import (
    ComponentHealth,
    HealthConfig,
    HealthService,
    HealthStatus,
    overall,
)
from videoplatform.application.health.report import MESSAGE_CHARS, reason_of
from videoplatform.application.ports.errors import Unavailable
from videoplatform.domain.errors import NotFound
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform

OK, DEGRADED, DOWN = HealthStatus.OK, HealthStatus.DEGRADED, HealthStatus.DOWN
MIB = 1024**2
DATA, WORK = Path("/srv/data"), Path("/srv/work")


class Ping:
    """What a dependency does when pinged: answers after ``delay`` seconds, raises
    ``error``, or hangs until ``release`` is set. Counts the pings."""

    def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
        self.delay, self.error = delay, error
        self.hang = False
        self.release = threading.Event()
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.hang:
            self.release.wait(10)
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error


class MediaCheck:
    def __init__(self) -> None:
        self.runs = 0
        self.error: Exception | None = None

    def version(self) -> str:
        self.runs += 1
        if self.error is not None:
            raise self.error
        return "ffmpeg version 7.0"


class Schema:
    def __init__(self) -> None:
        self.current = True

    def is_current(self) -> bool:
        return self.current


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@define
class Rig:
    """A health service over memory adapters, each of which a test may break."""

    uow: MemoryUnitOfWorkFactory
    storage: MemoryObjectStorage
    queue: MemoryJobQueue
    cache: MemoryCache
    feed: MemoryVideoFeed
    mailer: MemoryMailer
    media: MediaCheck
    schema: Schema
    disks: FixedDiskSpace
    clock: Monotonic

    def service(self, **config: Any) -> HealthService:
        base = HealthConfig(data_dir=DATA, work_dir=WORK, timeout_seconds=2.0)
        settings = attrs.evolve(base, **config)
        return HealthService(
            self.uow,
            self.storage,
            self.queue,
            self.cache,
            self.feed,
            self.mailer,
            self.media,
            self.schema,
            self.disks,
            SequentialIds("probe"),
            settings,
            monotonic=self.clock,
        )


@pytest.fixture
def rig() -> Rig:
    return Rig(
        MemoryUnitOfWorkFactory(),
        MemoryObjectStorage(),
        MemoryJobQueue(),
        MemoryCache(),
        MemoryVideoFeed(),
        MemoryMailer(),
        MediaCheck(),
        Schema(),
        FixedDiskSpace(free=50 * 1024**3),
        Monotonic(),
    )


@pytest.fixture
def released() -> Iterator[list[Ping]]:
    """Pings registered here are released after the test, so no thread stays hung."""
    pings: list[Ping] = []
    yield pings
    for ping in pings:
        ping.release.set()


def hanging(released: list[Ping]) -> Ping:
    ping = Ping()
    ping.hang = True
    released.append(ping)
    return ping


def states(components: tuple[ComponentHealth, ...]) -> dict[str, HealthStatus]:
    return {c.name: c.status for c in components}


# -- the detailed report -----------------------------------------------------------------


def test_on_memory_adapters_every_component_answers(rig: Rig) -> None:
    report = rig.service().detailed()
    assert report.status is OK
    assert [c.name for c in report.components] == [
        "database",
        "storage",
        "queue",
        "cache",
        "feed",
        "mail",
        "ffmpeg",
        "data_disk",
        "work_disk",
    ]
    assert set(states(report.components).values()) == {OK}
    assert report.component("ffmpeg").message == "ffmpeg version 7.0"
    assert report.component("work_disk").message == f"50.0 GiB free at {WORK}"
    assert all(c.latency_ms >= 0 for c in report.components)


def test_database_and_storage_are_required_the_queue_only_as_a_broker(rig: Rig) -> None:
    def required(**config: Any) -> set[str]:
        return {c.name for c in rig.service(**config).detailed().components if c.required}

    assert required() == {"database", "storage"}
    assert required(queue_required=True) == {"database", "storage", "queue"}
    assert required(media_required=True) == {"database", "storage", "ffmpeg"}


def test_an_optional_dependency_down_makes_the_report_degraded(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rig.mailer, "ping", Ping(error=Unavailable("mail", "connection refused")))
    report = rig.service().detailed()
    assert report.status is DEGRADED
    mail = report.component("mail")
    assert (mail.status, mail.required, mail.message) == (DOWN, False, "connection refused")
    assert report.failing == ("mail",)


@pytest.mark.parametrize("name", ["queue", "cache", "feed", "mail"])
def test_any_pinged_dependency_that_fails_is_down_with_its_reason(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    port = {"queue": rig.queue, "cache": rig.cache, "feed": rig.feed, "mail": rig.mailer}[name]
    monkeypatch.setattr(port, "ping", Ping(error=ConnectionResetError("reset by peer")))
    report = rig.service(queue_required=True).detailed()
    assert report.component(name).status is DOWN
    assert report.component(name).message == "ConnectionResetError: reset by peer"
    assert report.status is (DOWN if name == "queue" else DEGRADED)


def test_a_required_dependency_down_makes_the_report_down(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(key: str) -> bool:
        raise OSError("disk gone")

    monkeypatch.setattr(rig.storage, "exists", broken)
    report = rig.service().detailed()
    assert report.status is DOWN
    assert report.component("storage").message == "OSError: disk gone"
    assert report.component("database").status is OK


def test_a_disk_under_the_minimum_is_degraded_and_says_how_much_is_left(rig: Rig) -> None:
    rig.disks.by_path[WORK] = 300 * MIB
    report = rig.service(min_free_bytes=1024 * MIB).detailed()
    assert report.status is DEGRADED
    assert report.component("work_disk").status is DEGRADED
    assert report.component("work_disk").message == (
        f"300 MiB free at {WORK}, under the 1.0 GiB wanted"
    )
    assert report.component("data_disk").status is OK


def test_a_disk_that_cannot_be_read_is_down_but_optional(rig: Rig) -> None:
    rig.disks.fail = True
    report = rig.service().detailed()
    assert states(report.components)["data_disk"] is DOWN
    assert report.status is DEGRADED


def test_probes_run_at_once_so_the_check_takes_about_the_slowest(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for port in (rig.queue, rig.cache, rig.feed, rig.mailer):
        monkeypatch.setattr(port, "ping", Ping(delay=0.3))
    started = time.monotonic()
    report = rig.service().detailed()
    took = time.monotonic() - started
    assert report.status is OK
    assert took < 0.9, f"four probes of 0.3 s took {took:.2f} s: not run at once"
    assert report.duration_ms < 900
    for name in ("queue", "cache", "feed", "mail"):
        assert report.component(name).latency_ms >= 290


def test_a_dependency_that_hangs_is_down_once_the_timeout_is_over(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, released: list[Ping]
) -> None:
    monkeypatch.setattr(rig.feed, "ping", hanging(released))
    started = time.monotonic()
    report = rig.service(timeout_seconds=0.3).detailed()
    took = time.monotonic() - started
    assert 0.25 < took < 1.5
    feed = report.component("feed")
    assert (feed.status, feed.message) == (DOWN, "no answer within 0.3 s")
    assert report.status is DEGRADED  # the feed is optional
    assert {c.status for c in report.components if c.name != "feed"} == {OK}


def test_a_required_dependency_that_hangs_makes_the_report_down(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, released: list[Ping]
) -> None:
    monkeypatch.setattr(rig.queue, "ping", hanging(released))
    report = rig.service(queue_required=True, timeout_seconds=0.2).detailed()
    assert report.status is DOWN
    assert report.failing == ("queue",)


def test_a_probe_still_running_is_waited_for_not_started_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, released: list[Ping]
) -> None:
    ping = hanging(released)
    monkeypatch.setattr(rig.cache, "ping", ping)
    service = rig.service(timeout_seconds=0.2)
    service.detailed()
    again = service.detailed().component("cache")
    assert ping.calls == 1
    assert again.status is DOWN
    assert "still checking since an earlier request" in again.message
    ping.release.set()
    wait_until(lambda: service.detailed().component("cache").status is OK)
    answered = ping.calls
    service.detailed()
    assert ping.calls == answered + 1  # once it has answered, the next check asks again


def test_ffmpeg_runs_once_a_minute_at_most(rig: Rig) -> None:
    service = rig.service()
    for _ in range(3):
        assert service.detailed().component("ffmpeg").status is OK
    assert rig.media.runs == 1
    rig.clock.now += 59
    service.detailed()
    assert rig.media.runs == 1
    rig.clock.now += 2
    service.detailed()
    assert rig.media.runs == 2


def test_ffmpeg_that_fails_is_down_with_its_reason_and_asked_again_a_minute_later(
    rig: Rig,
) -> None:
    rig.media.error = RuntimeError("ffmpeg cannot be found: no such file")
    service = rig.service(media_required=True)
    report = service.detailed()
    assert report.status is DOWN
    reason = "RuntimeError: ffmpeg cannot be found: no such file"
    assert report.component("ffmpeg").message == reason
    rig.media.error = None
    assert service.detailed().component("ffmpeg").status is DOWN  # remembered
    rig.clock.now += 61
    assert service.detailed().status is OK


# -- how findings add up -----------------------------------------------------------------


def component(status: HealthStatus, *, required: bool) -> ComponentHealth:
    return ComponentHealth("x", status, required, 1.0, "")


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ([], OK),
        ([(OK, True), (OK, False)], OK),
        ([(OK, True), (DOWN, False)], DEGRADED),
        ([(OK, True), (DEGRADED, False)], DEGRADED),
        ([(DEGRADED, True), (OK, False)], DEGRADED),
        ([(DOWN, True), (OK, False)], DOWN),
        ([(DOWN, True), (DEGRADED, False), (DOWN, False)], DOWN),
    ],
)
def test_the_overall_status(found: list[tuple[HealthStatus, bool]], expected: HealthStatus) -> None:
    assert overall(component(status, required=required) for status, required in found) is expected


def test_a_reason_is_one_short_line() -> None:
    assert reason_of(Unavailable("queue", "refused")) == "refused"
    assert reason_of(TimeoutError()) == "TimeoutError"
    long = reason_of(OSError("x" * 500 + "\nsecond line"))
    assert len(long) == MESSAGE_CHARS
    assert long.startswith("OSError: xxx") and long.endswith("…")
    assert "second line" not in reason_of(OSError("first\nsecond line"))


# -- the startup check -------------------------------------------------------------------


def test_startup_passes_when_migrated_writable_and_ffmpeg_runs(rig: Rig) -> None:
    report = rig.service(media_required=True).startup()
    assert report.status is OK
    assert [c.name for c in report.components] == ["migrations", "storage", "ffmpeg"]
    assert rig.storage.keys() == []  # the probe object is gone


def test_startup_leaves_ffmpeg_out_where_this_process_processes_nothing(rig: Rig) -> None:
    rig.media.error = RuntimeError("not installed")
    report = rig.service(media_required=False).startup()
    assert report.status is OK
    assert [c.name for c in report.components] == ["migrations", "storage"]
    assert rig.media.runs == 0


def test_startup_fails_on_a_schema_that_is_not_this_releases(rig: Rig) -> None:
    rig.schema.current = False
    report = rig.service().startup()
    assert report.status is DOWN
    assert report.failing == ("migrations",)
    assert "videoplatform migrate upgrade" in report.component("migrations").message


def test_startup_fails_on_storage_that_refuses_a_write(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(key: str, stream: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(rig.storage, "put", refused)
    report = rig.service().startup()
    assert report.status is DOWN
    assert report.component("storage").message == "PermissionError: read-only file system"


# -- who may read the detailed report ----------------------------------------------------


def test_only_administrators_may_read_the_detailed_report(
    platform: Platform, make_user: Callable[..., Caller]
) -> None:
    platform.health.ensure_details_reader(make_user(Role.ADMIN))
    for refused in (
        make_user(Role.MODERATOR),
        make_user(Role.CREATOR),
        Caller(),
        Caller(user_id="01NOSUCHUSER0000000000000"),  # type: ignore[arg-type]
    ):
        with pytest.raises(NotFound):
            platform.health.ensure_details_reader(refused)


def test_the_platform_reports_on_its_own_dependencies(platform: Platform) -> None:
    report = platform.health.detailed()
    assert report.status is OK, report
    assert report.component("ffmpeg").message == "synthetic media (no ffmpeg needed)"
    assert platform.health.startup().status is OK


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def test_readiness_waits_for_a_hanging_storage_no_longer_than_the_timeout(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, released: list[Ping]
) -> None:
    ping = hanging(released)
    monkeypatch.setattr(rig.storage, "exists", lambda key: ping())
    started = time.monotonic()
    readiness = rig.service(timeout_seconds=0.3).readiness()
    took = time.monotonic() - started
    assert 0.25 < took < 1.5
    assert not readiness.ready
    assert readiness.checks == {
        "database": "ok",
        "storage": "unavailable: no answer within 0.3 s",
    }


def test_readiness_names_a_failure_by_its_kind_only(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(key: str) -> bool:
        raise ConnectionRefusedError("connect to 10.1.2.3:9000 refused")

    monkeypatch.setattr(rig.storage, "exists", refuse)
    readiness = rig.service().readiness()
    assert readiness.checks["storage"] == "unavailable: ConnectionRefusedError"
