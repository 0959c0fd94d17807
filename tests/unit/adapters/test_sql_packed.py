"""Rows read packed from SQLite (one JSON array each, or one value per page) come back
exactly as SQLAlchemy reads them column by column, for every table and column type."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Engine,
    Float,
    Integer,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
)

from videoplatform.adapters.sql import tables
from videoplatform.adapters.sql.packed import packing
from videoplatform.adapters.sql.types import FrozenJsonText, JsonText, UtcDateTime

WHEN = datetime(2026, 12, 7, 11, 23, 4, 916455, tzinfo=UTC)
# What a row may hold that a naive reading could change: the last digit of a float, an
# integer past 2**53, text with quotes, a newline, non-ASCII and an emoji, JSON text.
REAL = 0.1 + 0.2
BIG = 2**62 + 1
TRICKY = 'a "quoted" line\nand the next, été 🎬 \\ /'


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    tables.metadata.create_all(engine)
    yield engine
    engine.dispose()


def value_for(column: Any, n: int) -> Any:
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return WHEN + timedelta(microseconds=n) if n % 2 else WHEN.astimezone(UTC)
    if isinstance(kind, Boolean):
        return n % 2 == 1
    if isinstance(kind, Float):
        return REAL * (n + 1)
    if isinstance(kind, FrozenJsonText | JsonText):
        return {"text": TRICKY, "n": n, "big": BIG, "list": [1.5, None, True]}
    if isinstance(kind, BigInteger):
        return BIG + n
    if isinstance(kind, Integer):
        return 1 + n % 50
    if isinstance(kind, String | Text):
        return f"{n} {column.name} {TRICKY}"[: getattr(kind, "length", None) or None]
    raise AssertionError(f"no test value for {column.table.name}.{column.name}: {kind!r}")


def row_for(table: Table, n: int, nulls: bool) -> dict[str, Any]:
    return {
        c.name: None if nulls and c.nullable and not c.primary_key else value_for(c, n)
        for c in table.columns
        if not (c.autoincrement is True and isinstance(c.type, Integer))
    }


TABLES = sorted(tables.metadata.tables.values(), key=lambda t: t.name)


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_a_packed_row_reads_as_sqlalchemy_reads_it(engine: Engine, table: Table) -> None:
    # One row where the table keeps a single one (audit_head), else one full and one
    # with every nullable column empty.
    rows = [row_for(table, 1, False), row_for(table, 2, True)]
    if any("one_row" in str(c.name) for c in table.constraints):
        rows = [row_for(table, 0, False) | {"singleton": 1}]
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
        plain = [dict(r._mapping) for r in conn.execute(select(table))]
        pack = packing(table)
        packed = [pack.row(r) for r in conn.execute(pack.select(select(table)))]
    assert packed == plain
    assert [type(v) for v in packed[0].values()] == [type(v) for v in plain[0].values()]


def test_a_page_is_one_value_read_in_the_lists_order(engine: Engine) -> None:
    t = tables.videos
    rows = [row_for(t, n, n % 3 == 0) | {"id": f"video-{n:02d}"} for n in range(25)]
    with engine.begin() as conn:
        conn.execute(insert(t), rows)
        newest = select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(21)
        plain = [dict(r._mapping) for r in conn.execute(newest)]
        pack = packing(t)
        page = conn.execute(pack.page(newest)).one()
        empty = conn.execute(pack.page(newest.where(t.c.id == "none"))).one()
    assert pack.rows(page, ("created_at", "id"), descending=True) == plain
    assert pack.rows(empty, ("created_at", "id"), descending=True) == []


@pytest.mark.parametrize(
    "written",
    [
        "2026-01-01 12:00:00.250000",  # as SQLAlchemy writes it
        "2026-01-01 12:00:00",  # without microseconds
        "2026-01-01 12:00:00+00:00",  # with its offset (raw SQL, an old migration)
        "2026-01-01 12:00:00.250000+00:00",
    ],
)
def test_an_instant_written_in_any_utc_spelling_reads_as_sqlalchemy_reads_it(
    engine: Engine, written: str
) -> None:
    t = tables.videos
    row = row_for(t, 1, True) | {"id": "video-1"}
    with engine.begin() as conn:
        conn.execute(insert(t), [row])
        conn.exec_driver_sql("UPDATE videos SET created_at = ?", (written,))
        plain = dict(conn.execute(select(t)).one()._mapping)
        packed = packing(t).row(conn.execute(packing(t).select(select(t))).one())
    assert packed["created_at"] == plain["created_at"]
    assert packed["created_at"].tzinfo is UTC
