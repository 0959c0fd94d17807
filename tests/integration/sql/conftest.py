"""Databases for the SQL adapter's integration tests.

Every PostgreSQL test module gets its own fresh database ``vp_it_<random hex>``, created
with AUTOCOMMIT on the ``postgres`` database and dropped (after terminating every other
connection to it) when the module ends, so modules never see each other's rows, roles'
sessions or plans. SQLite tests use a file under ``tmp_path``.

``fresh_engine`` and ``migrated_engine`` are parametrized over both backends; the
PostgreSQL side is only requested when its parameter runs, so the SQLite half still runs
(and the PostgreSQL half skips, or fails under ``VIDEOPLATFORM_REQUIRE_SERVICES=1``) when
no server is reachable.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from attrs import frozen
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import ServiceEndpoint
from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.engine import create_database_engine

BACKENDS = ("sqlite", "postgresql")


@frozen
class PgDatabase:
    endpoint: ServiceEndpoint
    name: str

    def url(self, user: str = "postgres") -> str:
        return f"postgresql://{user}@{self.endpoint.host}:{self.endpoint.port}/{self.name}"


def admin_engine(endpoint: ServiceEndpoint) -> Engine:
    """An AUTOCOMMIT engine on the ``postgres`` database, for CREATE/DROP DATABASE/ROLE."""
    return create_engine(
        f"postgresql+psycopg://postgres@{endpoint.host}:{endpoint.port}/postgres",
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )


def terminate_sessions(
    endpoint: ServiceEndpoint, *, database: str | None = None, user: str | None = None
) -> None:
    admin = admin_engine(endpoint)
    try:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE pid <> pg_backend_pid()"
                    " AND (CAST(:db AS text) IS NULL OR datname = :db)"
                    " AND (CAST(:user AS text) IS NULL OR usename = :user)"
                ),
                {"db": database, "user": user},
            )
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def pg_database(postgres_service: ServiceEndpoint) -> Iterator[PgDatabase]:
    database = PgDatabase(postgres_service, f"vp_it_{secrets.token_hex(6)}")
    admin = admin_engine(postgres_service)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{database.name}"')
        yield database
    finally:
        terminate_sessions(postgres_service, database=database.name)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database.name}"')
        admin.dispose()


@pytest.fixture(scope="module")
def pg_engine(pg_database: PgDatabase) -> Iterator[Engine]:
    """An engine on the module's database, not migrated."""
    engine = create_database_engine(pg_database.url(), pool_size=10, max_overflow=10)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def migrated_pg_engine(pg_engine: Engine) -> Engine:
    migrate.upgrade(pg_engine, "head")
    return pg_engine


def sqlite_engine_at(path: Path) -> Engine:
    return create_database_engine(f"sqlite:///{path}")


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlite_engine_at(tmp_path / "videoplatform.db")
    yield engine
    engine.dispose()


@pytest.fixture
def migrated_sqlite_engine(sqlite_engine: Engine) -> Engine:
    migrate.upgrade(sqlite_engine, "head")
    return sqlite_engine


@pytest.fixture(params=BACKENDS)
def fresh_engine(request: pytest.FixtureRequest) -> Engine:
    """An engine on an empty database of each backend (PostgreSQL: the module's database)."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


@pytest.fixture(params=BACKENDS)
def migrated_engine(request: pytest.FixtureRequest) -> Engine:
    name = "migrated_sqlite_engine" if request.param == "sqlite" else "migrated_pg_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine
