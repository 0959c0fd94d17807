"""Optimistic concurrency and atomic counters under real threads.

Each thread has its own unit of work (its own connection) from one
:class:`SqlUnitOfWorkFactory`; a barrier lines the commits up so that they really race.
PostgreSQL is the production target; SQLite (a file, WAL, BEGIN IMMEDIATE) must keep the
same contract.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import Engine, select

from tests.integration.sql.builders import at, stored_video
from videoplatform.adapters.sql import tables
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.ports.persistence import STALE_VERSION
from videoplatform.domain.errors import Conflict
from videoplatform.domain.ids import VideoId

WRITERS = 8
VIEWERS = 8
VIEWS_EACH = 25
BARRIER_TIMEOUT_S = 30.0

R = TypeVar("R")


def in_threads(count: int, work: Callable[[int], R]) -> list[R]:
    """Run ``work(i)`` for i in range(count) on ``count`` threads; re-raise any error."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, i) for i in range(count)]
        return [f.result(timeout=60) for f in futures]


def stored_row(engine: Engine, video_id: VideoId) -> tuple[str, int, int]:
    t = tables.videos
    with engine.connect() as conn:
        row = conn.execute(
            select(t.c.title, t.c.version, t.c.view_count).where(t.c.id == video_id)
        ).one()
    return row.title, row.version, row.view_count


def test_of_concurrent_saves_of_one_version_exactly_one_commits(
    migrated_engine: Engine,
) -> None:
    factory = SqlUnitOfWorkFactory(migrated_engine)
    video = stored_video(factory)
    _, version_before, _ = stored_row(migrated_engine, video.id)
    barrier = threading.Barrier(WRITERS, timeout=BARRIER_TIMEOUT_S)

    def edit(i: int) -> Conflict | int:
        with factory() as uow:
            mine = uow.videos.get(video.id)
            assert mine.version == version_before
            mine.update_metadata(title=f"title by writer {i}", now=at(i))
            uow.videos.save(mine)
            barrier.wait()  # every writer has read the same version; now all commit
            try:
                uow.commit()
            except Conflict as conflict:
                return conflict
            return mine.version

    outcomes = in_threads(WRITERS, edit)

    winners = [i for i, outcome in enumerate(outcomes) if not isinstance(outcome, Conflict)]
    assert len(winners) == 1, outcomes
    losers = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(losers) == WRITERS - 1
    assert {loser.code for loser in losers} == {STALE_VERSION}
    (winner,) = winners
    assert outcomes[winner] == version_before + 1  # the winner's copy was bumped
    title, version, _ = stored_row(migrated_engine, video.id)
    assert title == f"title by writer {winner}"
    assert version == version_before + 1


def test_a_loser_can_reload_and_save_again(migrated_engine: Engine) -> None:
    factory = SqlUnitOfWorkFactory(migrated_engine)
    video = stored_video(factory)
    with factory() as first, factory() as second:
        a = first.videos.get(video.id)
        b = second.videos.get(video.id)
        a.update_metadata(title="first", now=at(1))
        first.videos.save(a)
        first.commit()
        b.update_metadata(title="second", now=at(2))
        second.videos.save(b)
        with pytest.raises(Conflict) as lost:
            second.commit()
        assert lost.value.code == STALE_VERSION
        again = second.videos.get(video.id)
        again.update_metadata(title="second, after reloading", now=at(3))
        second.videos.save(again)
        second.commit()
    assert stored_row(migrated_engine, video.id)[:2] == ("second, after reloading", 3)


def test_concurrent_view_increments_are_all_counted(migrated_engine: Engine) -> None:
    factory = SqlUnitOfWorkFactory(migrated_engine)
    video = stored_video(factory)
    _, version_before, _ = stored_row(migrated_engine, video.id)
    barrier = threading.Barrier(VIEWERS, timeout=BARRIER_TIMEOUT_S)

    def watch(_: int) -> None:
        barrier.wait()
        for _ in range(VIEWS_EACH):
            with factory() as uow:
                uow.videos.increment_views(video.id)
                uow.commit()

    in_threads(VIEWERS, watch)

    _, version, views = stored_row(migrated_engine, video.id)
    assert views == VIEWERS * VIEWS_EACH
    assert version == version_before  # views never conflict with edits


def test_a_metadata_save_does_not_clobber_views_counted_since_it_loaded(
    migrated_engine: Engine,
) -> None:
    factory = SqlUnitOfWorkFactory(migrated_engine)
    video = stored_video(factory)
    with factory() as editor:
        stale = editor.videos.get(video.id)
        assert stale.view_count == 0
        with factory() as viewer:
            viewer.videos.increment_views(video.id, by=5)
            viewer.commit()
        stale.update_metadata(title="edited while being watched", now=at(1))
        editor.videos.save(stale)
        editor.commit()  # increments do not bump the version: no conflict
    assert stored_row(migrated_engine, video.id) == ("edited while being watched", 2, 5)


def test_edits_racing_view_increments_lose_no_views_and_never_conflict(
    migrated_engine: Engine,
) -> None:
    factory = SqlUnitOfWorkFactory(migrated_engine)
    video = stored_video(factory)
    _, version_before, _ = stored_row(migrated_engine, video.id)
    edits = 10
    viewers = 4
    barrier = threading.Barrier(viewers + 1, timeout=BARRIER_TIMEOUT_S)

    def work(i: int) -> None:
        barrier.wait()
        if i == 0:  # the editor: load, change, save, commit, again and again
            for n in range(edits):
                with factory() as uow:
                    mine = uow.videos.get(video.id)
                    mine.update_metadata(title=f"edit {n}", now=at(n))
                    uow.videos.save(mine)
                    uow.commit()
            return
        for _ in range(VIEWS_EACH):
            with factory() as uow:
                uow.videos.increment_views(video.id)
                uow.commit()

    in_threads(viewers + 1, work)

    assert stored_row(migrated_engine, video.id) == (
        f"edit {edits - 1}",
        version_before + edits,
        viewers * VIEWS_EACH,
    )
