"""The videos' stored documents (``application.video_documents``): written with each
video, read by lists, and written again for videos without a current one.

A list reads the ids, sort keys and documents of its page and nothing else of the
videos. On SQLite the page comes back as one value (see ``packed``): each row as its
fields joined by the unit separator (U+001F), the rows by the record separator
(U+001E). Neither can appear in a document: JSON writes control characters escaped.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, FromClause, Select, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from videoplatform.adapters.sql import mapping, tables
from videoplatform.adapters.sql.packed import instant
from videoplatform.application.ports.persistence import ListedVideo
from videoplatform.application.video_documents import SHAPE, document_json, listed_json
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import Video

_FIELD, _RECORD = "\x1f", "\x1e"
_STORES: dict[str, Insert] = {}


def _store(dialect: str) -> Insert:
    """Write a video's document, over the one it has (built once per dialect)."""
    found = _STORES.get(dialect)
    if found is None:
        d = tables.video_documents
        values: dict[str, Any] = {
            "video_id": bindparam("video_id"),
            "shape": bindparam("shape"),
            "document": bindparam("document"),
        }
        upsert = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(d).values(values)
        found = _STORES.setdefault(
            dialect,
            upsert.on_conflict_do_update(
                index_elements=[d.c.video_id],
                set_={"shape": upsert.excluded.shape, "document": upsert.excluded.document},
            ),
        )
    return found


def store(conn: Connection, documents: Sequence[tuple[VideoId, str]]) -> None:
    """Write ``(video id, document)`` pairs, each under the current ``SHAPE``."""
    if documents:
        conn.execute(
            _store(conn.dialect.name),
            [{"video_id": v, "shape": SHAPE, "document": d} for v, d in documents],
        )


def listing(page: Select[Any], sort_column: str, packed: bool) -> Select[Any]:
    """The documents of ``page``, a select of the listed videos' ``id``, ``created_at``
    and ``view_count`` in the list's order, with its limit: one value on SQLite
    (``packed``), else rows in the same order."""
    rows = page.subquery()
    d = tables.video_documents
    joined: FromClause = rows.outerjoin(d, d.c.video_id == rows.c.id)
    shape = func.coalesce(d.c.shape, 0)
    if packed:
        fields = func.printf(
            f"%s{_FIELD}%s{_FIELD}%d{_FIELD}%d{_FIELD}%s",
            rows.c.id,
            rows.c.created_at,
            rows.c.view_count,
            shape,
            func.coalesce(d.c.document, ""),
        )
        return select(func.group_concat(fields, _RECORD)).select_from(joined)
    return (
        select(
            rows.c.id,
            rows.c.created_at,
            rows.c.view_count,
            shape.label("shape"),
            d.c.document,
        )
        .select_from(joined)
        .order_by(rows.c[sort_column].desc(), rows.c.id.desc())
    )


Found = tuple[str, datetime, int, int, str | None]
"""A listed row: id, created at, view count, the document's shape (0: none), document."""


def unpack(page: str | None, sort_column: str) -> list[Found]:
    """The rows of a packed :func:`listing`, in the list's order (descending)."""
    if not page:
        return []
    found: list[Found] = []
    for record in page.split(_RECORD):
        video_id, created_at, view_count, shape, document = record.split(_FIELD, 4)
        found.append((video_id, instant(created_at), int(view_count), int(shape), document))
    index = 1 if sort_column == "created_at" else 2
    found.sort(key=operator.itemgetter(index, 0), reverse=True)
    return found


def listed(
    found: Sequence[Found], load: Callable[[list[str]], Iterable[Video]]
) -> list[ListedVideo]:
    """The listed videos of ``found``; those without a current document are built from
    the videos ``load`` reads by id."""
    stale = [row[0] for row in found if row[3] != SHAPE or row[4] is None]
    built: dict[str, str] = {v.id: document_json(v) for v in load(stale)} if stale else {}
    listed_videos: list[ListedVideo] = []
    for video_id, created_at, view_count, shape, document in found:
        if shape != SHAPE or document is None:
            document = built.get(video_id)
            if document is None:  # deleted between the two reads
                continue
        listed_videos.append(
            ListedVideo(
                VideoId(video_id), created_at, view_count, listed_json(document, view_count)
            )
        )
    return listed_videos


# -- documents written again -----------------------------------------------------------

BATCH = 500


def refresh(engine: Engine) -> int:
    """Write the document of every video without a current one (written before
    documents were kept, or under another ``SHAPE``), in batches; how many were written.
    Run after every upgrade."""
    v, d = tables.videos, tables.video_documents
    stale = (
        select(v)
        .select_from(v.outerjoin(d, d.c.video_id == v.c.id))
        .where((d.c.shape.is_(None)) | (d.c.shape != SHAPE))
        .order_by(v.c.id)
        .limit(BATCH)
    )
    written = 0
    after = ""
    while True:
        with engine.begin() as conn:
            rows = conn.execute(stale.where(v.c.id > after)).mappings().all()
            if not rows:
                return written
            store(conn, [(VideoId(r["id"]), document_json(mapping.video_from(r))) for r in rows])
        written += len(rows)
        after = rows[-1]["id"]
