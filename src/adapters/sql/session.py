"""One unit of work's connection, its pending writes, and error translation.

Writes are queued and flushed just before the next read and at commit, like an ORM
session: reads see the unit of work's own writes, and row locks are taken as late as
possible. On SQLite, reads run outside a transaction (each statement is consistent on
its own; optimistic versions protect every write) and the first flush opens
``BEGIN IMMEDIATE``, so concurrent writers queue on the busy timeout instead of failing
on a stale snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Executable, Result
from sqlalchemy.exc import IntegrityError, OperationalError

from application.ports.persistence import STALE_VERSION
from domain.aggregate import Aggregate
from domain.errors import Conflict

# Which unique constraint means what, for the error code callers rely on.
_UNIQUE_CODES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("users.email", "uq_users_email"), "email_taken"),
    (("files.owner_id", "uq_files_owner_id_folder_name"), "file_exists"),
    (("categories.slug", "uq_categories_slug"), "category_exists"),
    (("api_tokens.token_hash", "uq_api_tokens_token_hash"), "token_exists"),
    (("shares.token_hash", "uq_shares_token_hash"), "share_exists"),
)


def conflict_from(error: IntegrityError) -> Conflict:
    text = str(error.orig)
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None) or ""
    for markers, code in _UNIQUE_CODES:
        if any(m in text or m == constraint for m in markers):
            return Conflict(f"duplicate: {code}", code=code)
    return Conflict("the change collides with existing data")


Write = Callable[[Connection], None]


class SqlSession:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._conn: Connection | None = None
        self._pending: list[Write] = []
        self._writing = False
        self._after_commit: list[tuple[Aggregate, int]] = []

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def defer(self, write: Write) -> None:
        self._pending.append(write)

    def bump_after_commit(self, obj: Aggregate, version: int) -> None:
        self._after_commit.append((obj, version))

    def _begin_writing(self) -> Connection:
        conn = self._connection()
        if self._sqlite and not self._writing:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        self._writing = True
        return conn

    def flush(self) -> None:
        if not self._pending:
            return
        conn = self._begin_writing()
        pending, self._pending = self._pending, []
        try:
            for write in pending:
                write(conn)
        except IntegrityError as error:
            raise conflict_from(error) from None
        except OperationalError as error:
            if _is_serialization_failure(error):
                raise Conflict("concurrent change", code=STALE_VERSION) from None
            raise

    def read(self, statement: Executable) -> Result[Any]:
        self.flush()
        return self._connection().execute(statement)

    def write_now(self, statement: Executable) -> CursorResult[Any]:
        """Run a write at once (after pending ones): for statements whose result the
        caller needs, such as an increment's row count."""
        self.flush()
        try:
            return self._begin_writing().execute(statement)
        except IntegrityError as error:
            raise conflict_from(error) from None

    def commit(self) -> None:
        self.flush()
        if self._conn is not None:
            self._conn.commit()
        for obj, version in self._after_commit:
            obj.version = version
        self._reset()

    def rollback(self) -> None:
        self._pending.clear()
        if self._conn is not None:
            self._conn.rollback()
        self._reset()

    def close(self) -> None:
        self._pending.clear()
        if self._conn is not None:
            try:
                self._conn.rollback()
            finally:
                self._conn.close()
        self._conn = None
        self._writing = False
        self._after_commit = []

    def _reset(self) -> None:
        self._writing = False
        self._after_commit = []
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _is_serialization_failure(error: OperationalError) -> bool:
    code = getattr(error.orig, "sqlstate", None)
    return code in {"40001", "40P01"}
