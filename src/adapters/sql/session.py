"""One unit of work's connection, its pending writes, and error translation.

Writes are queued and flushed just before the next read and at commit, like an ORM
session: reads see the unit of work's own writes, and row locks are taken as late as
possible. Reads run outside a transaction (each statement is consistent on its own, as
every statement of a READ COMMITTED transaction is; optimistic versions protect every
write), and the first flush opens one: ``BEGIN IMMEDIATE`` on SQLite, so that
concurrent writers queue on the busy timeout instead of failing on a stale snapshot, and
``BEGIN`` on PostgreSQL. A unit of work that only reads thus costs PostgreSQL its
statements and nothing else: no BEGIN and ROLLBACK around them. Both engines hand the
driver's connections over in autocommit mode from the moment they are made
(:mod:`videoplatform.adapters.sql.engine`), so nothing is switched when the pool hands a
connection out or takes it back.

The most frequent reads (point lookups, a token with its user, a page of videos) run on
the driver's connection directly: the statement is compiled once, and a read costs the
driver's call rather than SQLAlchemy's execution machinery (three times as much, for a
point lookup on SQLite, where these select whole rows packed into one value:
``packed``). On PostgreSQL the columns' types still convert what the driver returns,
and a failure still goes through SQLAlchemy's handling (its error events, and a
connection found dead is invalidated). The engine's cursor events (the slow query log,
the statement watchdog, tracing) still see them.

PostgreSQL connections are not pinged when the pool hands them out (a round trip on
every unit of work). A pooled connection the server has dropped (a restart ends every
session) fails its first statement instead; nothing has run on it then, so that
statement runs again once on a new connection, and the pool drops every connection as
old as the failed one.

A write that fails (a Conflict, or any database error) rolls the transaction back at
once, and the unit of work stays failed until it is rolled back: every later read, write
and ``commit`` raises again. Without this, PostgreSQL would turn the ``COMMIT`` of the
aborted transaction into a silent rollback, and SQLite would commit the writes queued
before the failing one but not those after it.

Versions: the first write of a row in a unit of work checks the version the caller read
and bumps it by one; later writes of the same row in the same unit of work check and
keep that bumped version, so one commit bumps a row's version exactly once however many
times it was saved.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Connection, CursorResult, Engine, Executable, Result, Select
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import PoolProxiedConnection

from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.persistence import STALE_VERSION
from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.errors import Conflict

# Which unique constraint means what, for the error code callers rely on.
_UNIQUE_CODES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("users.email", "uq_users_email"), "email_taken"),
    (("files.owner_id", "uq_files_owner_id_folder_name"), "file_exists"),
    (("categories.slug", "uq_categories_slug"), "category_exists"),
    (("api_tokens.token_hash", "uq_api_tokens_token_hash"), "token_exists"),
    (("shares.token_hash", "uq_shares_token_hash"), "share_exists"),
    (("caption_tracks.video_id", "uq_caption_tracks_video_id_language"), "caption_exists"),
)


def conflict_from(error: IntegrityError) -> Conflict:
    """The Conflict (with its code) that a broken unique constraint means."""
    text = str(error.orig)
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None) or ""
    for markers, code in _UNIQUE_CODES:
        if any(m in text or m == constraint for m in markers):
            return Conflict(f"duplicate: {code}", code=code)
    return Conflict("the change collides with existing data")


Write = Callable[[Connection], None]

RowKey = tuple[str, str]
"""(table name, row id)."""

T = TypeVar("T")


class _Plain:
    """A statement compiled once to the driver's SQL, with its parameters' order (qmark)
    or names (pyformat), and what its result columns are called and converted by."""

    def __init__(self, statement: Select[Any], engine: Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.compiled = compiled
        self.dialect = engine.dialect
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.bind_processors: dict[str, Callable[[Any], Any]] = dict(
            getattr(compiled, "_bind_processors", {})
        )
        self.keys: tuple[str, ...] = tuple(column[0] for column in compiled._result_columns)
        self._types = tuple(column[3] for column in compiled._result_columns)
        # (index, converter) of the result columns whose type converts what the driver
        # returns; known once the first result's description is.
        self._converters: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None
        plain_sql = not compiled.post_compile_params and not compiled.literal_execute_params
        if engine.dialect.paramstyle == "qmark":
            # Only what the driver takes as it is: no parameter a type converts on its
            # way in (an instant).
            self.usable = bool(
                compiled.positional
                and plain_sql
                and not any(name in self.bind_processors for name in self.names)
            )
        else:
            self.usable = bool(
                engine.dialect.paramstyle == "pyformat"
                and plain_sql
                and not getattr(compiled, "escaped_bind_names", None)
                and len(self.keys) == len(set(self.keys))
            )

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        bound = self.compiled.construct_params(params)
        return tuple(bound[name] for name in self.names)

    def named_values(self, params: Mapping[str, Any]) -> MutableMapping[str, Any]:
        """The parameters by name, converted as their types convert them."""
        bound = self.compiled.construct_params(params)
        for name, convert in self.bind_processors.items():
            if name in bound:
                bound[name] = convert(bound[name])
        return bound

    def learn(self, cursor: Any) -> None:
        """Which result columns convert what the driver returns, from the first
        result's description (the driver builds it anew on each call: once is enough)."""
        if self._converters is None:
            found = (
                (i, kind._cached_result_processor(self.dialect, column[1]))
                for i, (kind, column) in enumerate(
                    zip(self._types, cursor.description, strict=True)
                )
            )
            self._converters = tuple((i, c) for i, c in found if c is not None)

    def mappings(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """``rows`` as the result columns' names to their values, converted as the
        columns' types convert them (as SQLAlchemy's result would); after
        :meth:`learn`."""
        converters = self._converters or ()
        keys = self.keys
        if not converters:
            return [dict(zip(keys, row, strict=True)) for row in rows]
        out = []
        for row in rows:
            values = list(row)
            for i, convert in converters:
                values[i] = convert(values[i])
            out.append(dict(zip(keys, values, strict=True)))
        return out


class _DriverCall:
    """What the engine's cursor and error events are given as the execution context of
    a statement run on the driver's connection (tracing keeps its span on it)."""

    executemany = False

    def handle_dbapi_exception(self, _error: BaseException) -> None:
        pass


_PLAIN: dict[int, tuple[Select[Any], _Plain]] = {}
_PLAIN_TYPES = (str, int, float, type(None))


class SqlSession:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.dialect = engine.dialect.name
        self._sqlite = self.dialect == "sqlite"
        self._conn: Connection | None = None
        # A statement has run on this unit of work's pooled connection (self._conn's,
        # or self._fairy).
        self._proven = False
        # The pooled driver connection, while only plain reads used it (no SQLAlchemy
        # Connection wraps it yet).
        self._fairy: PoolProxiedConnection | None = None
        self._pending: list[Write] = []
        self._once: set[str] = set()  # what defer_once already queued in this transaction
        self._writing = False
        self._after_commit: list[tuple[Aggregate, int]] = []
        # The version each row written by this unit of work has in its transaction.
        self._versions: dict[RowKey, int] = {}
        self._failure: BaseException | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            if self._fairy is not None:
                self._conn, self._fairy = Connection(self._engine, self._fairy), None
            else:
                self._proven = False
                self._conn = self._engine.connect()
        return self._conn

    def _driver_connection(self) -> PoolProxiedConnection:
        if self._conn is not None:
            return self._conn.connection
        if self._fairy is None:
            self._proven = False
            engine = self._engine
            try:
                self._fairy = engine.raw_connection()
            except engine.dialect.loaded_dbapi.Error as error:
                # Raised as SQLAlchemy raises it for a Connection it cannot open.
                Connection._handle_dbapi_exception_noconnection(error, engine.dialect, engine)
        return self._fairy

    def read_rows(self, statement: Select[Any], params: Mapping[str, Any]) -> list[Any]:
        """The rows of ``statement``: on SQLite, where its parameters allow, run on the
        driver's connection (see the module); otherwise through SQLAlchemy."""
        plain = _plain(statement, self._engine) if self._sqlite else None
        if plain is None or not all(isinstance(v, _PLAIN_TYPES) for v in params.values()):
            return list(self.read(statement, dict(params)).all())
        self.flush()
        values = plain.values(params)
        dbapi = self._driver_connection()
        dispatch = self._engine.dispatch
        try:
            cursor = dbapi.cursor()
            try:
                dispatch.before_cursor_execute(dbapi, cursor, plain.sql, values, None, False)
                cursor.execute(plain.sql, values)
                rows = list(cursor.fetchall())
                dispatch.after_cursor_execute(dbapi, cursor, plain.sql, values, None, False)
            finally:
                cursor.close()
        except sqlite3.Error as error:
            self._fail(DBAPIError.instance(plain.sql, values, error, sqlite3.Error))
        return rows

    def read_mappings(
        self, statement: Select[Any], params: Mapping[str, Any]
    ) -> Sequence[Mapping[str, Any]]:
        """The rows of ``statement`` as its columns' names (or labels) to their values:
        on PostgreSQL run on the driver's connection (see the module), elsewhere through
        SQLAlchemy. For statements the caller keeps and reuses."""
        plain = None if self._sqlite else _plain(statement, self._engine)
        if plain is None:
            return [dict(row._mapping) for row in self.read(statement, dict(params)).all()]
        self.flush()
        try:
            if self._conn is None:
                self._driver_connection()  # first: a connection just taken is not proven
            return self._retried(lambda: self._on_driver(plain, params))
        except Exception as error:
            self._fail(error)

    def _on_driver(self, plain: _Plain, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``plain`` run on the driver connection, with the engine's cursor events
        around it; a failure goes through SQLAlchemy's own handling (its error events,
        and a connection found dead is invalidated, as for any statement).

        Until the unit of work writes, or reads through SQLAlchemy, that is the pooled
        connection itself: no SQLAlchemy Connection is made around it (a third of the
        calls into SQLAlchemy that a PostgreSQL point lookup still made)."""
        conn = self._conn
        pooled = conn.connection if conn is not None else self._driver_connection()
        values = plain.named_values(params)
        dbapi: Any = pooled.dbapi_connection
        dispatch = self._engine.dispatch
        target = conn if conn is not None else pooled
        context = _DriverCall()
        cursor = dbapi.cursor()
        try:
            dispatch.before_cursor_execute(target, cursor, plain.sql, values, context, False)
            cursor.execute(plain.sql, values)
            rows = cursor.fetchall()
            plain.learn(cursor)
            dispatch.after_cursor_execute(target, cursor, plain.sql, values, context, False)
        except BaseException as error:
            failed = self._connection()
            failed._handle_dbapi_exception(error, plain.sql, values, cursor, context)  # type: ignore[arg-type]
        finally:
            cursor.close()
        return plain.mappings(rows)

    def _drop_connection(self) -> None:
        """Give up this unit of work's pooled connection (found dead); the next statement
        takes another."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._release_driver_connection()

    def _first_use(self, run: Callable[[Connection], T]) -> T:
        """``run`` on this unit of work's connection (see :meth:`_retried`)."""
        self._connection()  # first: a connection just taken is not proven
        return self._retried(lambda: run(self._connection()))

    def _retried(self, run: Callable[[], T]) -> T:
        """``run``, on the pooled connection this unit of work holds; one that turns out
        dead on its first statement (PostgreSQL) is replaced once (see the module)."""
        if self._proven or self._sqlite:
            return run()
        try:
            result = run()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            self._drop_connection()
            result = run()
        self._proven = True
        return result

    def is_idle(self) -> bool:
        """Nothing read, written or queued yet."""
        return self._conn is None and self._fairy is None and not self._pending

    def defer(self, write: Write) -> None:
        self._check_usable()
        self._pending.append(write)

    def defer_once(self, key: str, write: Write) -> None:
        """Queue ``write`` unless a write of the same ``key`` was already queued in this
        transaction (a statement whose effect is per transaction, such as a notify)."""
        self._check_usable()
        if key not in self._once:
            self._once.add(key)
            self._pending.append(write)

    def bump_after_commit(self, obj: Aggregate, version: int) -> None:
        self._after_commit.append((obj, version))

    def written_version(self, key: RowKey) -> int | None:
        """The version this unit of work already gave the row, or None if it has not
        written the row."""
        return self._versions.get(key)

    def wrote_version(self, key: RowKey, version: int | None) -> None:
        """Record the version a queued write gives the row (None: the row is gone)."""
        if version is None:
            self._versions.pop(key, None)
        else:
            self._versions[key] = version

    def _check_usable(self) -> None:
        failure = self._failure
        if failure is None:
            return
        if isinstance(failure, Conflict):
            raise Conflict(
                f"an earlier change of this unit of work failed: {failure}", code=failure.code
            )
        raise RuntimeError(
            "an earlier write of this unit of work failed; roll it back"
        ) from failure

    def _failed(self, error: BaseException) -> BaseException:
        """Roll the transaction back at once and remember that it failed."""
        self._pending.clear()
        self._once.clear()
        translated: BaseException = error
        if isinstance(error, IntegrityError):
            translated = conflict_from(error)
        elif isinstance(error, OperationalError) and _is_serialization_failure(error):
            translated = Conflict("concurrent change", code=STALE_VERSION)
        elif _is_unreachable(error):
            translated = Unavailable("database", f"{type(error).__name__}: {error}")
        self._failure = translated
        self._writing = False
        if self._conn is not None:
            # A connection that broke cannot roll back either; the error that broke it
            # is the one worth raising.
            with contextlib.suppress(SQLAlchemyError):
                self._conn.rollback()
        return translated

    def _fail(self, error: Exception) -> NoReturn:
        """Raise what ``error`` means for callers (a Conflict, Unavailable, or ``error``
        itself), the unit of work failed and rolled back (:meth:`_failed`)."""
        translated = self._failed(error)
        if translated is error:
            raise error
        raise translated from None

    def _begin_writing(self) -> Connection:
        if not self._writing:
            begin = "BEGIN IMMEDIATE" if self._sqlite else "BEGIN"
            self._first_use(lambda conn: conn.exec_driver_sql(begin))
            self._writing = True
        return self._connection()

    def flush(self) -> None:
        self._check_usable()
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        try:
            conn = self._begin_writing()
            for write in pending:
                write(conn)
        except Exception as error:
            self._fail(error)

    def read(self, statement: Executable, params: dict[str, Any] | None = None) -> Result[Any]:
        self.flush()
        try:
            return self._first_use(lambda conn: conn.execute(statement, params))
        except Exception as error:
            self._fail(error)

    def write_now(self, statement: Executable) -> CursorResult[Any]:
        """Run a write at once (after pending ones): for statements whose result the
        caller needs, such as an increment's row count."""
        self.flush()
        try:
            return self._begin_writing().execute(statement)
        except Exception as error:
            self._fail(error)

    def commit(self) -> None:
        self.flush()
        if self._conn is not None:
            try:
                self._conn.commit()
            except Exception as error:
                self._fail(error)
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
        self._release_driver_connection()
        self._clear()

    def _release_driver_connection(self) -> None:
        """Back to the pool (which rolls it back) the connection only raw reads used."""
        if self._fairy is not None:
            fairy, self._fairy = self._fairy, None
            fairy.close()

    def _clear(self) -> None:
        self._once = set()
        self._writing = False
        self._after_commit = []
        self._versions = {}
        self._failure = None

    def _reset(self) -> None:
        self._clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._release_driver_connection()


def _plain(statement: Select[Any], engine: Engine) -> _Plain | None:
    """``statement`` compiled for running on the driver's connection, or None where it
    cannot be (kept per statement object: the callers reuse theirs)."""
    held = _PLAIN.get(id(statement))
    if held is None or held[0] is not statement:
        held = (statement, _Plain(statement, engine))
        _PLAIN[id(statement)] = held
    plain = held[1]
    return plain if plain.usable else None


def _is_serialization_failure(error: OperationalError) -> bool:
    code = getattr(error.orig, "sqlstate", None)
    return code in {"40001", "40P01"}


# Connection exceptions (class 08), the server shutting down or starting up (57P01-03),
# too many connections (53300).
_UNREACHABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
_UNREACHABLE_SQLITE = ("unable to open database file", "disk i/o error")


def _is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached or used at all (rather
    than that this statement was wrong or lost a race): a 503, not a bug."""
    if isinstance(error, PoolTimeout):  # every pooled connection busy for the pool timeout
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    state = getattr(error.orig, "sqlstate", None)
    if state is not None:
        return str(state).startswith("08") or state in _UNREACHABLE_STATES
    text = str(error.orig).lower()
    if "database is locked" in text:  # busy, which the API answers on its own
        return False
    # psycopg reports a failed connection (refused, reset, timed out) with no state.
    return type(error.orig).__module__.startswith("psycopg") or any(
        marker in text for marker in _UNREACHABLE_SQLITE
    )
