"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, Dialect, String, Text
from sqlalchemy.types import TypeDecorator, TypeEngine


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC instants on both databases.

    SQLite has no time zones: values are stored as UTC and come back marked UTC, so
    ordering and comparisons agree with PostgreSQL's ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        moment = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


def json_value(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)  # the same values as json.loads, several times faster
    except orjson.JSONDecodeError:
        return json.loads(value)  # what only json.dumps writes: NaN, integers past 64 bits


class JsonText(TypeDecorator[Any]):
    """JSON kept as text: portable, compact, and exact (sorted keys) for hashing."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return json_value(value)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        # The text comes back as it is on both databases: one call per value instead of
        # TypeDecorator's two (a list page reads four of these per row).
        return json_value


class FrozenJsonText(JsonText):
    """JSON kept as text like :class:`JsonText`, read back as the text itself: for
    columns the mapping turns into immutable values, parsing each distinct text once
    (see ``mapping.video_from``)."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        return None


def ordered_string(length: int) -> TypeEngine[str]:
    """A string column that lists order by (ids, file names, slugs).

    Ordered by code point everywhere, as the memory adapter orders in Python: SQLite
    compares bytes (UTF-8 keeps code-point order), and on PostgreSQL the column takes the
    "C" collation, so a database created with a linguistic default collation (en_US, ICU)
    neither reorders lists nor breaks keyset bounds.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")
