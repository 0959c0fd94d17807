"""Migrations build exactly the schema the code declares, and every one of them undoes.

On SQLite (a file) and on PostgreSQL (this module's fresh database): upgrade head →
downgrade base → upgrade head, with an autogenerate comparison after each upgrade that
must find no drift between the migrated schema and ``adapters.sql.tables.metadata``.
"""

from __future__ import annotations

import warnings
from itertools import pairwise
from typing import Any

import attrs
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, text
from sqlalchemy.exc import ProgrammingError

from tests.integration.sql.builders import T0, user_row_before_0016, user_row_before_0019
from tests.unit.domain.builders import make_user, make_video
from videoplatform.adapters.sql import mapping, migrate, tables
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.ports.search import VideoDocument
from videoplatform.domain.ids import TokenId, VideoId
from videoplatform.domain.users import ALL_SCOPES
from videoplatform.domain.videos import Video, VideoStatus, Visibility

VERSION_TABLE = "alembic_version"


def drift(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the declared tables."""
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite's reflection cannot read the expression index of the typo candidates
        # (tables.UNDECLARED, left out of the comparison anyway) and says so.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": tables.declared}
        )
        differences: list[Any] = compare_metadata(context, tables.metadata)
    return differences


def application_tables(engine: Engine) -> set[str]:
    """The declared tables in the database (not the full-text tables and their shadow
    tables, which only the migrations know: ``tables.UNDECLARED``)."""
    names = set(inspect(engine).get_table_names()) - {VERSION_TABLE}
    return {name for name in names if tables.declared(name, "table", None)}


def leftover_relations(engine: Engine) -> set[str]:
    """Everything the migrations could have left behind: tables, indexes, sequences,
    views, and (PostgreSQL) functions."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                    " AND tbl_name <> :version"
                ),
                {"version": VERSION_TABLE},
            )
            return {r[0] for r in rows}
        rows = conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relname NOT LIKE :version"
                " UNION ALL"
                " SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = current_schema()"
            ),
            {"version": VERSION_TABLE + "%"},
        )
        return {r[0] for r in rows}


def to_base(engine: Engine) -> None:
    if migrate.current(engine) is not None:
        migrate.downgrade(engine, "base")


def test_history_is_one_linear_chain_from_base_to_head() -> None:
    steps = migrate.history()
    assert steps, "no migrations"
    assert steps[0][1] is None
    for (previous, _, _), (_, down, _) in pairwise(steps):
        assert down == previous
    assert steps[-1][0] == migrate.head()
    assert all(message.strip() for _, _, message in steps)


def test_upgrade_downgrade_upgrade_leaves_no_drift(fresh_engine: Engine) -> None:
    to_base(fresh_engine)

    migrate.upgrade(fresh_engine, "head")
    assert migrate.is_current(fresh_engine)
    assert drift(fresh_engine) == []
    created = leftover_relations(fresh_engine)
    assert {"videos", "ix_videos_owner_id_created_at_id"} <= created  # the probe sees them
    if fresh_engine.dialect.name == "postgresql":
        assert {"audit_events_seq_seq", "audit_retention"} <= created

    migrate.downgrade(fresh_engine, "base")
    assert migrate.current(fresh_engine) is None
    assert application_tables(fresh_engine) == set()
    assert leftover_relations(fresh_engine) == set()

    migrate.upgrade(fresh_engine, "head")
    assert migrate.is_current(fresh_engine)
    assert drift(fresh_engine) == []
    assert application_tables(fresh_engine) == set(tables.metadata.tables)


def test_a_migration_that_fails_on_postgresql_is_taken_back_whole(pg_engine: Engine) -> None:
    # The engine's connections autocommit; each migration still runs in a transaction,
    # so one that fails halfway leaves nothing of itself behind.
    to_base(pg_engine)
    # 0003 creates resumable_uploads, then an index this name now collides with.
    blocker = "ix_resumable_uploads_expires_at_id"
    with pg_engine.connect() as conn:
        conn.execute(text(f"CREATE TABLE {blocker} (id integer)"))
    try:
        with pytest.raises(ProgrammingError, match=blocker):
            migrate.upgrade(pg_engine, "head")
        assert migrate.current(pg_engine) == "0002"
        assert "resumable_uploads" not in application_tables(pg_engine)
    finally:
        with pg_engine.connect() as conn:
            conn.execute(text(f"DROP TABLE {blocker}"))
        to_base(pg_engine)


