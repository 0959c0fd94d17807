"""The audit trail is append-only for the application and tamper-evident for everyone.

(a) PostgreSQL: a LOGIN role that is a member of ``videoplatform_app`` (what the
    application connects as) may append and read events, but may not UPDATE, DELETE or
    TRUNCATE them, nor run ``audit_retention``; the owner may, and it removes only the
    events older than the cutoff.
(b) SQLite and PostgreSQL: events appended across units of work, including by concurrent
    threads, form one unbroken hash chain (it never forks); changing or deleting a
    stored row is detected at that row.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg.errors
import pytest
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError

from tests.integration.sql.builders import T0, an_event, at, chain_rows
from tests.integration.sql.conftest import PgDatabase, admin_engine, terminate_sessions
from videoplatform.adapters.sql import tables
from videoplatform.adapters.sql.audit_chain import GENESIS, verify_chain
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.ports.persistence import AuditQuery
from videoplatform.domain.audit import AuditEvent

APP_ROLE = "videoplatform_app"
APPENDERS = 8
ROUNDS = 5


def reset_audit_trail(engine: Engine) -> None:
    """Start each test from an empty trail (as the owner; the module's database is shared)."""
    with engine.begin() as conn:
        conn.execute(delete(tables.audit_events))
        conn.execute(update(tables.audit_head).values(last_hash=GENESIS))


@pytest.fixture
def trail(migrated_engine: Engine) -> Engine:
    reset_audit_trail(migrated_engine)
    return migrated_engine


@pytest.fixture
def pg_trail(migrated_pg_engine: Engine) -> Engine:
    reset_audit_trail(migrated_pg_engine)
    return migrated_pg_engine


def append(factory: SqlUnitOfWorkFactory, *events: AuditEvent) -> None:
    with factory() as uow:
        for e in events:
            uow.audit.append(e)
        uow.commit()


# -- (a) the application's role on PostgreSQL ---------------------------------------------


@pytest.fixture(scope="module")
def app_login(pg_database: PgDatabase, migrated_pg_engine: Engine) -> Iterator[str]:
    """A LOGIN role IN ROLE videoplatform_app (created by the migration), dropped after."""
    role = f"vp_app_{secrets.token_hex(6)}"
    admin = admin_engine(pg_database.endpoint)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN IN ROLE {APP_ROLE}")
        yield role
    finally:
        terminate_sessions(pg_database.endpoint, user=role)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


@pytest.fixture(scope="module")
def app_engine(pg_database: PgDatabase, app_login: str) -> Iterator[Engine]:
    engine = create_database_engine(pg_database.url(user=app_login))
    yield engine
    engine.dispose()


def refused(error: DBAPIError) -> bool:
    return isinstance(error.orig, psycopg.errors.InsufficientPrivilege)


def test_the_application_role_connects_as_itself(app_engine: Engine, app_login: str) -> None:
    with app_engine.connect() as conn:
        who = conn.execute(
            text("SELECT current_user, pg_has_role(current_user, :r, 'USAGE')"), {"r": APP_ROLE}
        ).one()
    assert tuple(who) == (app_login, True)


def test_the_application_role_appends_and_reads_events(
    pg_trail: Engine, app_engine: Engine
) -> None:
    factory = SqlUnitOfWorkFactory(app_engine)
    events = [an_event(n, occurred_at=at(n)) for n in range(3)]
    append(factory, *events[:2])
    append(factory, events[2])

    with factory() as uow:
        found = uow.audit.search(AuditQuery(), limit=10)
    assert [e.id for e in found] == [e.id for e in reversed(events)]
    assert found[0] == events[2]
    report = verify_chain(chain_rows(app_engine))
    assert report.intact and report.checked == 3


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET metadata = '{}'",
        "UPDATE audit_events SET hash = prev_hash",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
    ids=["update-metadata", "update-hash", "delete", "truncate"],
)
def test_the_application_role_cannot_change_or_remove_events(
    pg_trail: Engine, app_engine: Engine, statement: str
) -> None:
    append(SqlUnitOfWorkFactory(app_engine), an_event(1))
    with app_engine.connect() as conn, pytest.raises(ProgrammingError) as denied:
        conn.exec_driver_sql(statement)
    assert refused(denied.value), denied.value
    assert "permission denied" in str(denied.value.orig)
    assert len(chain_rows(pg_trail)) == 1


def test_the_application_role_cannot_drop_the_trail(pg_trail: Engine, app_engine: Engine) -> None:
    with app_engine.connect() as conn, pytest.raises(ProgrammingError) as denied:
        conn.exec_driver_sql("DROP TABLE audit_events")
    assert refused(denied.value), denied.value


