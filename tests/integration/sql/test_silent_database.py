"""A database that goes silent behind a live TCP peer (a proxy that stops forwarding):
a waiting statement fails after the server's statement timeout plus a grace, as the
database being unavailable, instead of hanging; once the path is back, new units of
work succeed."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from tests.conftest import ServiceEndpoint
from tests.integration.tcp_proxy import TcpProxy
from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.engine import WATCHDOG_GRACE_S, create_database_engine
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.ports.errors import Unavailable

STATEMENT_TIMEOUT_MS = 1_000
CONNECT_TIMEOUT_S = 10  # create_database_engine's default


@pytest.fixture
def through_proxy(
    postgres_service: ServiceEndpoint, database_url: str
) -> Iterator[tuple[Engine, TcpProxy]]:
    proxy = TcpProxy((postgres_service.host, postgres_service.port))
    direct = create_database_engine(database_url)
    migrate.upgrade(direct, "head")
    direct.dispose()
    url = database_url.replace(
        f"@{postgres_service.host}:{postgres_service.port}/", f"@127.0.0.1:{proxy.port}/"
    )
    engine = create_database_engine(url, statement_timeout_ms=STATEMENT_TIMEOUT_MS)
    try:
        yield engine, proxy
    finally:
        engine.dispose()
        proxy.close()


def test_a_statement_waiting_on_a_silent_database_fails_after_its_deadline_then_it_recovers(
    through_proxy: tuple[Engine, TcpProxy],
) -> None:
    engine, proxy = through_proxy
    uow = SqlUnitOfWorkFactory(engine)
    with uow() as unit:
        assert unit.users.find_by_email("nobody@example.com") is None
    deadline = STATEMENT_TIMEOUT_MS / 1000 + WATCHDOG_GRACE_S

    # A statement in flight when the path goes silent: its answer never comes.
    timer = threading.Timer(0.3, proxy.silence)
    timer.start()
    conn = engine.connect()
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError):
            conn.execute(text("SELECT pg_sleep(0.6)"))
        waited = time.monotonic() - started
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    assert deadline - 1 <= waited <= deadline + 2, waited

    # A new unit of work meanwhile: the pool's ping gets the same deadline, then
    # connecting again is bounded by the connect timeout; the database is unavailable.
    started = time.monotonic()
    with pytest.raises(Unavailable), uow() as unit:
        unit.users.find_by_email("nobody@example.com")
    assert time.monotonic() - started <= deadline + CONNECT_TIMEOUT_S + 2

    proxy.restore()
    with uow() as unit:
        assert unit.users.find_by_email("nobody@example.com") is None
