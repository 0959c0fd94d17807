"""Every list the repositories serve is an indexed query on PostgreSQL.

The module seeds enough rows that a sequential scan would be the planner's honest choice
for an unindexed query (20,000 videos across 200 owners and 50 categories, mostly public
and ready, 40,000 tag rows, 30,000 audit events, 20,000 files, 10,000 shares) with bulk
Core INSERTs, then ANALYZEs. Each case runs a repository method inside a unit of work,
captures the SQL SQLAlchemy emits (with its parameters), and EXPLAINs exactly that
statement: the expected index must appear and no big table may be read sequentially.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from attrs import evolve, frozen
from sqlalchemy import Engine, event, insert, select

from tests.integration.sql.builders import T0
from videoplatform.adapters.sql import documents, tables
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from videoplatform.application.ports.persistence import AuditQuery, VideoListQuery, VideoSort
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.files import FolderPath
from videoplatform.domain.ids import CategoryId, UserId
from videoplatform.domain.videos import VideoStatus

VIDEOS = 20_000
OWNERS = 200
CATEGORIES = 50
TAGS = 500
AUDIT_EVENTS = 30_000
ACTORS = 300
FILE_OWNERS = 100
FOLDERS = 20
FILES = 20_000
SHARES = 10_000
PAGE = 20

BIG_TABLES = frozenset(
    {"videos", "video_tags", "video_documents", "audit_events", "files", "shares"}
)
INDEX_NODES = frozenset({"Index Scan", "Index Only Scan", "Bitmap Index Scan"})

Plan = Mapping[str, Any]


def owner(n: int) -> UserId:
    return UserId(f"u{n % OWNERS:03d}")


def category(n: int) -> CategoryId:
    return CategoryId(f"c{n % CATEGORIES:02d}")


def tag(n: int) -> str:
    return f"tag-{n % TAGS:03d}"


def folder(n: int) -> str:
    return f"/projects/f{n % FOLDERS:02d}"


def token_hash(n: int) -> str:
    return hashlib.sha256(f"share-{n}".encode()).hexdigest()


def _bulk(engine: Engine, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(table), list(rows))


def seed(engine: Engine) -> None:
    rng = random.Random(20260101)  # noqa: S311 - test data, not secrets
    _bulk(
        engine,
        tables.users,
        [
            {
                "id": f"u{n:03d}",
                "email": f"u{n:03d}@example.com",
                "display_name": f"User {n}",
                "password_hash": "x",
                "roles": "creator",
                "status": "active",
                "created_at": T0,
                "updated_at": T0,
                "version": 1,
            }
            for n in range(max(OWNERS, FILE_OWNERS))
        ],
    )
    _bulk(
        engine,
        tables.categories,
        [
            {"id": category(n), "name": f"C{n}", "slug": f"c-{n}", "created_at": T0, "version": 1}
            for n in range(CATEGORIES)
        ],
    )
    videos: list[dict[str, Any]] = []
    video_tags: list[dict[str, Any]] = []
    for n in range(VIDEOS):
        video_id = f"v{n:06d}"
        first, second = tag(rng.randrange(TAGS)), tag(rng.randrange(TAGS))
        chosen = sorted({first, second})
        created = T0 + timedelta(seconds=37 * n)
        videos.append(
            {
                "id": video_id,
                "owner_id": owner(rng.randrange(OWNERS)),
                "title": f"Video {n}",
                "description": "",
                "category_id": category(rng.randrange(CATEGORIES)),
                "tags": chosen,
                "visibility": "private" if n % 10 == 0 else "public",
                "status": "processing" if n % 20 == 1 else "ready",
                "source_key": f"sources/{video_id}",
                "source_size": 1024,
                "source_sha256": "0" * 64,
                "media_info": None,
                "renditions": [],
                "assets": None,
                "poster_at_seconds": None,
                "progress": 100,
                "last_error": None,
                "view_count": rng.randrange(1_000_000),
                "processing_attempts": 1,
                "created_at": created,
                "updated_at": created,
                "version": 1,
            }
        )
        video_tags.extend({"video_id": video_id, "tag": t} for t in chosen)
    _bulk(engine, tables.videos, videos)
    _bulk(engine, tables.video_tags, video_tags)
    actions = list(AuditAction)
    _bulk(
        engine,
        tables.audit_events,
        [
            {
                "id": f"e{n:06d}",
                "occurred_at": T0 + timedelta(seconds=10 * n),
                "actor_id": f"u{rng.randrange(ACTORS):03d}",
                "action": actions[rng.randrange(len(actions))].value,
                "resource_type": "video",
                "resource_id": f"v{rng.randrange(VIDEOS):06d}",
                "result": "success",
                "ip": "127.0.0.1",
                "user_agent": "seed",
                "metadata": {},
                "prev_hash": "0" * 64,
                "hash": "0" * 64,
            }
            for n in range(AUDIT_EVENTS)
        ],
    )
    _bulk(
        engine,
        tables.files,
        [
            {
                "id": f"f{n:06d}",
                "owner_id": f"u{n % FILE_OWNERS:03d}",
                "name": f"file-{n:06d}.bin",
                "folder": folder(n // FILE_OWNERS),
                "size": 1000 + n,
                "content_type": "application/octet-stream",
                "sha256": "0" * 64,
                "storage_key": f"files/f{n:06d}",
                "created_at": T0,
                "updated_at": T0,
                "version": 1,
            }
            for n in range(FILES)
        ],
    )
    _bulk(
        engine,
        tables.shares,
        [
            {
                "id": f"s{n:06d}",
                "owner_id": owner(n),
                "target_kind": "video",
                "target_id": f"v{n:06d}",
                "token_hash": token_hash(n),
                "created_at": T0 + timedelta(seconds=n),
                "expires_at": None,
                "password_hash": None,
                "max_uses": None,
                "use_count": 0,
                "revoked_at": None,
                "version": 1,
            }
            for n in range(SHARES)
        ],
    )
    # Each video's stored document, as every write of a video keeps it.
    documents.refresh(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


@pytest.fixture(scope="module")
def seeded(migrated_pg_engine: Engine) -> Engine:
    seed(migrated_pg_engine)
    return migrated_pg_engine


def keyset_bound(engine: Engine, column: str, offset: int) -> tuple[datetime | int, str]:
    """(sort value, id) of the public list's row at ``offset``: a deep page's bound."""
    t = tables.videos
    sort = t.c[column]
    with engine.connect() as conn:
        row = conn.execute(
            select(sort, t.c.id)
            .where(t.c.visibility == "public", t.c.status == "ready")
            .order_by(sort.desc(), t.c.id.desc())
            .offset(offset)
            .limit(1)
        ).one()
    return row[0], row[1]


# -- capturing and explaining ----------------------------------------------------------


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every (SQL, parameters) the engine sends to the driver inside the block."""
    seen: list[tuple[str, Any]] = []

    def capture(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def explain(engine: Engine, statement: str, parameters: Any) -> Plan:
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
    document = json.loads(raw) if isinstance(raw, str) else raw
    plan: Plan = document[0]["Plan"]
    return plan


def nodes(plan: Plan) -> Iterator[Plan]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def outline(plan: Plan, depth: int = 0) -> str:
    """A compact text plan for assertion messages."""
    parts = [plan["Node Type"]]
    if "Index Name" in plan:
        parts.append(f"using {plan['Index Name']}")
    if "Relation Name" in plan:
        parts.append(f"on {plan['Relation Name']}")
    for key in ("Index Cond", "Filter", "Recheck Cond"):
        if key in plan:
            parts.append(f"[{key}: {plan[key]}]")
    lines = ["  " * depth + " ".join(parts)]
    lines.extend(outline(child, depth + 1) for child in plan.get("Plans", ()))
    return "\n".join(lines)


# -- the cases ---------------------------------------------------------------------------


@frozen
class Case:
    name: str
    run: Callable[[SqlUnitOfWork, Engine], Sequence[object]]
    indexes: tuple[str, ...]
    """Every one of these indexes must be scanned (empty: any index will do)..."""
    or_instead: tuple[str, ...] = ()
    """...or, when given, every one of these: an equally ordered index the planner may
    prefer when most rows match the filter (a public list when most videos are public)."""
    keyset_in_index: bool = False
    """The keyset bound must be an index condition (a deep page seeks, it does not skip)."""


def _videos(query: VideoListQuery) -> Callable[[SqlUnitOfWork, Engine], Sequence[object]]:
    def run(uow: SqlUnitOfWork, _: Engine) -> Sequence[object]:
        return uow.videos.list_page(query, PAGE)

    run.query = query  # type: ignore[attr-defined]
    return run


def _as_documents(case: Case) -> Case:
    """``case``, a list of videos, read as the videos' stored documents."""
    query: VideoListQuery = case.run.query  # type: ignore[attr-defined]

    def run(uow: SqlUnitOfWork, _: Engine) -> Sequence[object]:
        return uow.videos.list_documents(query, PAGE)

    return evolve(case, name=f"{case.name}, as documents", run=run)


def _deep(sort: VideoSort, column: str) -> Callable[[SqlUnitOfWork, Engine], Sequence[object]]:
    def run(uow: SqlUnitOfWork, engine: Engine) -> Sequence[object]:
        after = keyset_bound(engine, column, 15_000)
        return uow.videos.list_page(VideoListQuery(viewer_id=None, sort=sort, after=after), PAGE)

    return run


def _audit(query: AuditQuery) -> Callable[[SqlUnitOfWork, Engine], Sequence[object]]:
    def run(uow: SqlUnitOfWork, _: Engine) -> Sequence[object]:
        return uow.audit.search(query, PAGE)

    return run


CASES: tuple[Case, ...] = (
    Case(
        "public newest",
        _videos(VideoListQuery(viewer_id=None)),
        ("ix_videos_visibility_status_created_at_id",),
        or_instead=("ix_videos_created_at_id",),
    ),
    Case(
        "public most viewed",
        _videos(VideoListQuery(viewer_id=None, sort=VideoSort.MOST_VIEWED)),
        ("ix_videos_visibility_status_view_count_id",),
        or_instead=("ix_videos_view_count_id",),
    ),
    Case(
        "public newest, deep keyset page",
        _deep(VideoSort.NEWEST, "created_at"),
        ("ix_videos_visibility_status_created_at_id",),
        or_instead=("ix_videos_created_at_id",),
        keyset_in_index=True,
    ),
    Case(
        "public most viewed, deep keyset page",
        _deep(VideoSort.MOST_VIEWED, "view_count"),
        ("ix_videos_visibility_status_view_count_id",),
        or_instead=("ix_videos_view_count_id",),
        keyset_in_index=True,
    ),
    Case(
        "a creator's channel, anonymous",
        _videos(VideoListQuery(viewer_id=None, owner_id=owner(7))),
        ("ix_videos_owner_id_created_at_id",),
    ),
    Case(
        "a creator's channel, most viewed",
        _videos(VideoListQuery(viewer_id=None, owner_id=owner(7), sort=VideoSort.MOST_VIEWED)),
        ("ix_videos_owner_id_view_count_id",),
    ),
    Case(
        "the owner's own list (public + own others)",
        _videos(VideoListQuery(viewer_id=owner(7), owner_id=owner(7))),
        ("ix_videos_owner_id_created_at_id",),
    ),
    Case(
        "a signed-in viewer's home list (public + own others)",
        _videos(VideoListQuery(viewer_id=owner(7))),
        ("ix_videos_visibility_status_created_at_id", "ix_videos_owner_id_created_at_id"),
        or_instead=("ix_videos_created_at_id", "ix_videos_owner_id_created_at_id"),
    ),
    Case(
        "a moderator's list of every video, newest first",
        _videos(VideoListQuery(viewer_id=owner(7), see_all=True)),
        ("ix_videos_created_at_id",),
    ),
    Case(
        "a moderator's list of the videos in one state",
        _videos(VideoListQuery(viewer_id=owner(7), see_all=True, status=VideoStatus.PROCESSING)),
        ("ix_videos_status_created_at_id",),
    ),
    Case(
        "a category",
        _videos(VideoListQuery(viewer_id=None, category_id=category(3))),
        ("ix_videos_category_id_created_at_id",),
    ),
    Case(
        "a tag",
        _videos(VideoListQuery(viewer_id=None, tag=tag(42))),
        ("ix_video_tags_tag_video_id",),
    ),
    Case(
        "audit by actor",
        _audit(AuditQuery(actor_id=UserId("u017"))),
        ("ix_audit_events_actor_id_occurred_at_id",),
    ),
    Case(
        "audit by time window",
        _audit(
            AuditQuery(since=T0 + timedelta(hours=10), until=T0 + timedelta(hours=11)),
        ),
        ("ix_audit_events_occurred_at_id",),
    ),
    Case(
        "audit, newest first",
        _audit(AuditQuery()),
        ("ix_audit_events_occurred_at_id",),
    ),
    Case(
        "audit by action",
        _audit(AuditQuery(action=AuditAction.VIDEO_DELETE)),
        ("ix_audit_events_action_occurred_at_id",),
    ),
    Case(
        "audit by resource",
        _audit(AuditQuery(resource_type="video", resource_id="v000123")),
        ("ix_audit_events_resource_type_resource_id_occurred_at_id",),
    ),
    Case(
        "files in a folder",
        lambda uow, _: uow.files.list_folder(
            UserId("u005"), FolderPath(folder(3)), after=None, limit=PAGE
        ),
        ("uq_files_owner_id_folder_name",),
    ),
    Case(
        "a share by its token hash",
        lambda uow, _: [uow.shares.find_by_token_hash(token_hash(4321))],
        ("uq_shares_token_hash",),
    ),
    Case(
        "an owner's shares",
        lambda uow, _: uow.shares.list_for_owner(owner(9), after=None, limit=PAGE),
        ("ix_shares_owner_id_created_at_id",),
    ),
)

CASES += tuple(_as_documents(c) for c in CASES if hasattr(c.run, "query"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_list_is_served_by_an_index(seeded: Engine, case: Case) -> None:
    factory = SqlUnitOfWorkFactory(seeded)
    with statements(seeded) as seen, factory() as uow:
        result = case.run(uow, seeded)
    assert result and all(item is not None for item in result), "the case matched no rows"
    queries = [(sql, params) for sql, params in seen if sql.lstrip().upper().startswith("SELECT")]
    assert queries, seen
    sql, params = queries[-1]

    plan = explain(seeded, sql, params)
    shown = f"{case.name}:\n{sql}\n{params}\n{outline(plan)}"
    scanned = {n.get("Index Name") for n in nodes(plan) if n["Node Type"] in INDEX_NODES}
    assert scanned, shown
    assert set(case.indexes) <= scanned or (case.or_instead and set(case.or_instead) <= scanned), (
        shown
    )
    sequential = {
        n["Relation Name"]
        for n in nodes(plan)
        if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in BIG_TABLES
    }
    assert not sequential, shown
    if case.keyset_in_index:
        conditions = [n.get("Index Cond", "") for n in nodes(plan) if n["Node Type"] in INDEX_NODES]
        assert any("ROW(" in c for c in conditions), shown


def test_the_seed_is_big_enough_that_an_unindexed_query_scans_sequentially(
    seeded: Engine,
) -> None:
    """The control: the same plan check flags a query no index can serve."""
    plan = explain(seeded, "SELECT * FROM videos WHERE title = %(title)s", {"title": "Video 12345"})
    assert any(n["Node Type"] == "Seq Scan" for n in nodes(plan)), outline(plan)
