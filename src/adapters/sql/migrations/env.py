"""Alembic environment: migrations run on the connection that
:mod:`videoplatform.adapters.sql.migrate`
hands over, never on a URL read from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from videoplatform.adapters.sql.tables import declared, metadata


def run() -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `videoplatform migrate`")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=declared,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
