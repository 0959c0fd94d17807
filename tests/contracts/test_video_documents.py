"""Lists read videos as their stored documents (``application.video_documents``): each
one what the video itself would give, after every kind of write, and built from the
video where a database holds none of the current shape."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from tests.contracts.test_unit_of_work import a_category, a_user
from tests.unit.http.test_views import audio_only, failed, ready, uploaded
from videoplatform.adapters.sql import documents, migrate, tables
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.ports.persistence import (
    ListedVideo,
    UnitOfWorkFactory,
    VideoListQuery,
)
from videoplatform.application.video_documents import SHAPE, video_document
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import Video, Visibility

EVERYTHING = VideoListQuery(viewer_id=None, see_all=True)
SQL = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", marks=pytest.mark.integration, id="postgres"),
]


def four_videos() -> list[Video]:
    """Videos in every state a document shows, each with its own id and instant."""
    made = []
    for n, make in enumerate((uploaded, ready, failed, audio_only)):
        video = make()
        video.id = VideoId(f"{video.id[:-1]}{n}")
        video.created_at += timedelta(seconds=n)
        video.updated_at += timedelta(seconds=n)
        made.append(video)
    return made


def stored(factory: UnitOfWorkFactory) -> list[Video]:
    videos = four_videos()
    with factory() as uow:
        uow.users.add(a_user(videos[0].owner_id))
        uow.categories.add(a_category(str(videos[1].category_id), "River"))
        for video in videos:
            uow.videos.add(video)
        uow.commit()
    return videos


def listing(factory: UnitOfWorkFactory) -> dict[str, ListedVideo]:
    with factory() as uow:
        return {d.id: d for d in uow.videos.list_documents(EVERYTHING, 10)}


def expected(factory: UnitOfWorkFactory) -> dict[str, dict[str, object]]:
    """Each video's document as built from the video read back now."""
    with factory() as uow:
        videos = uow.videos.list_page(EVERYTHING, 10)
    return {v.id: {**video_document(v), "view_count": v.view_count} for v in videos}


def parsed(found: dict[str, ListedVideo]) -> dict[str, dict[str, object]]:
    return {video_id: json.loads(d.json) for video_id, d in found.items()}


def test_each_listed_document_is_the_video_s_own_after_every_kind_of_write(
    uow_factory: UnitOfWorkFactory,
) -> None:
    videos = stored(uow_factory)
    first = parsed(listing(uow_factory))
    assert first == expected(uow_factory)
    assert len(first) == 4
    assert first[videos[1].id]["title"] == "Morning, river — été"
    assert first[videos[1].id]["updated_at"] == "2026-12-07T12:23:05.916455+00:00"

    with uow_factory() as uow:
        video = uow.videos.get(videos[1].id)
        video.update_metadata(
            now=video.updated_at + timedelta(minutes=1),
            title="Evening",
            tags=["dusk"],
            visibility=Visibility.PRIVATE,
        )
        uow.videos.save(video)
        uow.videos.increment_views(videos[2].id, by=7)
        uow.commit()
    second = parsed(listing(uow_factory))
    assert second == expected(uow_factory)
    assert (second[videos[1].id]["title"], second[videos[1].id]["tags"]) == ("Evening", ["dusk"])
    assert second[videos[1].id]["visibility"] == "private"
    assert second[videos[2].id]["view_count"] == 7

    with uow_factory() as uow:
        uow.videos.delete(videos[0].id)
        uow.commit()
    assert sorted(listing(uow_factory)) == sorted(v.id for v in videos[1:])


def test_a_unit_of_work_lists_the_documents_of_its_own_uncommitted_writes(
    uow_factory: UnitOfWorkFactory,
) -> None:
    videos = stored(uow_factory)
    with uow_factory() as uow:
        video = uow.videos.get(videos[3].id)
        video.update_metadata(now=video.updated_at, title="Not yet")
        uow.videos.save(video)
        found = {d.id: json.loads(d.json) for d in uow.videos.list_documents(EVERYTHING, 10)}
        assert found[videos[3].id]["title"] == "Not yet"
    assert parsed(listing(uow_factory))[videos[3].id]["title"] == videos[3].title


@pytest.mark.parametrize("uow_factory", SQL, indirect=True)
def test_videos_without_a_current_document_are_listed_from_the_videos_and_refreshed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    assert isinstance(uow_factory, SqlUnitOfWorkFactory)
    engine = uow_factory.engine
    videos = stored(uow_factory)
    before = parsed(listing(uow_factory))
    d = tables.video_documents
    with engine.begin() as conn:
        # One written before documents were kept, one under an older shape.
        conn.execute(delete(d).where(d.c.video_id == videos[0].id))
        conn.execute(
            update(d)
            .where(d.c.video_id == videos[1].id)
            .values(shape=SHAPE - 1, document='{"title":"old"}')
        )
    assert parsed(listing(uow_factory)) == before == expected(uow_factory)

    assert documents.refresh(engine) == 2
    assert documents.refresh(engine) == 0
    with engine.connect() as conn:
        shapes = conn.execute(select(d.c.shape, func.count()).group_by(d.c.shape)).all()
    assert [tuple(row) for row in shapes] == [(SHAPE, 4)]
    assert parsed(listing(uow_factory)) == before


@pytest.mark.parametrize("uow_factory", SQL, indirect=True)
def test_an_upgrade_to_the_head_writes_the_missing_documents(
    uow_factory: UnitOfWorkFactory,
) -> None:
    assert isinstance(uow_factory, SqlUnitOfWorkFactory)
    engine = uow_factory.engine
    videos = stored(uow_factory)
    d = tables.video_documents
    with engine.begin() as conn:
        conn.execute(delete(d))
    migrate.upgrade(engine)
    with engine.connect() as conn:
        kept = {row[0]: row[1] for row in conn.execute(select(d.c.video_id, d.c.document))}
    assert sorted(kept) == sorted(v.id for v in videos)
    assert parsed(listing(uow_factory)) == expected(uow_factory)
