"""On PostgreSQL, a commit that writes to the outbox wakes the relays of other processes
at once (LISTEN/NOTIFY), so that a job committed by an API node starts without waiting
for the worker's poll; and a listener that loses its connection costs only that: the
relay goes on at its poll, and the listener connects again once it can."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from queue import Empty, SimpleQueue
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlalchemy import Engine

from tests.conftest import ServiceEndpoint
from tests.integration.tcp_proxy import TcpProxy
from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.adapters.sql.outbox_signal import OUTBOX_CHANNEL, PostgresOutboxListener
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.persistence import OutboxMessage, UnitOfWorkFactory
from videoplatform.application.ports.queue import Job
from videoplatform.application.ports.system import Clock, IdGenerator
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import BackgroundWorkers

TOPIC = "test-announced"
DEADLINE_SECONDS = 30.0
"""Far longer than a notified relay needs, far shorter than the poll the worker is given."""
LONG_POLL_MS = str(600_000)


def commit_job(platform: Platform) -> str:
    """One job written to the outbox in a unit of work of ``platform``, as a use case of
    an API node writes one (no relay runs in that platform)."""
    uow: UnitOfWorkFactory = platform.container.resolve(UnitOfWorkFactory)
    ids: IdGenerator = platform.container.resolve(IdGenerator)
    clock: Clock = platform.container.resolve(Clock)
    message = OutboxMessage(id=ids.new_id(), topic=TOPIC, payload={}, created_at=clock.now())
    with uow() as unit:
        unit.outbox.add(message)
        unit.commit()
    return message.id


def started_within(started: SimpleQueue[str], job_id: str, seconds: float) -> bool:
    try:
        while True:
            if started.get(timeout=seconds) == job_id:
                return True
    except Empty:
        return False


def worker_of(platform: Platform, started: SimpleQueue[str]) -> BackgroundWorkers:
    def handle(job: Job) -> None:
        started.put(job.id)

    return BackgroundWorkers(
        platform,
        {TOPIC: handle},
        sweep_seconds=None,
        shared_events=False,
        node_events=False,
    )


def test_a_job_committed_by_an_api_platform_is_started_by_a_worker_without_its_poll(
    production_env: dict[str, str],
) -> None:
    worker_env = {**production_env, "VIDEOPLATFORM_RELAY_POLL_MS": LONG_POLL_MS}
    started: SimpleQueue[str] = SimpleQueue()
    with (
        create_platform(Settings.from_env(production_env)) as api,
        create_platform(Settings.from_env(worker_env)) as worker,
        worker_of(worker, started) as workers,
    ):
        assert isinstance(workers.listener, PostgresOutboxListener)
        # The first job may be found by the relay's first look, at start; after it the
        # relay waits out its ten-minute poll unless something wakes it.
        first = commit_job(api)
        assert started_within(started, first, DEADLINE_SECONDS)
        for _ in range(3):
            job = commit_job(api)
            assert started_within(started, job, DEADLINE_SECONDS)
        assert workers.alive()


@pytest.fixture
def migrated(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def write_outbox(engine: Engine, count: int, *, commit: bool = True) -> None:
    """``count`` outbox messages in one unit of work, committed or rolled back."""
    with SqlUnitOfWorkFactory(engine)() as unit:
        for _ in range(count):
            message = OutboxMessage(
                id=uuid.uuid4().hex, topic=TOPIC, payload={}, created_at=datetime.now(UTC)
            )
            unit.outbox.add(message)
        if commit:
            unit.commit()


def notifications(conn: psycopg.Connection[tuple[object, ...]], seconds: float) -> int:
    """How many notifications arrive on ``conn`` within ``seconds``."""
    return sum(1 for _ in conn.notifies(timeout=seconds))


def test_a_commit_is_announced_once_and_a_rolled_back_write_never(
    database_url: str, migrated: Engine
) -> None:
    with psycopg.connect(database_url, autocommit=True) as listening:
        listening.execute(f"LISTEN {OUTBOX_CHANNEL}")
        write_outbox(migrated, 3, commit=False)
        assert notifications(listening, 1.0) == 0
        write_outbox(migrated, 3)
        assert notifications(listening, 2.0) == 1
        write_outbox(migrated, 1)
        write_outbox(migrated, 1)
        assert notifications(listening, 2.0) == 2


def proxied(database_url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(database_url)
    return parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()


def test_a_listener_whose_connection_is_cut_reports_it_and_listens_again_once_it_can(
    database_url: str, migrated: Engine, postgres_service: ServiceEndpoint
) -> None:
    proxy = TcpProxy((postgres_service.host, postgres_service.port))
    engine = create_database_engine(proxied(database_url, proxy), connect_timeout_s=5)
    listener = PostgresOutboxListener(engine)
    try:
        assert listener.wait(1.0)  # listening begins: what came before is worth a look
        write_outbox(migrated, 1)
        assert listener.wait(DEADLINE_SECONDS)
        proxy.cut()
        with pytest.raises(Unavailable):
            listener.wait(DEADLINE_SECONDS)  # the broken connection, not a timeout
        assert not listener.listening
        with pytest.raises(Unavailable):
            listener.wait(1.0)  # cannot connect while the database is away
        proxy.restore()
        assert listener.wait(DEADLINE_SECONDS)  # listening again: look once
        write_outbox(migrated, 1)
        assert listener.wait(DEADLINE_SECONDS)
    finally:
        listener.close()
        engine.dispose()
        proxy.close()


def test_a_relay_whose_listener_cannot_connect_goes_on_at_its_poll(
    production_env: dict[str, str], postgres_service: ServiceEndpoint
) -> None:
    settings = Settings.from_env({**production_env, "VIDEOPLATFORM_RELAY_POLL_MS": "200"})
    proxy = TcpProxy((postgres_service.host, postgres_service.port))
    proxy.cut()  # the listener's way to the database is down from the start
    engine = create_database_engine(proxied(settings.database_url, proxy), connect_timeout_s=2)
    started: SimpleQueue[str] = SimpleQueue()
    try:
        with create_platform(settings) as platform:
            workers = worker_of(platform, started)
            workers.listener = PostgresOutboxListener(engine)
            with workers:
                job = commit_job(platform)
                assert started_within(started, job, DEADLINE_SECONDS)
                assert workers.alive()
    finally:
        engine.dispose()
        proxy.close()
