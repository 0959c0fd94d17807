"""Search as embedders and the API use it: the index follows committed changes, typos
are corrected, matches are marked, and nobody finds what they may not see."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.application.conftest import Studio
from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.events.deferred import DeferredEvents
from videoplatform.application.ports.search import SearchSort
from videoplatform.application.search import Highlighted, SearchVideos, highlight, snippet
from videoplatform.application.video_commands import UpdateVideo
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.search import parse_query
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.worker import settle_events


def titles(platform: Platform, caller: Caller, query: str, **options: object) -> list[str]:
    found = platform.search.videos(caller, SearchVideos(query, **options))  # type: ignore[arg-type]
    return [r.video.title for r in found.results]


@pytest.fixture
def creator(make_user: MakeUser) -> Caller:
    return make_user(Role.CREATOR)


def test_an_uploaded_video_is_found_once_its_events_are_handled(
    platform: Platform, studio: Studio, creator: Caller
) -> None:
    studio.publish(creator, title="Sourdough bread at home")
    assert titles(platform, creator, "sourdough") == []  # the index follows committed events
    settle_events(platform)
    assert titles(platform, creator, "sourdough") == ["Sourdough bread at home"]
    assert titles(platform, Caller.anonymous(), "bread") == ["Sourdough bread at home"]


def test_a_misspelled_word_finds_the_video_and_says_so(
    platform: Platform, studio: Studio, creator: Caller
) -> None:
    studio.publish(creator, title="Sourdough bread at home")
    settle_events(platform)
    found = platform.search.videos(Caller.anonymous(), SearchVideos("sourdugh"))
    assert [r.video.title for r in found.results] == ["Sourdough bread at home"]
    assert (found.query, found.corrected_from) == ("sourdough", "sourdugh")
    assert found.results[0].title == Highlighted("Sourdough bread at home", ((0, 9),))


def test_few_results_come_with_a_suggestion(
    platform: Platform, studio: Studio, creator: Caller
) -> None:
    for n in range(3):
        studio.publish(creator, title=f"Garden tour {n}")
    studio.publish(creator, title="Gardne party")  # a typo in a title is a word as well
    settle_events(platform)
    found = platform.search.videos(Caller.anonymous(), SearchVideos("gardne"))
    assert [r.video.title for r in found.results] == ["Gardne party"]
    assert (found.query, found.did_you_mean) == ("gardne", "garden")
    assert found.corrected_from is None


def test_a_common_word_is_not_corrected(
    platform: Platform, studio: Studio, creator: Caller
) -> None:
    for n in range(3):
        studio.publish(creator, title=f"Gardne party {n}")
    studio.publish(creator, title="Garden tour")
    settle_events(platform)
    found = platform.search.videos(Caller.anonymous(), SearchVideos("gardne"))
    assert (found.total, found.did_you_mean, found.corrected_from) == (3, None, None)


def test_edits_and_deletions_reach_the_index(
    platform: Platform, studio: Studio, creator: Caller
) -> None:
    video = studio.publish(creator, title="Lemon tart")
    settle_events(platform)
    platform.videos.update(creator, video.id, UpdateVideo(title="Apple pie"))
    settle_events(platform)
    assert titles(platform, creator, "lemon") == []
    assert titles(platform, creator, "apple") == ["Apple pie"]
    platform.videos.delete(creator, video.id)
    settle_events(platform)
    assert titles(platform, creator, "apple") == []


def test_a_private_video_is_found_by_its_owner_only(
    platform: Platform, studio: Studio, creator: Caller, make_user: MakeUser
) -> None:
    studio.publish(creator, title="Family dinner", visibility=Visibility.PRIVATE)
    settle_events(platform)
    assert titles(platform, creator, "dinner") == ["Family dinner"]
    assert titles(platform, make_user(Role.CREATOR), "dinner") == []
    assert titles(platform, Caller.anonymous(), "dinner") == []
    assert titles(platform, make_user(Role.MODERATOR), "dinner") == ["Family dinner"]


def test_pages_follow_the_cursor(platform: Platform, studio: Studio, creator: Caller) -> None:
    for n in range(5):
        studio.publish(creator, title=f"Knitting lesson {n}")
    settle_events(platform)
    seen: list[str] = []
    cursor = None
    while True:
        page = platform.search.videos(
            creator, SearchVideos("knitting", sort=SearchSort.NEWEST), cursor, 2
        )
        assert page.total == 5
        seen += [r.video.title for r in page.results]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"Knitting lesson {n}" for n in (4, 3, 2, 1, 0)]


def test_a_cursor_of_another_list_is_refused(platform: Platform, creator: Caller) -> None:
    with pytest.raises(ValidationError):
        platform.search.videos(creator, SearchVideos("x1"), "bm90LWEtY3Vyc29y")


def test_reindex_rebuilds_the_index_from_the_videos(
    platform: Platform, studio: Studio, creator: Caller
) -> None:
    studio.publish(creator, title="Origami crane")
    progress: list[tuple[int, int]] = []
    assert platform.search.reindex(lambda done, total: progress.append((done, total))) == 1
    assert progress == [(1, 1)]
    assert titles(platform, creator, "origami") == ["Origami crane"]


def test_reindex_goes_through_every_video_in_batches(
    platform: Platform, studio: Studio, creator: Caller, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    for n in range(5):
        studio.publish(creator, title=f"Kite number{n}")
    settle_events(platform)
    with uow_factory() as uow:  # an index lost, or made before the search existed
        for video_id in uow.videos.all_ids():
            uow.search.remove_video(video_id)
        uow.commit()
    assert titles(platform, creator, "kite") == []
    progress: list[tuple[int, int]] = []
    assert platform.search.reindex(lambda *p: progress.append(p), batch=2) == 5
    assert progress == [(2, 5), (4, 5), (5, 5)]
    assert sorted(titles(platform, creator, "kite")) == [f"Kite number{n}" for n in range(5)]
    assert titles(platform, creator, "number3") == ["Kite number3"]


def test_highlights_mark_inflections_and_folded_words() -> None:
    terms = parse_query("running cafe")
    marked = highlight("Runs to the Café, running late", terms)
    assert [marked.text[a:b] for a, b in marked.matches] == ["Café", "running"]


def test_a_snippet_is_a_window_around_the_first_match() -> None:
    text = "word " * 100 + "needle in the haystack " + "word " * 100
    cut = snippet(text, parse_query("needle"))
    assert len(cut.text) <= 160
    ((start, end),) = cut.matches
    assert cut.text[start:end] == "needle"


def test_search_analytics_forget_what_is_older_than_kept(
    platform: Platform, studio: Studio, creator: Caller, make_user: MakeUser, clock: ManualClock
) -> None:
    studio.publish(creator, title="Tide tables")
    settle_events(platform)
    platform.search.videos(creator, SearchVideos("tide"))
    clock.advance(timedelta(days=10))
    platform.search.videos(creator, SearchVideos("tables"))
    admin = make_user(Role.ADMIN)
    clock.advance(timedelta(seconds=1))
    _, _, report = platform.search.analytics(admin, since=clock.now() - timedelta(days=30))
    assert sorted(s.query for s in report.top) == ["tables", "tide"]
    # "tide": its search, and its row among the popular queries (it found a public video).
    assert platform.search.prune_log(timedelta(days=5)) == 2
    _, _, report = platform.search.analytics(admin, since=clock.now() - timedelta(days=30))
    assert [s.query for s in report.top] == ["tables"]


def test_queries_that_found_public_videos_are_offered_once_searched_often(
    platform: Platform, studio: Studio, creator: Caller, make_user: MakeUser
) -> None:
    studio.publish(creator, title="Lighthouse at dawn")
    studio.upload(creator, title="Lighthouse keeper diary", visibility=Visibility.PRIVATE)
    settle_events(platform)
    viewer = Caller.anonymous()
    for _ in range(3):
        platform.search.videos(viewer, SearchVideos("lighthouse dawn"))
        platform.search.videos(creator, SearchVideos("lighthouse keeper"))  # private results
    platform.search.videos(viewer, SearchVideos("lighthouse night"))  # nothing found
    assert platform.container.resolve(DeferredEvents).settle()  # the searches are recorded
    assert platform.search.suggest(viewer, "lighth").queries == ("lighthouse dawn",)
    assert platform.search.suggest(viewer, "lighthouse ").queries == ("lighthouse dawn",)
    assert platform.search.suggest(viewer, "Lighthouse da").queries == ("lighthouse dawn",)
    assert platform.search.suggest(viewer, "harbour").queries == ()