def test_upgrading_an_up_to_date_database_changes_nothing(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine, "head")
    migrate.upgrade(fresh_engine, "head")
    assert migrate.is_current(fresh_engine)
    assert drift(fresh_engine) == []


def test_every_migration_upgrades_and_downgrades_one_step_at_a_time(
    fresh_engine: Engine,
) -> None:
    to_base(fresh_engine)
    steps = migrate.history()

    for revision, _, _ in steps:
        migrate.upgrade(fresh_engine, revision)
        assert migrate.current(fresh_engine) == revision
    assert drift(fresh_engine) == []

    for revision, down, _ in reversed(steps):
        assert migrate.current(fresh_engine) == revision
        migrate.downgrade(fresh_engine, down or "base")
        assert migrate.current(fresh_engine) == down
    assert application_tables(fresh_engine) == set()
    assert leftover_relations(fresh_engine) == set()

    migrate.upgrade(fresh_engine, "head")
    assert drift(fresh_engine) == []


def test_the_seeded_audit_head_survives_a_round_trip(fresh_engine: Engine) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "head")
    migrate.downgrade(fresh_engine, "base")
    migrate.upgrade(fresh_engine, "head")
    with fresh_engine.connect() as conn:
        heads = conn.execute(text("SELECT singleton, last_hash FROM audit_head")).all()
    assert [tuple(h) for h in heads] == [(1, "0" * 64)]


def test_0005_hides_the_videos_of_owners_disabled_before_it(fresh_engine: Engine) -> None:
    to_base(fresh_engine)  # the PostgreSQL database may come at head from another test
    migrate.upgrade(fresh_engine, "0004")
    kept, gone = make_user(user_id="user-kept"), make_user(user_id="user-gone")
    gone.disable(kept.created_at)
    with fresh_engine.begin() as conn:
        for user, video_id in ((kept, "video-kept"), (gone, "video-gone")):
            conn.execute(insert(tables.users).values(user_row_before_0016(user)))
            video = attrs.evolve(make_video(owner_id=user.id), id=VideoId(video_id))
            conn.execute(insert(tables.videos).values(video_row_before(video, "0007")))
    migrate.upgrade(fresh_engine, "0005")
    with fresh_engine.connect() as conn:
        rows = conn.execute(text("SELECT id, owner_disabled FROM videos")).all()
    assert {row[0]: bool(row[1]) for row in rows} == {"video-kept": False, "video-gone": True}


# Columns of the videos table, with the revision that added them after 0004.
VIDEO_COLUMNS_SINCE = {"failure_code": "0007", "reprocessing": "0008", "attempt_base": "0008"}


def video_row_before(video: Video, revision: str) -> dict[str, Any]:
    """``video`` as a row of the videos table before ``revision``."""
    row = {**mapping.video_row(video), "version": 1}
    return {k: v for k, v in row.items() if VIDEO_COLUMNS_SINCE.get(k, "0000") < revision}


def test_0007_gives_videos_that_failed_before_it_a_failure_code(fresh_engine: Engine) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "0006")
    owner = make_user(user_id="user-1")
    now = owner.created_at
    failed = attrs.evolve(make_video(owner_id=owner.id), id=VideoId("video-failed"))
    failed.start_processing(now)
    failed.mark_failed("ffmpeg exited with status 1", now)
    waiting = attrs.evolve(make_video(owner_id=owner.id), id=VideoId("video-waiting"))
    with fresh_engine.begin() as conn:
        conn.execute(insert(tables.users).values(user_row_before_0016(owner)))
        for video in (failed, waiting):
            conn.execute(insert(tables.videos).values(video_row_before(video, "0007")))
    migrate.upgrade(fresh_engine, "0007")
    with fresh_engine.connect() as conn:
        rows = conn.execute(text("SELECT id, failure_code FROM videos")).all()
    assert dict(rows) == {"video-failed": "processing_error", "video-waiting": None}


def test_0008_leaves_videos_from_before_it_not_reprocessing(fresh_engine: Engine) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "0007")
    owner = make_user(user_id="user-1")
    video = attrs.evolve(make_video(owner_id=owner.id), id=VideoId("video-1"))
    with fresh_engine.begin() as conn:
        conn.execute(insert(tables.users).values(user_row_before_0016(owner)))
        conn.execute(insert(tables.videos).values(video_row_before(video, "0008")))
    migrate.upgrade(fresh_engine, "0008")
    with fresh_engine.connect() as conn:
        rows = conn.execute(text("SELECT id, reprocessing FROM videos")).all()
    assert {row[0]: bool(row[1]) for row in rows} == {"video-1": False}
    migrate.downgrade(fresh_engine, "0007")
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM videos")).scalars().all() == ["video-1"]


