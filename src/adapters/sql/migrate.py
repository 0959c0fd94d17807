"""Running migrations: upgrade, downgrade, current revision, history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from videoplatform.adapters.sql import documents

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@contextmanager
def _bound(engine: Engine) -> Iterator[Config]:
    config = _config()
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # The engine hands transaction control to us; Alembic needs the driver's own.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        else:
            # The engine's connections autocommit (adapters.sql.engine); a migration is
            # one transaction, rolled back whole when a step fails.
            connection.execution_options(isolation_level="READ COMMITTED")
        config.attributes["connection"] = connection
        yield config
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade to ``revision``; at the head, then write the videos' documents that are
    missing or of another shape (``documents.refresh``)."""
    with _bound(engine) as config:
        command.upgrade(config, revision)
    # "head" needs no check (reading the scripts again took 18 ms of every embedded start).
    if revision == "head" or is_current(engine):
        documents.refresh(engine)


def downgrade(engine: Engine, revision: str) -> None:
    with _bound(engine) as config:
        command.downgrade(config, revision)


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise RuntimeError("no migrations found")
    return revision


def history() -> list[tuple[str, str | None, str]]:
    """(revision, down revision, message) from base to head."""
    script = ScriptDirectory.from_config(_config())
    steps = [
        (s.revision, s.down_revision if isinstance(s.down_revision, str) else None, s.doc or "")
        for s in script.walk_revisions()
    ]
    return list(reversed(steps))


def is_current(engine: Engine) -> bool:
    return current(engine) == head()


class SqlSchemaState:
    """The schema state of ``engine``'s database: its Alembic revision against this
    release's head."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def is_current(self) -> bool:
        return is_current(self._engine)
