"""The heaviest statements, from PostgreSQL's ``pg_stat_statements``.

The extension keeps, per statement shape, how often it ran and how long it took in all.
It must be loaded when the server starts and created in the database; when it is not,
:class:`StatisticsUnavailable` says which step is missing and how to take it.
"""

from __future__ import annotations

from attrs import frozen
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

ENABLE = (
    "to enable it: add pg_stat_statements to shared_preload_libraries in postgresql.conf "
    "(shared_preload_libraries = 'pg_stat_statements'), restart PostgreSQL, then run "
    "CREATE EXTENSION pg_stat_statements; in this database (as a superuser)"
)


class StatisticsUnavailable(Exception):
    """The statistics cannot be read here; the message says why and what to do."""


@frozen
class StatementStats:
    statement: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int


def heaviest_statements(engine: Engine, limit: int = 20) -> list[StatementStats]:
    """This database's statements that took the most time in all, heaviest first."""
    if engine.dialect.name != "postgresql":
        raise StatisticsUnavailable("statement statistics need PostgreSQL")
    with engine.connect() as conn:
        created = conn.execute(
            text("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        ).first()
        if created is None:
            raise StatisticsUnavailable(
                "the pg_stat_statements extension is not created in this database; " + ENABLE
            )
        try:
            rows = conn.execute(
                text(
                    "SELECT query, calls, total_exec_time, mean_exec_time, rows"
                    " FROM pg_stat_statements"
                    " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    " ORDER BY total_exec_time DESC LIMIT :limit"
                ),
                {"limit": limit},
            ).all()
        except DBAPIError as error:  # created, but the server did not load it at start
            raise StatisticsUnavailable(
                "pg_stat_statements is created but not loaded by the server "
                f"({error.orig}); " + ENABLE
            ) from None
    return [
        StatementStats(str(q), int(calls), float(total), float(mean), int(n))
        for q, calls, total, mean, n in rows
    ]
