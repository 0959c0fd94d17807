"""Search analytics (``uow.search_log``): the same report from every database."""

from __future__ import annotations

import pytest

from tests.contracts.test_unit_of_work import at, read
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.search import QueryStats, SearchReport
from videoplatform.domain.ids import VideoId


@pytest.fixture
def logged(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    with uow_factory() as uow:
        log = uow.search_log
        searches = [("piano", 4), ("piano", 4), ("piano", 0), ("guitar", 2), ("zither", 0)]
        searches += [("zither", 0), ("drums", 1), ("old", 3)]
        for minute, (query, results) in enumerate(searches):
            log.record_query(query, results, at(minute if query != "old" else -600))
        log.record_click("piano", VideoId("v1"), 1, at(1))
        log.record_click("piano", VideoId("v2"), 3, at(2))
        log.record_click("guitar", VideoId("v3"), 1, at(3))
        log.record_click("piano", VideoId("v1"), 1, at(-600))  # out of the range
        uow.commit()
    return uow_factory


def report(factory: UnitOfWorkFactory, limit: int = 10) -> SearchReport:
    return read(factory, lambda uow: uow.search_log.report(at(0), at(60), limit))


def test_the_report_ranks_queries_and_counts_their_clicks(logged: UnitOfWorkFactory) -> None:
    found = report(logged)
    assert found.top == (
        QueryStats("piano", 3, 1, 2),
        QueryStats("zither", 2, 2, 0),
        QueryStats("drums", 1, 0, 0),
        QueryStats("guitar", 1, 0, 1),
    )
    assert found.zero == (QueryStats("zither", 2, 2, 0), QueryStats("piano", 3, 1, 2))
    assert found.top[0].click_through == pytest.approx(2 / 3)


def test_the_report_keeps_to_its_limit(logged: UnitOfWorkFactory) -> None:
    found = report(logged, limit=1)
    assert ([s.query for s in found.top], [s.query for s in found.zero]) == (["piano"], ["zither"])


def test_old_rows_are_pruned(logged: UnitOfWorkFactory) -> None:
    with logged() as uow:
        assert uow.search_log.prune(at(0)) == 2  # the "old" search and its click
        uow.commit()
    everything = read(logged, lambda uow: uow.search_log.report(at(-1000), at(60), 10))
    assert "old" not in [s.query for s in everything.top]
    assert everything.top[0] == QueryStats("piano", 3, 1, 2)


def test_nothing_is_recorded_until_the_commit(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.search_log.record_query("lost", 0, at(1))
    assert report(uow_factory) == SearchReport((), ())


def test_queries_that_found_public_videos_are_popular_once_searched_often(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        log = uow.search_log
        for minute in range(3):
            log.record_query("piano lessons", 4, at(minute), public=True)
            log.record_query("piano tuning", 2, at(minute), public=True)
            log.record_query("piano secret", 1, at(minute))  # its asker's own videos only
        log.record_query("piano lessons", 4, at(5), public=True)
        log.record_query("piano bench", 1, at(5), public=True)  # searched once
        log.record_query("old piano", 1, at(-600), public=True)
        uow.commit()

    def popular(prefix: str, limit: int = 5) -> list[str]:
        return read(uow_factory, lambda uow: uow.search_log.popular(prefix, limit))

    assert popular("pia") == ["piano lessons", "piano tuning"]
    assert popular("piano t") == ["piano tuning"]
    assert popular("pia", limit=1) == ["piano lessons"]
    assert popular("") == []
    with uow_factory() as uow:
        for minute in range(3):
            uow.search_log.record_query("old piano", 1, at(-600 + minute), public=True)
        uow.commit()
    assert popular("old") == ["old piano"]
    with uow_factory() as uow:
        # Searches, then the popular queries last searched before the cut: "old piano".
        assert uow.search_log.prune(at(-1)) == 4 + 1
        uow.commit()
    assert popular("old") == []
    assert popular("piano") == ["piano lessons", "piano tuning"]
