"""Whole rows read from SQLite as one JSON array each.

CPython's ``sqlite3`` module lets go of the GIL around ``sqlite3_column_type`` for every
column of every row it reads. Under the threaded server, with other request threads
waiting, each of those hands the interpreter to another thread: a page of 21 videos of
27 columns cost about 140 context switches, and six times the CPU it takes with one
thread. Read as one column per row (``json_array(...)``, built inside SQLite), the same
page lets go of the GIL once per row, and is decoded with orjson.

A page of rows can go further: the rows' arrays joined into a single value for the
whole page (``group_concat``).

Values come back as SQLAlchemy's column types would give them: instants as aware UTC
datetimes, booleans as bools, JSON text parsed (or left as text for
:class:`FrozenJsonText`). A floating-point value travels as the text ``quote()`` writes,
which gives the same number back (SQLite writes a REAL into JSON with 15 significant
digits, and its ``printf`` gets the 17th wrong).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Boolean, ColumnElement, Float, FromClause, Select, Table, case, func, select

from videoplatform.adapters.sql.types import FrozenJsonText, JsonText, UtcDateTime, json_value

Converter = Callable[[Any], Any]


def _instant(text: str | None) -> datetime | None:
    return None if text is None else instant(text)


def instant(text: str) -> datetime:
    """An instant as SQLite stores it, read as SQLAlchemy reads it: aware, UTC."""
    if len(text) == _STORED_INSTANT:
        # What SQLAlchemy's SQLite DATETIME writes ("2026-12-07 11:23:04.916455"), naive
        # UTC: parsed with its offset written on, a fifth of replace(tzinfo=UTC)'s cost.
        return datetime.fromisoformat(text + "+00:00")
    # Written some other way (raw SQL, an old migration): "2026-01-01 12:00:00+00:00".
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_STORED_INSTANT = len("2026-12-07 11:23:04.916455")


def _flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _real(text: str | None) -> float | None:
    return None if text is None else float(text)


def _converter(column: Any) -> Converter | None:
    kind = column.type
    if isinstance(kind, Float):
        return _real
    if isinstance(kind, UtcDateTime):
        return _instant
    if isinstance(kind, Boolean):
        return _flag
    if isinstance(kind, JsonText) and not isinstance(kind, FrozenJsonText):
        return json_value
    return None


class Packing:
    """How the rows of ``table`` are packed into, and read back from, one JSON array."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._names = [c.name for c in table.columns]
        self._converters = [
            (i, convert)
            for i, c in enumerate(table.columns)
            if (convert := _converter(c)) is not None
        ]
        self._position = {name: i for i, name in enumerate(self._names)}

    def column(self, source: FromClause) -> ColumnElement[Any]:
        """The packed row, selected from ``source`` (the table, or a subquery with its
        columns)."""
        values: list[ColumnElement[Any]] = []
        for c in self.table.columns:
            value: ColumnElement[Any] = source.c[c.name]
            if isinstance(c.type, Float):
                # quote() writes as many digits as give the same double back.
                value = case((value.is_(None), None), else_=func.quote(value))
            values.append(value)
        return func.json_array(*values)

    def select(self, statement: Select[Any], source: FromClause | None = None) -> Select[Any]:
        """``statement`` (a ``select`` of every column of the table, or of ``source``)
        selecting the packed row instead, its conditions, order and limit kept."""
        return statement.with_only_columns(
            self.column(self.table if source is None else source), maintain_column_froms=True
        )

    def page(self, statement: Select[Any], source: FromClause | None = None) -> Select[Any]:
        """The rows of ``statement`` (as for :meth:`select`) as one value. The rows come
        in no promised order: :meth:`rows` sorts them."""
        rows = self.select(statement, source).subquery()
        # The rows' arrays joined by commas: json_group_array would parse each again.
        return select(func.group_concat(rows.c[0], ","))

    def row(self, packed: Sequence[Any]) -> dict[str, Any]:
        return self._named(orjson.loads(packed[0]))

    def rows(
        self, page: Sequence[Any], order: Sequence[str], descending: bool
    ) -> list[dict[str, Any]]:
        """The rows of a :meth:`page`, ordered by the columns ``order``."""
        joined = page[0]
        found = [self._named(values) for values in orjson.loads(f"[{joined}]")] if joined else []
        found.sort(key=operator.itemgetter(*order), reverse=descending)
        return found

    def _named(self, values: list[Any]) -> dict[str, Any]:
        for position, convert in self._converters:
            values[position] = convert(values[position])
        return dict(zip(self._names, values, strict=True))


_packings: dict[str, Packing] = {}


def packing(table: Table) -> Packing:
    found = _packings.get(table.name)
    if found is None:
        found = _packings.setdefault(table.name, Packing(table))
    return found