def test_0015_fills_the_title_leaders_from_the_documents_indexed_before_it(
    fresh_engine: Engine,
) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "head")
    owner = make_user(user_id="user-1")
    shown = ("Tiger river", "Tiger song", "River night")
    videos = [
        attrs.evolve(
            make_video(VideoStatus.READY, visibility=Visibility.PUBLIC, owner_id=owner.id),
            id=VideoId(f"video-{n}"),
            title=title,
        )
        for n, title in enumerate(shown)
    ]
    videos.append(  # never a leader: only its owner may see it
        attrs.evolve(make_video(VideoStatus.READY, owner_id=owner.id), id=VideoId("video-p"))
    )
    with fresh_engine.begin() as conn:
        conn.execute(insert(tables.users).values({**mapping.user_row(owner), "version": 1}))
        for video in videos:
            conn.execute(insert(tables.videos).values({**mapping.video_row(video), "version": 1}))
        for n in range(len(shown)):  # as views are counted: apart from the row's writes
            conn.execute(
                text("UPDATE videos SET view_count = :n WHERE id = :id"),
                {"n": 10 * n, "id": f"video-{n}"},
            )
    factory = SqlUnitOfWorkFactory(fresh_engine)
    with factory() as uow:
        uow.search.put_videos(
            [VideoDocument(v.id, v.title, "a description", (), "", "") for v in videos]
        )
        uow.commit()

    def leaders() -> set[tuple[str, str, int]]:
        with fresh_engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT word, video_id, views FROM search_title_leaders"
                    " JOIN search_documents ON search_documents.id = search_title_leaders.doc"
                )
            )
            return {(r[0], r[1], r[2]) for r in rows}

    written = leaders()
    assert written == {
        ("tiger", "video-0", 0),
        ("river", "video-0", 0),
        ("tiger", "video-1", 10),
        ("song", "video-1", 10),
        ("river", "video-2", 20),
        ("night", "video-2", 20),
    }
    migrate.downgrade(fresh_engine, "0014")
    migrate.upgrade(fresh_engine, "0015")
    assert leaders() == written


def test_0016_gives_existing_accounts_private_uploads_and_undoes(fresh_engine: Engine) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "0015")
    owner = make_user(user_id="user-16")
    with fresh_engine.begin() as conn:
        conn.execute(insert(tables.users).values(user_row_before_0016(owner)))
    migrate.upgrade(fresh_engine, "0016")
    with fresh_engine.connect() as conn:  # (the repository reads today's columns)
        kept = conn.execute(
            text("SELECT default_visibility FROM users WHERE id = :id"), {"id": owner.id}
        ).scalar_one()
    assert Visibility(kept) is Visibility.PRIVATE
    migrate.downgrade(fresh_engine, "0015")
    columns = {c["name"] for c in inspect(fresh_engine).get_columns("users")}
    assert "default_visibility" not in columns
    migrate.upgrade(fresh_engine, "head")


def test_0017_gives_existing_tokens_every_scope_and_undoes(fresh_engine: Engine) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "0016")
    owner = make_user(user_id="user-17")
    with fresh_engine.begin() as conn:
        conn.execute(insert(tables.users).values(user_row_before_0019(owner)))
        conn.execute(
            text(
                "INSERT INTO api_tokens (id, user_id, kind, name, token_hash, created_at,"
                " version) VALUES ('token-17', 'user-17', 'personal', 'old script',"
                " :hash, :at, 1)"
            ),
            {"hash": "a" * 64, "at": T0},
        )
    migrate.upgrade(fresh_engine, "0017")
    with SqlUnitOfWorkFactory(fresh_engine)() as uow:
        token = uow.tokens.get(TokenId("token-17"))
    assert token.scopes == ALL_SCOPES
    assert token.parent_id is None
    migrate.downgrade(fresh_engine, "0016")
    columns = {c["name"] for c in inspect(fresh_engine).get_columns("api_tokens")}
    assert not {"scopes", "parent_id"} & columns
    migrate.upgrade(fresh_engine, "head")


