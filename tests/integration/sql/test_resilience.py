"""PostgreSQL connection handling: a restarted server, slow statements, a missing server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from tests.integration.sql.builders import an_event
from tests.integration.sql.conftest import PgDatabase, terminate_sessions
from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.engine import create_database_engine, wait_for_database
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.ports.errors import Unavailable


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

    # The first statement fails on the dropped connection and runs again on a new one.
    with factory() as uow:
        assert uow.users.find_by_email("nobody@example.com") is None


def test_a_restarted_server_costs_no_failed_write(pooled: Engine, pg_database: PgDatabase) -> None:
    # A unit of work that writes before it reads meets the dropped connection at BEGIN.
    factory = SqlUnitOfWorkFactory(pooled)
    with factory() as uow:
        assert uow.users.find_by_email("nobody@example.com") is None
    terminate_sessions(pg_database.endpoint, database=pg_database.name)

    with factory() as uow:
        uow.audit.append(an_event(1))
        uow.commit()
    with pooled.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 1


def test_a_statement_that_fails_once_the_connection_was_proven_is_not_run_again(
    pooled: Engine, pg_database: PgDatabase
) -> None:
    # Only a connection on which nothing has run yet is replaced: a later statement may
    # depend on what ran before it, so its failure reaches the caller as an outage.
    factory = SqlUnitOfWorkFactory(pooled)
    with factory() as uow:
        assert uow.users.find_by_email("nobody@example.com") is None
        terminate_sessions(pg_database.endpoint, database=pg_database.name)
        with pytest.raises(Unavailable):
            uow.users.find_by_email("nobody@example.com")


def test_units_of_work_never_switch_a_pooled_connections_transaction_mode(
    pooled: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Connections are set to autocommit once, when made: a unit of work reads outside a
    # transaction and sends BEGIN at its first write, so neither checkout nor checkin
    # switches the mode (a round of SQLAlchemy's isolation machinery each, and a switch
    # psycopg may refuse on a connection the server dropped).
    factory = SqlUnitOfWorkFactory(pooled)
    with factory() as uow:
        assert uow.users.find_by_email("nobody@example.com") is None
    with pooled.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    switched: list[Any] = []
    dialect = pooled.dialect
    real_set = dialect.set_isolation_level

    def set_isolation_level(dbapi_connection: Any, level: Any) -> None:
        switched.append(level)
        real_set(dbapi_connection, level)

    monkeypatch.setattr(dialect, "set_isolation_level", set_isolation_level)
    with factory() as uow:
        assert uow.users.find_by_email("nobody@example.com") is None
    with factory() as uow:
        uow.audit.append(an_event(1))
        uow.commit()
    with factory() as uow:
        uow.audit.append(an_event(2))
        # A read sends the queued write first, in a transaction; never committed, it
        # is rolled back when the unit of work ends.
        assert uow.users.find_by_email("nobody@example.com") is None
    with pooled.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == before + 1
    assert switched == []


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
