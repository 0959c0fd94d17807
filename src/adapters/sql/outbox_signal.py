"""PostgreSQL's ``LISTEN``/``NOTIFY`` as the outbox's wake-up call between processes.

A transaction that writes outbox messages also runs ``pg_notify`` (once, whatever the
number of messages: :func:`notify_outbox`, queued by the SQL outbox); PostgreSQL delivers
the notification when, and only if, the transaction commits. A relay in any process
listens on one connection of its own (:class:`PostgresOutboxListener`) and looks at
the outbox as soon as one arrives, instead of at its next poll.

The listening connection is the engine's (same address, credentials, connect timeout,
TCP keepalives and statement timeout) but is taken out of the pool for good: ``LISTEN``
belongs to a session, which a pooled connection would hand to whoever came next.
psycopg is imported only by whoever listens (through the engine), never here: SQLite
needs no PostgreSQL driver.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Engine, func, select

from videoplatform.application.ports.errors import Unavailable

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "videoplatform_outbox"
"""The channel committed outbox messages are announced on (per database, as PostgreSQL's
channels are)."""

NOTIFY_KEY = "notify-outbox"
"""The session's key for the one notification a transaction sends."""

_CHANNEL_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def notify_outbox(conn: Connection) -> None:
    """Announce, at commit, that this transaction wrote outbox messages. The payload is
    empty: the relay reads the outbox anyway, and equal notifications of one transaction
    are folded into one by the server."""
    conn.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))


class PostgresOutboxListener:
    """An :class:`~videoplatform.application.ports.outbox.OutboxListener` on
    PostgreSQL: one dedicated connection, ``LISTEN`` on :data:`OUTBOX_CHANNEL`. Used
    by one thread (the relay's follower) at a time."""

    def __init__(self, engine: Engine, channel: str = OUTBOX_CHANNEL) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError(f"notifications need PostgreSQL, not {engine.dialect.name}")
        if not _CHANNEL_NAME.fullmatch(channel):
            raise ValueError(f"{channel!r} is not a plain lower-case channel name")
        self._engine = engine
        self._channel = channel
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def listening(self) -> bool:
        """Whether a connection is open and listening (as far as this side knows)."""
        return self._conn is not None

    def wait(self, timeout: float) -> bool:
        conn = self._conn
        if conn is None:
            self._conn = self._listen()
            return True  # whatever was committed while nobody listened is worth a look
        try:
            notices = conn.notifies(timeout=max(timeout, 0.0), stop_after=1)
            try:
                return next(notices, None) is not None
            finally:
                notices.close()  # gives the connection's lock back at once
        except Exception as error:
            self.close()
            raise Unavailable("database", f"outbox notifications: {error!r}") from error

    def _listen(self) -> psycopg.Connection[Any]:
        """A connection of the engine's, out of its pool, in autocommit, listening."""
        try:
            pooled = self._engine.raw_connection()
        except Exception as error:
            raise Unavailable("database", f"cannot listen for outbox messages: {error!r}") from None
        try:
            pooled.detach()  # closed by us, never handed to another user of the pool
            conn = cast("psycopg.Connection[Any]", pooled.dbapi_connection)
            conn.rollback()  # whatever the pool's checkout left open
            conn.autocommit = True  # a notification is delivered between transactions
            conn.execute(f"LISTEN {self._channel}")  # the name is checked: a plain word
        except Exception as error:
            with contextlib.suppress(Exception):
                pooled.close()
            raise Unavailable("database", f"cannot listen for outbox messages: {error!r}") from None
        log.debug("listening for outbox messages on %s", self._channel)
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection may fail to close cleanly; it is gone either way.
            with contextlib.suppress(Exception):
                conn.close()
