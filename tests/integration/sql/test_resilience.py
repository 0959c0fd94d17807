"""PostgreSQL connection handling: a restarted server, slow statements, a missing server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from tests.integration.sql.conftest import PgDatabase, terminate_sessions
from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.engine import create_database_engine, wait_for_database
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory


@pytest.fixture
def pooled(pg_database: PgDatabase) -> Iterator[Engine]:
    engine = create_database_engine(pg_database.url(), pool_size=3, max_overflow=0)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def test_a_restarted_server_costs_no_failed_request(
    pooled: Engine, pg_database: PgDatabase
) -> None:
    factory = SqlUnitOfWorkFactory(pooled)
    with factory() as uow:
        assert uow.users.find_by_email("nobody@example.com") is None
    pool = pooled.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedin() >= 1  # the pool now holds a connection the server will drop

    # What a restart does to every pooled connection: the server side goes away.
    terminate_sessions(pg_database.endpoint, database=pg_database.name)

    with factory() as uow:  # pre-ping notices the dead connection and reconnects
        assert uow.users.find_by_email("nobody@example.com") is None


def test_a_pooled_connection_failing_its_ping_in_any_way_is_replaced(
    pooled: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Right after a restart, psycopg sometimes refuses the ping's setup with an error it
    # does not call a disconnect; the pool must connect anew rather than fail the request.
    factory = SqlUnitOfWorkFactory(pooled)
    with factory() as uow:
        assert uow.users.find_by_email("nobody@example.com") is None
    dialect = pooled.dialect
    real_ping = dialect.do_ping
    refused: list[object] = []

    def ping(dbapi_connection: Any) -> bool:
        if not refused:
            refused.append(dbapi_connection)
            raise psycopg.ProgrammingError("can't change 'autocommit' now")
        return real_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", ping)
    with factory() as uow:
        assert uow.users.find_by_email("nobody@example.com") is None
    assert len(refused) == 1


def test_statements_that_run_too_long_are_cancelled(pg_database: PgDatabase) -> None:
    engine = create_database_engine(pg_database.url(), statement_timeout_ms=200)
    try:
        started = time.perf_counter()
        with pytest.raises(OperationalError, match="statement timeout"), engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(5)"))
        assert time.perf_counter() - started < 3
    finally:
        engine.dispose()


def test_start_up_retries_with_backoff_then_gives_up_on_a_server_that_never_comes() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_database_engine(f"postgresql://postgres@127.0.0.1:{port}/none")
    try:
        started = time.perf_counter()
        with pytest.raises(OperationalError):
            wait_for_database(engine, attempts=4, first_delay=0.1)
        waited = time.perf_counter() - started
        # Three pauses of 0.1, 0.2 and 0.4 s between four attempts.
        assert 0.7 <= waited < 5
    finally:
        engine.dispose()
