"""Engines for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

from videoplatform.adapters.sql.slow_queries import SlowQueryLog
from videoplatform.adapters.sql.watchdog import StatementWatchdog

log = structlog.get_logger(__name__)


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3; ``sqlite:///path`` a file (created if needed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
    # Hand transaction control to the unit of work (it issues BEGIN IMMEDIATE itself).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Reads through the OS page cache's mapping rather than a read() per page, and a
    # larger page cache per connection (the default is 2 MiB): a search reads pages of
    # the full-text index and of the videos all over the file.
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.execute("PRAGMA cache_size=-16384")
    cursor.close()


# A server that vanished without closing the connection (a host gone, a cut network) is
# noticed by TCP: keepalive probes after 30 s of silence on an idle connection, and
# data left unacknowledged for 30 s on a busy one (tcp_user_timeout), instead of the
# operating system's two hours.
TCP_KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
# The server ends a session left idle inside a transaction (a client that hung).
IDLE_IN_TRANSACTION_MS = 60_000
# How much longer than the server's statement timeout the client waits for an answer.
WATCHDOG_GRACE_S = 5.0


def create_database_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    statement_timeout_ms: int = 30_000,
    connect_timeout_s: int = 10,
    slow_query_ms: int = 0,
) -> Engine:
    """An engine for ``url``; connects lazily (nothing happens at creation). With
    ``slow_query_ms``, statements that take longer are logged (``SlowQueryLog``)."""
    engine = _engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        statement_timeout_ms=statement_timeout_ms,
        connect_timeout_s=connect_timeout_s,
    )
    if slow_query_ms > 0:
        SlowQueryLog(slow_query_ms).attach(engine)
    return engine


def _engine(
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    statement_timeout_ms: int,
    connect_timeout_s: int,
) -> Engine:
    full = normalize_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(full, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(
            full,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # No ping at checkout: the unit of work replaces a connection that fails its
            # first statement (adapters.sql.session).
            pool_recycle=1800,
            # Transaction control belongs to the unit of work, as on SQLite: it reads
            # outside a transaction and sends BEGIN at its first write
            # (adapters.sql.session). Set once per connection, not switched at every
            # checkout and back at every checkin. Anything else that needs a
            # transaction asks for one on its connection (migrations, the audit walk).
            isolation_level="AUTOCOMMIT",
            connect_args={
                "connect_timeout": connect_timeout_s,
                "options": (
                    # Instants come back in UTC, as they are stored and written.
                    "-c TimeZone=UTC"
                    f" -c statement_timeout={statement_timeout_ms}"
                    f" -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
                ),
                "application_name": "videoplatform",
                **TCP_KEEPALIVE,
            },
        )
        if statement_timeout_ms > 0:
            # A server gone silent behind a live TCP peer: end the wait client-side.
            StatementWatchdog(statement_timeout_ms / 1000 + WATCHDOG_GRACE_S).attach(engine)
        return engine
    raise ValueError(f"unsupported database: {parsed.get_backend_name()}")


def wait_for_database(engine: Engine, *, attempts: int = 8, first_delay: float = 0.25) -> None:
    """Connect, retrying with exponential backoff (a server that is still starting)."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except OperationalError as error:
            if attempt == attempts:
                raise
            log.warning(
                "database_unavailable", attempt=attempt, retry_in=delay, error=str(error.orig)
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
