"""``videoplatform db top`` and the slow-query log against real databases.

The statistics come from pg_stat_statements, which the server must load at start; the
shared test server may or may not: each test asks the server which it is and checks
the answer for that case (never both, never neither)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import structlog
from sqlalchemy import Engine, text

from tests.integration.served import command
from tests.integration.sql.builders import stored_video
from tests.integration.sql.conftest import PgDatabase
from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.adapters.sql.slow_queries import SlowQueryLog
from videoplatform.adapters.sql.statistics import StatisticsUnavailable, heaviest_statements
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.ports.persistence import VideoListQuery


def preloaded(engine: Engine) -> bool:
    with engine.connect() as conn:
        libraries = str(conn.execute(text("SHOW shared_preload_libraries")).scalar())
    return "pg_stat_statements" in [name.strip() for name in libraries.split(",")]


def db_top(database: PgDatabase, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return command(
        {"VIDEOPLATFORM_DATABASE_URL": database.url()}, tmp_path, "db", "top", "--limit", "5"
    )


def test_db_top_says_how_to_enable_the_statistics_or_lists_the_heaviest_statements(
    pg_database: PgDatabase, pg_engine: Engine, tmp_path: Path
) -> None:
    with pg_engine.begin() as conn:
        conn.execute(text("DROP EXTENSION IF EXISTS pg_stat_statements"))
    absent = db_top(pg_database, tmp_path)
    assert absent.returncode == 1
    assert "not created in this database" in absent.stderr
    assert "shared_preload_libraries" in absent.stderr
    assert "CREATE EXTENSION pg_stat_statements" in absent.stderr

    with pg_engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION pg_stat_statements"))
        conn.execute(text("SELECT count(*) FROM generate_series(1, 20000)"))
    created = db_top(pg_database, tmp_path)
    if preloaded(pg_engine):
        assert created.returncode == 0, created.stderr
        header, *lines = created.stdout.splitlines()
        assert header.split()[:4] == ["total", "ms", "calls", "mean"]
        assert 1 <= len(lines) <= 5
    else:
        assert created.returncode == 1
        assert "created but not loaded by the server" in created.stderr
        assert "shared_preload_libraries" in created.stderr


def test_statistics_need_postgresql(sqlite_engine: Engine) -> None:
    try:
        heaviest_statements(sqlite_engine)
    except StatisticsUnavailable as why:
        assert str(why) == "statement statistics need PostgreSQL"
    else:
        raise AssertionError("SQLite has no statement statistics")


def test_a_statement_over_the_threshold_is_logged_with_its_shape_and_context(
    pg_database: PgDatabase,
) -> None:
    engine = create_database_engine(pg_database.url(), slow_query_ms=20)
    try:
        with (
            structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logs,
            structlog.contextvars.bound_contextvars(use_case="videos.list"),
            engine.connect() as conn,
        ):
            conn.execute(text("SELECT pg_sleep(0.05), :secret"), {"secret": "hunter2"})
            conn.execute(text("SELECT 1"))
        slow = [entry for entry in logs if entry["event"] == "slow_query"]
        assert len(slow) == 1
        (entry,) = slow
        assert entry["log_level"] == "warning"
        assert entry["duration_ms"] >= 50
        assert entry["use_case"] == "videos.list"  # where it ran
        assert entry["statement"].startswith("SELECT pg_sleep(0.05), %(secret)s")
        assert "hunter2" not in str(entry)
    finally:
        engine.dispose()


def test_sqlite_reads_run_on_the_driver_are_timed_by_the_slow_query_log(
    migrated_sqlite_engine: Engine,
) -> None:
    # The packed reads skip SQLAlchemy's execution but not its cursor events: with a
    # threshold of 0 every statement is "slow", so each read must leave its line.
    SlowQueryLog(0).attach(migrated_sqlite_engine)
    factory = SqlUnitOfWorkFactory(migrated_sqlite_engine)
    video = stored_video(factory)
    with (
        structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logs,
        structlog.contextvars.bound_contextvars(use_case="videos.get"),
        factory() as uow,
    ):
        assert uow.videos.get(video.id) == video
        listed = uow.videos.list_page(VideoListQuery(viewer_id=None, see_all=True), 10)
    assert [v.id for v in listed] == [video.id]
    slow = [entry for entry in logs if entry["event"] == "slow_query"]
    assert [entry["use_case"] for entry in slow] == ["videos.get", "videos.get"]
    point, page = (entry["statement"] for entry in slow)
    assert point.startswith("SELECT json_array(videos.id,") and point.endswith(
        "WHERE videos.id = ?"
    )
    assert page.startswith("SELECT group_concat(")
    assert video.id not in str(slow)  # the shapes, never the values


def test_postgresql_reads_run_on_the_driver_are_timed_by_the_slow_query_log(
    pg_database: PgDatabase,
) -> None:
    # The point lookups and the pages of videos skip SQLAlchemy's execution on
    # PostgreSQL too, but not its cursor events nor the columns' conversions.
    engine = create_database_engine(pg_database.url())
    try:
        migrate.upgrade(engine)
        SlowQueryLog(0).attach(engine)
        factory = SqlUnitOfWorkFactory(engine)
        video = stored_video(factory)
        with (
            structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logs,
            structlog.contextvars.bound_contextvars(use_case="videos.get"),
            factory() as uow,
        ):
            assert uow.videos.get(video.id) == video  # instants come back aware, in UTC
            listed = uow.videos.list_page(VideoListQuery(viewer_id=None, see_all=True), 10)
    finally:
        engine.dispose()
    assert listed == [video]
    slow = [entry for entry in logs if entry["event"] == "slow_query"]
    assert [entry["use_case"] for entry in slow] == ["videos.get", "videos.get"]
    point, page = (entry["statement"] for entry in slow)
    assert point.startswith("SELECT videos.id, videos.owner_id,")
    assert point.endswith("WHERE videos.id = %(value)s::VARCHAR")
    assert page.startswith("SELECT videos.id,") and "LIMIT %(limit)s" in page
    assert video.id not in str(slow)  # the shapes, never the values