def test_0018_counts_the_tags_everyone_may_see_from_the_documents_indexed_before_it(
    fresh_engine: Engine,
) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "head")
    owner = make_user(user_id="user-18")
    public = make_video(VideoStatus.READY, visibility=Visibility.PUBLIC, owner_id=owner.id)
    videos = [
        attrs.evolve(public, id=VideoId("video-a"), tags=("surf", "sea")),
        attrs.evolve(public, id=VideoId("video-b"), tags=("surf",)),
        attrs.evolve(  # carries the tag, but only its owner may see it
            make_video(VideoStatus.READY, owner_id=owner.id), id=VideoId("video-p"), tags=("surf",)
        ),
    ]
    with fresh_engine.begin() as conn:
        conn.execute(insert(tables.users).values({**mapping.user_row(owner), "version": 1}))
        for video in videos:
            conn.execute(insert(tables.videos).values({**mapping.video_row(video), "version": 1}))
            conn.execute(
                insert(tables.video_tags), [{"video_id": video.id, "tag": t} for t in video.tags]
            )
    with SqlUnitOfWorkFactory(fresh_engine)() as uow:
        uow.search.put_videos([VideoDocument(v.id, "A title", "", v.tags, "", "") for v in videos])
        uow.commit()

    def counted() -> tuple[set[tuple[str, bool]], set[tuple[str, int, int]]]:
        with fresh_engine.connect() as conn:
            documents = conn.execute(text("SELECT video_id, listed FROM search_documents"))
            tags = conn.execute(text("SELECT tag, videos, listed FROM search_tags"))
            return {(r[0], bool(r[1])) for r in documents}, {(r[0], r[1], r[2]) for r in tags}

    written = counted()
    assert written == (
        {("video-a", True), ("video-b", True), ("video-p", False)},
        {("surf", 3, 2), ("sea", 1, 1)},
    )
    migrate.downgrade(fresh_engine, "0017")
    migrate.upgrade(fresh_engine, "0018")
    assert counted() == written


def test_0019_leaves_two_factor_login_off_for_existing_accounts_and_undoes(
    fresh_engine: Engine,
) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "0018")
    owner = make_user(user_id="user-19")
    with fresh_engine.begin() as conn:
        conn.execute(insert(tables.users).values(user_row_before_0019(owner)))
    migrate.upgrade(fresh_engine, "0019")
    with fresh_engine.connect() as conn:  # (the repository reads today's columns)
        row = conn.execute(
            text("SELECT totp_secret, totp_last_step, recovery_codes FROM users WHERE id = :id"),
            {"id": owner.id},
        ).one()
    assert tuple(row) == (None, 0, "")
    migrate.downgrade(fresh_engine, "0018")
    columns = {c["name"] for c in inspect(fresh_engine).get_columns("users")}
    assert not {"totp_secret", "totp_confirmed_at", "totp_last_step", "recovery_codes"} & columns
    migrate.upgrade(fresh_engine, "head")


def test_0020_waits_for_no_change_of_address_and_undoes(fresh_engine: Engine) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "0019")
    owner = make_user(user_id="user-20")
    with fresh_engine.begin() as conn:
        row = {**mapping.user_row(owner), "version": 1}
        for later in ("pending_email", "bio", "avatar", "mail_on_processing"):  # 0020, 0021
            del row[later]
        conn.execute(insert(tables.users).values(row))
    migrate.upgrade(fresh_engine, "0020")
    with fresh_engine.connect() as conn:  # (the repository reads today's columns)
        waiting = conn.execute(
            text("SELECT pending_email FROM users WHERE id = :id"), {"id": owner.id}
        ).scalar_one()
    assert waiting is None
    migrate.downgrade(fresh_engine, "0019")
    columns = {c["name"] for c in inspect(fresh_engine).get_columns("users")}
    assert "pending_email" not in columns
    migrate.upgrade(fresh_engine, "head")


def test_0021_mails_every_account_about_its_videos_and_undoes(fresh_engine: Engine) -> None:
    to_base(fresh_engine)
    migrate.upgrade(fresh_engine, "0020")
    owner = make_user(user_id="user-21")
    with fresh_engine.begin() as conn:
        row = {**mapping.user_row(owner), "version": 1}
        del row["bio"], row["avatar"], row["mail_on_processing"]
        conn.execute(insert(tables.users).values(row))
    migrate.upgrade(fresh_engine, "0021")
    with SqlUnitOfWorkFactory(fresh_engine)() as uow:
        user = uow.users.get(owner.id)
    assert (user.bio, user.mail_on_processing) == ("", True)
    migrate.downgrade(fresh_engine, "0020")
    columns = {c["name"] for c in inspect(fresh_engine).get_columns("users")}
    assert not {"bio", "avatar", "mail_on_processing"} & columns
    migrate.upgrade(fresh_engine, "head")
