"""Choosing the database and the object storage from settings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.unit_of_work import MemorySchemaState, MemoryUnitOfWorkFactory
from videoplatform.adapters.storage.local import LocalObjectStorage
from videoplatform.application.ports.outbox import OutboxListener
from videoplatform.application.ports.persistence import (
    CommitHooks,
    SchemaState,
    UnitOfWorkFactory,
)
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.tracing import Tracer
from videoplatform.entrypoints.settings import ConfigurationError, Settings, require_extra
from videoplatform.entrypoints.tracing import trace_engine
from videoplatform.entrypoints.wiring import Closer


def database_url(settings: Settings) -> str:
    """The effective URL: the embedded SQLite file in the data directory by default."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{Path(settings.data_dir).resolve() / 'videoplatform.db'}"


def open_database(
    settings: Settings,
    closers: list[Closer],
    hooks: CommitHooks | None = None,
    tracer: Tracer | None = None,
) -> UnitOfWorkFactory:
    url = database_url(settings)
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme == "memory":
        return MemoryUnitOfWorkFactory(hooks=hooks, tracer=tracer)
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigurationError(
            f"VIDEOPLATFORM_DATABASE_URL={url!r}: use sqlite:///PATH, postgresql://... or memory://"
        )
    # SQLAlchemy, Alembic and the drivers load only for a database that needs them:
    # `import videoplatform` and an in-memory platform stay light.
    from videoplatform.adapters.sql import migrate
    from videoplatform.adapters.sql.engine import create_database_engine, wait_for_database
    from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory

    engine = create_database_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        statement_timeout_ms=settings.database_statement_timeout_ms,
        slow_query_ms=settings.database_slow_query_ms,
    )
    closers.append(engine.dispose)
    trace_engine(engine)
    if scheme == "sqlite":
        # The embedded profile keeps itself up to date: no separate step for a newcomer.
        migrate.upgrade(engine)
    else:
        wait_for_database(engine)
        found, wanted = migrate.current(engine), migrate.head()
        if found != wanted:
            raise ConfigurationError(
                f"the database schema is at revision {found or 'none'}, this release needs "
                f"{wanted}: run `videoplatform migrate upgrade` first"
            )
    return SqlUnitOfWorkFactory(engine, hooks, tracer)


def schema_state_of(factory: UnitOfWorkFactory) -> SchemaState:
    """How to ask whether ``factory``'s database is migrated: an SQL database (the
    platform's own, or an override built on an engine) through its engine; any other
    has no schema of its own to migrate."""
    engine = getattr(factory, "engine", None)
    if engine is None:
        return MemorySchemaState()
    from videoplatform.adapters.sql.migrate import SqlSchemaState

    return SqlSchemaState(engine)


def outbox_listener_of(factory: UnitOfWorkFactory, settings: Settings) -> OutboxListener | None:
    """What tells a relay that another process committed outbox messages: PostgreSQL's
    notifications, when ``factory`` writes to PostgreSQL and ``relay_listen`` is on;
    otherwise nothing (the relay polls, and commits of its own process wake it)."""
    engine = getattr(factory, "engine", None)
    if engine is None or engine.dialect.name != "postgresql" or not settings.relay_listen:
        return None
    from videoplatform.adapters.sql.outbox_signal import PostgresOutboxListener

    return PostgresOutboxListener(engine)


def open_storage(settings: Settings) -> ObjectStorage:
    url = settings.storage_url
    if url == "memory://":
        return MemoryObjectStorage()
    if not url:
        return LocalObjectStorage(Path(settings.data_dir) / "objects")
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return LocalObjectStorage(unquote(parts.path))
    if parts.scheme == "s3":
        return _open_s3(settings, parts.netloc, parts.path, parts.query)
    raise ConfigurationError(
        f"VIDEOPLATFORM_STORAGE_URL={url!r}: use file:///ABSOLUTE/PATH, s3://BUCKET or memory://"
    )


def _open_s3(settings: Settings, bucket: str, path: str, query: str) -> ObjectStorage:
    """An S3 bucket through boto3. Building the client reads credentials from boto3's
    default chain but connects to nothing: the first request does."""
    if not bucket or path not in ("", "/") or query:
        raise ConfigurationError(
            f"VIDEOPLATFORM_STORAGE_URL={settings.storage_url!r}: use s3://BUCKET "
            "(a bucket name only: no path, no query)"
        )
    endpoint = settings.s3_endpoint_url
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"VIDEOPLATFORM_S3_ENDPOINT_URL={endpoint!r}: use http(s)://HOST[:PORT]"
            )
    require_extra("STORAGE_URL", settings.storage_url, "boto3", "s3")
    from videoplatform.adapters.storage.s3 import S3ObjectStorage, s3_client

    client = s3_client(
        endpoint_url=endpoint or None,
        region=settings.s3_region,
        connect_timeout=settings.s3_connect_timeout_seconds,
        read_timeout=settings.s3_read_timeout_seconds,
        attempts=settings.s3_attempts,
    )
    return S3ObjectStorage(bucket, client)