def test_the_application_role_cannot_run_retention(pg_trail: Engine, app_engine: Engine) -> None:
    append(SqlUnitOfWorkFactory(app_engine), an_event(1, occurred_at=T0 - timedelta(days=400)))
    with app_engine.connect() as conn, pytest.raises(ProgrammingError) as denied:
        conn.execute(text("SELECT audit_retention(:cutoff)"), {"cutoff": T0})
    assert refused(denied.value), denied.value
    assert len(chain_rows(pg_trail)) == 1


def test_the_owner_runs_retention_and_it_removes_only_older_events(pg_trail: Engine) -> None:
    factory = SqlUnitOfWorkFactory(pg_trail)
    old = [an_event(n, occurred_at=T0 - timedelta(days=90 - n)) for n in range(4)]
    recent = [an_event(10 + n, occurred_at=T0 + timedelta(days=n)) for n in range(3)]
    append(factory, *old)
    append(factory, *recent)
    boundary = an_event(99, occurred_at=T0)  # exactly at the cutoff: kept
    append(factory, boundary)

    with pg_trail.begin() as conn:
        removed = conn.execute(text("SELECT audit_retention(:cutoff)"), {"cutoff": T0}).scalar()
    assert removed == len(old)

    rows = chain_rows(pg_trail)
    assert {r[0]["id"] for r in rows} == {e.id for e in [*recent, boundary]}
    # What is left still verifies: its first row's prev_hash is the anchor.
    report = verify_chain(rows)
    assert report.intact and report.checked == len(recent) + 1


# -- (b) the hash chain, on both backends ----------------------------------------------------


def test_events_appended_across_units_of_work_form_one_intact_chain(trail: Engine) -> None:
    factory = SqlUnitOfWorkFactory(trail)
    for n in range(0, 12, 3):
        append(factory, *(an_event(n + k, occurred_at=at(n + k)) for k in range(3)))

    rows = chain_rows(trail)
    report = verify_chain(rows)
    assert report.intact and report.checked == len(rows) == 12
    assert rows[0][1] == GENESIS
    with trail.connect() as conn:
        head = conn.execute(select(tables.audit_head.c.last_hash)).scalar_one()
    assert head == rows[-1][2]


def test_a_rolled_back_append_leaves_the_chain_untouched(trail: Engine) -> None:
    factory = SqlUnitOfWorkFactory(trail)
    append(factory, an_event(1))
    with factory() as uow:
        uow.audit.append(an_event(2))  # and the unit of work ends without a commit
    append(factory, an_event(3))
    rows = chain_rows(trail)
    assert [r[0]["metadata"] for r in rows] == [{"n": "1"}, {"n": "3"}]
    assert verify_chain(rows).intact


def test_concurrent_appenders_never_fork_the_chain(trail: Engine) -> None:
    factory = SqlUnitOfWorkFactory(trail)
    append(factory, an_event(0))
    barrier = threading.Barrier(APPENDERS, timeout=30)

    def appender(i: int) -> None:
        barrier.wait()
        for r in range(ROUNDS):
            n = 1000 * (i + 1) + r
            append(factory, an_event(n, actor=None), an_event(n + 500))

    with ThreadPoolExecutor(max_workers=APPENDERS) as pool:
        for future in [pool.submit(appender, i) for i in range(APPENDERS)]:
            future.result(timeout=60)

    rows = chain_rows(trail)
    expected = 1 + APPENDERS * ROUNDS * 2
    assert len(rows) == expected
    report = verify_chain(rows)
    assert report.intact and report.checked == expected
    # No two events claim the same predecessor: a fork would.
    assert len({prev for _, prev, _ in rows}) == expected
    with trail.connect() as conn:
        head = conn.execute(select(tables.audit_head.c.last_hash)).scalar_one()
        count = conn.execute(select(func.count()).select_from(tables.audit_events)).scalar()
    assert head == rows[-1][2]
    assert count == expected


def test_changing_a_stored_event_is_detected_at_that_event(trail: Engine) -> None:
    factory = SqlUnitOfWorkFactory(trail)
    events = [an_event(n, occurred_at=at(n)) for n in range(6)]
    append(factory, *events[:3])
    append(factory, *events[3:])
    assert verify_chain(chain_rows(trail)).intact

    victim = events[3]
    t = tables.audit_events
    with trail.begin() as conn:  # as the owner, bypassing the application
        conn.execute(update(t).where(t.c.id == victim.id).values(metadata={"n": "tampered"}))

    report = verify_chain(chain_rows(trail))
    assert report.broken_at == victim.id
    assert report.checked == 3


def test_deleting_a_stored_event_is_detected_at_its_successor(trail: Engine) -> None:
    factory = SqlUnitOfWorkFactory(trail)
    events = [an_event(n, occurred_at=at(n)) for n in range(6)]
    for e in events:
        append(factory, e)

    t = tables.audit_events
    with trail.begin() as conn:
        conn.execute(delete(t).where(t.c.id == events[2].id))

    report = verify_chain(chain_rows(trail))
    assert report.broken_at == events[3].id
    assert report.checked == 2
