"""Which relays listen for the outbox's notifications: those on PostgreSQL (unless the
setting turns it off); an embedded platform keeps its in-process wake-up and its poll."""

from __future__ import annotations

from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.adapters.sql.outbox_signal import PostgresOutboxListener
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.persistence import outbox_listener_of
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import BackgroundWorkers

# Building an engine connects to nothing: no server is needed here.
POSTGRES_URL = "postgresql://postgres@127.0.0.1:1/none"


def test_a_relay_on_postgresql_listens_for_commits_of_other_processes() -> None:
    engine = create_database_engine(POSTGRES_URL)
    try:
        listener = outbox_listener_of(SqlUnitOfWorkFactory(engine), Settings())
        assert isinstance(listener, PostgresOutboxListener)
        assert not listener.listening  # nothing connects until the relay waits
    finally:
        engine.dispose()


def test_listening_can_be_turned_off_for_a_pooler_that_cannot_listen() -> None:
    settings = Settings.from_env({"VIDEOPLATFORM_RELAY_LISTEN": "false"})
    engine = create_database_engine(POSTGRES_URL)
    try:
        assert settings.relay_listen is False
        assert outbox_listener_of(SqlUnitOfWorkFactory(engine), settings) is None
    finally:
        engine.dispose()


def test_sqlite_and_memory_databases_have_no_listener() -> None:
    engine = create_database_engine("sqlite:///:memory:")
    try:
        assert outbox_listener_of(SqlUnitOfWorkFactory(engine), Settings()) is None
    finally:
        engine.dispose()
    assert outbox_listener_of(MemoryUnitOfWorkFactory(), Settings()) is None


def test_an_embedded_platforms_background_workers_keep_the_in_process_wake_up(
    platform: Platform,
) -> None:
    workers = BackgroundWorkers(platform, {}, concurrency=0, sweep_seconds=None)
    assert workers.relay is not None
    assert workers.listener is None
