"""A client-side deadline for every PostgreSQL round trip.

The server's ``statement_timeout`` ends a slow statement, but only a server that hears
the statement can end it. When the path to the server goes silent while the TCP peer
stays alive (a proxy or load balancer that stops forwarding, a frozen server host behind
one), the client waits in ``recv`` with nothing to wake it: keepalive probes and the TCP
user timeout are answered by the live peer. This watchdog gives each statement, commit
and rollback a deadline (the server's timeout plus a grace); past it, it shuts the
connection's socket down, so the waiting call fails at once with a connection error,
the pool discards the connection, and the caller sees the database as unavailable.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

import structlog
from sqlalchemy import Engine, event

log = structlog.get_logger(__name__)

CHECK_SECONDS = 0.5


class StatementWatchdog:
    def __init__(self, deadline_seconds: float) -> None:
        self.deadline_seconds = deadline_seconds
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, int]] = {}  # id(dbapi connection) -> (due, fd)
        self._thread: threading.Thread | None = None

    def attach(self, engine: Engine) -> None:
        """Arm before every statement, commit and rollback of ``engine``; disarm after
        them and whenever a connection goes back to the pool."""
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "after_cursor_execute", self._after_execute)
        event.listen(engine, "handle_error", self._on_error)
        event.listen(engine, "commit", self._before_end)
        event.listen(engine, "rollback", self._before_end)
        event.listen(engine.pool, "checkin", self._on_checkin)

    # -- events -------------------------------------------------------------------------

    def _before_execute(self, _conn: Any, cursor: Any, *_: Any) -> None:
        self.arm(cursor.connection)

    def _after_execute(self, _conn: Any, cursor: Any, *_: Any) -> None:
        self.disarm(cursor.connection)

    def _on_error(self, context: Any) -> None:
        cursor = getattr(context, "cursor", None)
        if cursor is not None:
            self.disarm(cursor.connection)
            return
        conn = getattr(context, "connection", None)
        dbapi = getattr(getattr(conn, "connection", None), "dbapi_connection", None)
        if dbapi is not None:
            self.disarm(dbapi)

    def _before_end(self, conn: Any) -> None:
        if conn.invalidated:  # dropped after a connection error: nothing to wait on
            return
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None:
            self.arm(dbapi)

    def _on_checkin(self, dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            self.disarm(dbapi_connection)

    # -- deadlines ----------------------------------------------------------------------

    def arm(self, dbapi_connection: Any) -> None:
        try:
            fd = dbapi_connection.pgconn.socket
        except Exception:  # closed, or not a psycopg connection: nothing to watch
            return
        with self._lock:
            self._armed[id(dbapi_connection)] = (time.monotonic() + self.deadline_seconds, fd)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="sql-statement-watchdog", daemon=True
                )
                self._thread.start()

    def disarm(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._armed.pop(id(dbapi_connection), None)

    def _watch(self) -> None:
        while True:
            time.sleep(CHECK_SECONDS)
            now = time.monotonic()
            with self._lock:
                overdue = [(key, fd) for key, (due, fd) in self._armed.items() if due <= now]
                for key, _ in overdue:
                    del self._armed[key]
            for _, fd in overdue:
                log.warning("database_silent", deadline_seconds=self.deadline_seconds)
                _shut_down(fd)


def _shut_down(fd: int) -> None:
    """End the connection on socket ``fd``: shutting down a duplicate descriptor acts on
    the socket itself, and wakes the thread blocked reading it."""
    try:
        duplicate = os.dup(fd)
    except OSError:
        return
    sock = socket.socket(fileno=duplicate)
    try:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.close()
