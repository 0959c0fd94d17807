"""What the database itself guarantees for caption tracks, on SQLite and PostgreSQL.

The repository's behaviour is the contract suite's (tests/contracts/
test_caption_repository.py); here: the foreign key to the video (a track needs its
video, and goes when the video's row goes, whoever deletes it), migration 0009 both
ways over a database with data, and the application role's rights on the new table.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, func, insert, inspect, select, text

from tests.integration.sql.builders import (
    T0,
    a_user,
    a_video,
    new_id,
    stored_video,
    user_row_before_0016,
)
from videoplatform.adapters.sql import mapping, migrate, tables
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.domain.captions import CaptionTrack
from videoplatform.domain.errors import Conflict
from videoplatform.domain.ids import CaptionId, VideoId

APP_ROLE = "videoplatform_app"


def a_track(video_id: VideoId, language: str = "en") -> CaptionTrack:
    track_id = CaptionId(new_id("c"))
    return CaptionTrack(
        id=track_id,
        video_id=video_id,
        language=language,
        label="English",
        storage_key=f"captions/{video_id}/{track_id}.vtt",
        cue_count=2,
        size=64,
        created_at=T0,
        updated_at=T0,
    )


def track_count(engine: Engine, video_id: VideoId) -> int:
    t = tables.caption_tracks
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(t.c.video_id == video_id)).scalar_one())


def test_deleting_the_video_row_deletes_its_tracks(migrated_engine: Engine) -> None:
    factory = SqlUnitOfWorkFactory(migrated_engine)
    doomed, kept = stored_video(factory), stored_video(factory)
    with factory() as uow:
        for video in (doomed, kept):
            uow.captions.add(a_track(video.id, "en"))
        uow.captions.add(a_track(doomed.id, "fr"))
        uow.commit()
    assert track_count(migrated_engine, doomed.id) == 2

    # Below the repositories: the schema's cascade, whatever deletes the row.
    with migrated_engine.begin() as conn:
        conn.execute(delete(tables.videos).where(tables.videos.c.id == doomed.id))

    assert track_count(migrated_engine, doomed.id) == 0
    assert track_count(migrated_engine, kept.id) == 1


def test_a_track_of_a_missing_video_is_refused(migrated_engine: Engine) -> None:
    factory = SqlUnitOfWorkFactory(migrated_engine)
    with factory() as uow:
        uow.captions.add(a_track(VideoId(new_id("v-missing"))))
        with pytest.raises(Conflict) as caught:
            uow.commit()
    assert caught.value.code != "caption_exists"  # a missing video, not a duplicate


@pytest.fixture
def at_0008(fresh_engine: Engine) -> Iterator[Engine]:
    """The database at revision 0008; back at head afterwards, as the module's other
    tests expect of the PostgreSQL database they share."""
    if migrate.current(fresh_engine) is not None:
        migrate.downgrade(fresh_engine, "base")
    migrate.upgrade(fresh_engine, "0008")
    yield fresh_engine
    migrate.upgrade(fresh_engine, "head")


def test_0009_adds_caption_tracks_beside_existing_videos_and_undoes(at_0008: Engine) -> None:
    engine = at_0008
    assert "caption_tracks" not in inspect(engine).get_table_names()
    owner = a_user()
    video = a_video(owner, title="Before 0009")
    with engine.begin() as conn:  # the videos table is unchanged since 0008
        conn.execute(insert(tables.users).values(user_row_before_0016(owner)))
        conn.execute(insert(tables.videos).values({**mapping.video_row(video), "version": 1}))

    migrate.upgrade(engine, "0009")
    assert migrate.current(engine) == "0009"
    factory = SqlUnitOfWorkFactory(engine)
    with factory() as uow:
        uow.captions.add(a_track(video.id, "en"))
        uow.commit()
    with factory() as uow:
        assert [t.language for t in uow.captions.list_for_video(video.id)] == ["en"]

    migrate.downgrade(engine, "0008")
    assert migrate.current(engine) == "0008"
    assert "caption_tracks" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        titles = conn.execute(text("SELECT title FROM videos WHERE id = :id"), {"id": video.id})
        assert titles.scalars().all() == ["Before 0009"]


def test_the_application_role_may_read_and_write_caption_tracks(
    migrated_pg_engine: Engine,
) -> None:
    with migrated_pg_engine.connect() as conn:
        rights = {
            right: conn.execute(
                text("SELECT has_table_privilege(:role, 'caption_tracks', :right)"),
                {"role": APP_ROLE, "right": right},
            ).scalar_one()
            for right in ("SELECT", "INSERT", "UPDATE", "DELETE")
        }
    assert rights == dict.fromkeys(("SELECT", "INSERT", "UPDATE", "DELETE"), True)
