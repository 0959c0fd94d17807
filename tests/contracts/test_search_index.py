"""The search index port (``uow.search``): the same matches, order and visibility from
the memory index, SQLite FTS5 and PostgreSQL full text."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from tests.contracts.test_unit_of_work import a_category, a_user, a_video, at, read, store
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.adapters.sql import search as sql_search
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.search import (
    Completions,
    SearchSort,
    VideoDocument,
    VideoMatches,
    VideoSearch,
)
from videoplatform.domain.ids import UserId, VideoId
from videoplatform.domain.search import DurationBucket, UploadedBucket, parse_query
from videoplatform.domain.users import Role
from videoplatform.domain.videos import MediaInfo, Video, VideoStatus, Visibility


def document(
    video_id: str,
    title: str,
    description: str = "",
    tags: tuple[str, ...] = (),
    category: str = "",
    owner_name: str = "",
) -> VideoDocument:
    return VideoDocument(VideoId(video_id), title, description, tags, category, owner_name)


def index(factory: UnitOfWorkFactory, *documents: VideoDocument) -> None:
    with factory() as uow:
        for each in documents:
            uow.search.put_video(each)
        uow.commit()


def find(
    factory: UnitOfWorkFactory,
    query: str,
    viewer: str | None = None,
    **options: Any,
) -> VideoMatches:
    search = VideoSearch(parse_query(query), viewer_id=UserId(viewer) if viewer else None)
    search = attrs.evolve(search, **options)
    return read(factory, lambda uow: uow.search.search_videos(search))


def found(factory: UnitOfWorkFactory, query: str, **options: Any) -> list[str]:
    return [m.video.id for m in find(factory, query, **options).matches]


@pytest.fixture
def library(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Five public, ready videos of u1, indexed."""
    store(
        uow_factory,
        a_user("u1"),
        a_video("v1", "u1", created_at=at(1), title="Cooking pasta at home"),
        a_video("v2", "u1", created_at=at(2), title="The quick brown fox"),
        a_video("v3", "u1", created_at=at(3), title="Brown quick foxes running"),
        a_video("v4", "u1", created_at=at(4), title="Café culture in Paris"),
        a_video("v5", "u1", created_at=at(5), title="Garden tour"),
    )
    index(
        uow_factory,
        document("v1", "Cooking pasta at home", "Fresh pasta with tomato sauce."),
        document("v2", "The quick brown fox", "A fox jumps over a lazy dog."),
        document("v3", "Brown quick foxes running", "Foxes run in the garden at night."),
        document("v4", "Café culture in Paris", "Coffee and croissants.", ("travel",)),
        document("v5", "Garden tour", "Roses, tomato plants and a pond.", ("gardening",)),
    )
    return uow_factory


def test_a_word_of_the_title_finds_the_video(library: UnitOfWorkFactory) -> None:
    assert found(library, "pasta") == ["v1"]
    assert find(library, "pasta").total == 1


def test_case_and_diacritics_are_folded_both_ways(library: UnitOfWorkFactory) -> None:
    assert found(library, "CAFE") == ["v4"]
    assert found(library, "cafés") == ["v4"]


def test_english_inflections_match(library: UnitOfWorkFactory) -> None:
    assert sorted(found(library, "runs")) == ["v3"]
    assert sorted(found(library, "fox")) == ["v2", "v3"]


def test_every_word_must_match(library: UnitOfWorkFactory) -> None:
    assert found(library, "tomato pasta") == ["v1"]
    assert found(library, "tomato dragon") == []


def test_a_phrase_matches_its_words_in_order(library: UnitOfWorkFactory) -> None:
    assert found(library, '"quick brown"') == ["v2"]
    assert found(library, '"brown quick"') == ["v3"]


def test_an_excluded_word_removes_its_videos(library: UnitOfWorkFactory) -> None:
    assert sorted(found(library, "tomato")) == ["v1", "v5"]
    assert found(library, "tomato -pasta") == ["v5"]


def test_tags_and_the_description_are_searched_too(library: UnitOfWorkFactory) -> None:
    assert found(library, "travel") == ["v4"]
    assert found(library, "croissants") == ["v4"]


def test_a_match_in_the_title_ranks_above_one_in_the_description(
    library: UnitOfWorkFactory,
) -> None:
    # "garden": v5's title, v3's description.
    assert found(library, "garden") == ["v5", "v3"]


def test_pages_split_the_results_and_the_total_counts_them_all(
    library: UnitOfWorkFactory,
) -> None:
    newest = SearchSort.NEWEST
    assert found(library, "fox", sort=newest) == ["v3", "v2"]
    first = find(library, "fox", limit=1, sort=newest)
    second = find(library, "fox", limit=1, offset=1, sort=newest)
    assert ([m.video.id for m in first.matches], first.total) == (["v3"], 2)
    assert ([m.video.id for m in second.matches], second.total) == (["v2"], 2)


def test_visibility_is_decided_in_the_query(uow_factory: UnitOfWorkFactory) -> None:
    store(
        uow_factory,
        a_user("u1"),
        a_user("u2"),
        a_user("mod", roles=frozenset({Role.MODERATOR})),
        a_video("pub", "u1", title="Secret recipe public"),
        a_video("priv", "u1", title="Secret recipe private", visibility=Visibility.PRIVATE),
        a_video("unl", "u1", title="Secret recipe unlisted", visibility=Visibility.UNLISTED),
        a_video("proc", "u1", title="Secret recipe processing", status=VideoStatus.PROCESSING),
    )
    index(
        uow_factory,
        *(document(v, "Secret recipe") for v in ("pub", "priv", "unl", "proc")),
    )
    assert found(uow_factory, "secret") == ["pub"]
    assert found(uow_factory, "secret", viewer="u2") == ["pub"]
    assert sorted(found(uow_factory, "secret", viewer="u1")) == ["priv", "proc", "pub", "unl"]
    assert len(found(uow_factory, "secret", see_all=True)) == 4
    with uow_factory() as uow:
        uow.videos.set_owner_disabled(UserId("u1"), True)
        uow.commit()
    assert found(uow_factory, "secret") == []


def test_a_change_of_the_video_row_shows_at_once(library: UnitOfWorkFactory) -> None:
    with library() as uow:
        video = uow.videos.get(VideoId("v1"))
        video.visibility = Visibility.PRIVATE
        uow.videos.save(video)
        uow.commit()
    assert found(library, "pasta") == []


def test_filters_narrow_the_matches(uow_factory: UnitOfWorkFactory) -> None:
    store(
        uow_factory,
        a_user("u1"),
        a_user("u2"),
        a_video("a", "u1", title="Bread", tags=("baking",)),
        a_video("b", "u2", title="Bread"),
    )
    index(uow_factory, document("a", "Bread"), document("b", "Bread"))
    assert found(uow_factory, "bread", owner_id=UserId("u2")) == ["b"]
    assert found(uow_factory, "bread", tag="baking") == ["a"]


def test_putting_a_document_again_replaces_it(library: UnitOfWorkFactory) -> None:
    index(library, document("v1", "Risotto at home", "Rice."))
    assert found(library, "pasta") == []
    assert found(library, "risotto") == ["v1"]
    assert read(library, lambda uow: uow.search.indexed_videos()) == 5


def test_many_documents_are_put_at_once_new_and_replaced_alike(
    library: UnitOfWorkFactory,
) -> None:
    store(library, a_video("v6", "u1", created_at=at(6), title="Tomato soup"))
    with library() as uow:
        uow.search.put_videos(
            [
                document("v1", "Risotto at home", "Rice and tomato."),
                document("v6", "Tomato soup", "Soup of tomato and basil."),
                document("v2", "The quick brown fox", "A fox jumps over a lazy dog."),
            ]
        )
        uow.search.put_videos([])
        uow.commit()
    assert found(library, "pasta") == []
    assert sorted(found(library, "tomato")) == ["v1", "v5", "v6"]
    assert found(library, "basil") == ["v6"]
    assert read(library, lambda uow: uow.search.indexed_videos()) == 6
    counts = read(library, lambda uow: uow.search.word_counts(["tomato", "pasta", "fox", "rice"]))
    assert counts == {"tomato": 3, "fox": 1, "rice": 1}
    assert [w.word for w in read(library, lambda uow: uow.search.similar_words("basli", 1))] == [
        "basil"
    ]


def test_a_removed_video_is_no_longer_found(library: UnitOfWorkFactory) -> None:
    with library() as uow:
        uow.search.remove_video(VideoId("v1"))
        uow.search.remove_video(VideoId("never-indexed"))
        uow.commit()
    assert found(library, "pasta") == []
    assert read(library, lambda uow: uow.search.indexed_videos()) == 4


def test_nothing_is_indexed_until_the_commit(library: UnitOfWorkFactory) -> None:
    with library() as uow:
        uow.search.put_video(document("v5", "Lasagne"))
        assert [
            m.video.id
            for m in uow.search.search_videos(
                VideoSearch(parse_query("lasagne"), viewer_id=None)
            ).matches
        ] == ["v5"]  # its own transaction sees it
    assert found(library, "lasagne") == []


def test_words_are_counted_by_the_videos_that_hold_them(library: UnitOfWorkFactory) -> None:
    counts = read(library, lambda uow: uow.search.word_counts(["tomato", "pasta", "dragon"]))
    assert counts == {"tomato": 2, "pasta": 1}
    with library() as uow:
        uow.search.remove_video(VideoId("v1"))
        uow.commit()
    counts = read(library, lambda uow: uow.search.word_counts(["tomato", "pasta"]))
    assert counts == {"tomato": 1}


def test_similar_words_are_a_few_edits_away_most_common_first(
    library: UnitOfWorkFactory,
) -> None:
    near = read(library, lambda uow: uow.search.similar_words("gardne", 2))
    assert [k.word for k in near][:1] == ["garden"]
    assert near[0].videos == 2
    assert read(library, lambda uow: uow.search.similar_words("pasta", 1)) == []
    assert read(library, lambda uow: uow.search.similar_words("zzzzzz", 2)) == []


def probed(video: Video, seconds: float) -> Video:
    info = MediaInfo(
        duration_seconds=seconds,
        width=320,
        height=180,
        video_codec="h264",
        audio_codec=None,
        fps=25.0,
        bitrate=100_000,
    )
    return attrs.evolve(video, media_info=info)


@pytest.fixture
def shelf(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Six public recipes: categories, tags, lengths and ages that differ."""
    store(
        uow_factory,
        a_user("u1"),
        a_category("c-bake", "Baking"),
        a_category("c-cook", "Cooking"),
        probed(
            a_video("r1", "u1", created_at=at(0), category="c-bake", tags=("bread", "easy")), 60
        ),
        probed(a_video("r2", "u1", created_at=at(-90), category="c-bake", tags=("bread",)), 600),
        probed(
            a_video("r3", "u1", created_at=at(-3 * 1440), category="c-cook", tags=("easy",)), 3000
        ),
        probed(a_video("r4", "u1", created_at=at(-60 * 1440), tags=("soup",)), 239.5),
        a_video("r5", "u1", created_at=at(-400 * 1440), category="c-cook"),  # not probed yet
        probed(a_video("other", "u1", title="Unrelated"), 60),
    )
    index(uow_factory, *(document(v, "Recipe") for v in ("r1", "r2", "r3", "r4", "r5")))
    index(uow_factory, document("other", "Unrelated"))
    return uow_factory


def test_facets_count_every_match(shelf: UnitOfWorkFactory) -> None:
    matches = find(shelf, "recipe", limit=1, facets_at=at(0))
    assert matches.total == 5
    facets = matches.facets
    assert facets is not None
    assert facets.categories == (("c-bake", 2), ("c-cook", 2))
    assert facets.tags == (("bread", 2), ("easy", 2), ("soup", 1))
    assert facets.durations == (
        (DurationBucket.SHORT, 2),
        (DurationBucket.MEDIUM, 1),
        (DurationBucket.LONG, 1),
    )
    assert facets.uploaded == (
        (UploadedBucket.HOUR, 1),
        (UploadedBucket.DAY, 2),
        (UploadedBucket.WEEK, 3),
        (UploadedBucket.MONTH, 3),
        (UploadedBucket.YEAR, 4),
    )
    assert find(shelf, "recipe").facets is None  # counted only when asked for


def test_facets_follow_the_filters(shelf: UnitOfWorkFactory) -> None:
    facets = find(shelf, "recipe", tag="bread", facets_at=at(0)).facets
    assert facets is not None
    assert (facets.categories, facets.tags) == ((("c-bake", 2),), (("bread", 2), ("easy", 1)))


def test_duration_and_upload_date_narrow_the_matches(shelf: UnitOfWorkFactory) -> None:
    short = DurationBucket.SHORT
    assert sorted(found(shelf, "recipe", duration=short)) == ["r1", "r4"]
    assert found(shelf, "recipe", duration=DurationBucket.LONG) == ["r3"]
    week = at(0) - UploadedBucket.WEEK.within
    assert sorted(found(shelf, "recipe", uploaded_since=week)) == ["r1", "r2", "r3"]


def complete(
    factory: UnitOfWorkFactory,
    finished: tuple[str, ...],
    last: str,
    typed: str,
    viewer: str | None = None,
) -> Completions:
    viewer_id = UserId(viewer) if viewer else None
    return read(
        factory, lambda uow: uow.search.complete(finished, last, typed, viewer_id, False, 5)
    )


def test_a_word_being_typed_completes_titles_by_its_start_unstemmed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(
        uow_factory,
        a_user("u1"),
        a_video("a", "u1", title="Running shoes review", tags=("running", "shoes")),
        a_video("b", "u1", title="Runner's guide", tags=("running",)),
        a_video("c", "u1", title="Secret runway", visibility=Visibility.PRIVATE, tags=("runway",)),
    )
    index(  # as the handler indexes them: the videos' tags with their text
        uow_factory,
        document("a", "Running shoes review", tags=("running", "shoes")),
        document("b", "Runner's guide", tags=("running",)),
        document("c", "Secret runway", tags=("runway",)),
    )
    with uow_factory() as uow:
        uow.videos.increment_views(VideoId("b"), by=5)
        uow.commit()
    assert complete(uow_factory, (), "runni", "runni").titles == ("Running shoes review",)
    assert complete(uow_factory, (), "run", "run").titles == (
        "Runner's guide",
        "Running shoes review",
    )
    assert complete(uow_factory, ("shoes",), "rev", "shoes rev").titles == ("Running shoes review",)
    # Tags that begin with what was typed, most used first; never a private video's.
    assert complete(uow_factory, (), "run", "run").tags == (("running", 2),)
    assert complete(uow_factory, (), "run", "run", viewer="u1").tags == (
        ("running", 2),
        ("runway", 1),
    )
    assert complete(uow_factory, (), "secr", "secr").titles == ()
    assert complete(uow_factory, (), "secr", "secr", viewer="u1").titles == ("Secret runway",)


def test_tag_counts_follow_what_everyone_may_see_as_documents_are_written_again(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(
        uow_factory,
        a_user("u1"),
        a_user("u2"),
        a_video("a", "u1", tags=("surf", "sea")),
        a_video("b", "u1", tags=("surf",), status=VideoStatus.PROCESSING),
        a_video("c", "u2", tags=("surf",)),
        a_video("d", "u2", tags=("surfboard",), visibility=Visibility.UNLISTED),
    )
    tagged = {"a": ("surf", "sea"), "b": ("surf",), "c": ("surf",), "d": ("surfboard",)}

    def reindex(*ids: str) -> None:  # as the search.index handler does after a change
        index(uow_factory, *(document(i, f"Video {i}", tags=tagged[i]) for i in ids))

    def tags(viewer: str | None = None) -> tuple[tuple[str, int], ...]:
        return complete(uow_factory, (), "surf", "surf", viewer=viewer).tags

    reindex("a", "b", "c", "d")
    assert tags() == (("surf", 2),)
    assert tags(viewer="u2") == (("surf", 2), ("surfboard", 1))

    with uow_factory() as uow:  # b turns ready, d public
        ready = uow.videos.get(VideoId("b"))
        uow.videos.save(attrs.evolve(ready, status=VideoStatus.READY))
        shown = uow.videos.get(VideoId("d"))
        uow.videos.save(attrs.evolve(shown, visibility=Visibility.PUBLIC))
        uow.commit()
    reindex("b", "d")
    assert tags() == (("surf", 3), ("surfboard", 1))

    with uow_factory() as uow:  # u2 is disabled: their videos leave every list
        uow.videos.set_owner_disabled(UserId("u2"), True)
        uow.commit()
    reindex("c", "d")
    assert tags() == (("surf", 2),)

    tagged["a"] = ("sea",)  # a loses the tag, then b goes
    with uow_factory() as uow:
        uow.videos.save(attrs.evolve(uow.videos.get(VideoId("a")), tags=tagged["a"]))
        uow.commit()
    reindex("a")
    with uow_factory() as uow:
        uow.videos.delete(VideoId("b"))
        uow.search.remove_video(VideoId("b"))
        uow.commit()
    assert tags() == ()
    assert complete(uow_factory, (), "se", "se").tags == (("sea", 1),)


def leaders_alone(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    """Completions of the SQL index from the leaders alone, ``kept`` per title word (the
    memory index has none: it looks at every match, with its views now)."""
    if isinstance(uow_factory, MemoryUnitOfWorkFactory):
        pytest.skip("the memory index looks at every match, with its views now")
    monkeypatch.setattr(sql_search, "TITLE_LEADERS", kept)
    monkeypatch.setattr(sql_search, "RARE_POSTINGS", 0)


def test_a_common_word_completes_to_its_most_viewed_titles_then_to_the_rest(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQL index keeps each title word's most viewed public videos (3 here): they
    complete the word, whichever were indexed last; a video made private or retitled
    leaves them. Where they give too few titles and the word is rare enough, the titles'
    own index gives the rest."""
    leaders_alone(uow_factory, monkeypatch, 3)
    names = ("one", "two", "three", "four", "five", "six")
    videos = [
        a_video(f"t{n}", "u1", created_at=at(n), title=f"Tiger {name}")
        for n, name in enumerate(names)
    ]
    store(uow_factory, a_user("u1"), *videos)
    with uow_factory() as uow:
        for n, views in enumerate((50, 10, 40, 0, 30, 20)):
            uow.videos.increment_views(VideoId(f"t{n}"), by=views)
        uow.commit()
    index(uow_factory, *(document(v.id, v.title) for v in videos))
    tigers = ("Tiger one", "Tiger three", "Tiger five")
    assert complete(uow_factory, (), "tig", "tig").titles == tigers
    assert complete(uow_factory, ("tiger",), "fi", "tiger fi").titles == ("Tiger five",)
    # Not among the leaders of "tiger", but the only title with a word so begun.
    assert complete(uow_factory, ("tiger",), "si", "tiger si").titles == ("Tiger six",)

    with uow_factory() as uow:
        hidden = uow.videos.get(VideoId("t0"))
        uow.videos.save(attrs.evolve(hidden, visibility=Visibility.PRIVATE))
        retitled = uow.videos.get(VideoId("t2"))
        uow.videos.save(attrs.evolve(retitled, title="Lion three"))
        uow.commit()
    index(uow_factory, document("t0", "Tiger one"), document("t2", "Lion three"))
    assert complete(uow_factory, (), "tig", "tig").titles == ("Tiger five",)
    # Their owner's own videos are looked at apart, private ones too.
    assert complete(uow_factory, (), "tig", "tig", viewer="u1").titles == (
        "Tiger one",
        "Tiger five",
        "Tiger six",
        "Tiger two",
        "Tiger four",
    )
    assert complete(uow_factory, (), "lio", "lio").titles == ("Lion three",)
    # A new video enters the places left: no more than three were ever kept.
    store(uow_factory, a_video("t6", "u1", created_at=at(6), title="Tiger seven"))
    index(uow_factory, document("t6", "Tiger seven"))
    assert complete(uow_factory, (), "tig", "tig").titles == ("Tiger five", "Tiger seven")

    monkeypatch.setattr(sql_search, "RARE_POSTINGS", 1_000)
    assert complete(uow_factory, (), "tig", "tig").titles == (
        "Tiger five",
        "Tiger six",
        "Tiger two",
        "Tiger seven",
        "Tiger four",
    )


def test_a_title_whose_views_grew_completes_its_words_once_the_leaders_are_refreshed(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaders_alone(uow_factory, monkeypatch, 1)
    store(
        uow_factory,
        a_user("u1"),
        a_video("a", "u1", title="Tiger one"),
        a_video("b", "u1", title="Tiger two"),
        a_video("p", "u1", title="Tiger private", visibility=Visibility.PRIVATE),
    )
    index(
        uow_factory,
        document("a", "Tiger one"),
        document("b", "Tiger two"),
        document("p", "Tiger private"),
    )
    with uow_factory() as uow:
        uow.videos.increment_views(VideoId("a"), by=5)
        uow.videos.increment_views(VideoId("p"), by=50)
        uow.commit()
    assert complete(uow_factory, (), "tig", "tig").titles == ("Tiger two",)  # indexed last
    with uow_factory() as uow:
        placed = uow.search.refresh_leaders(1)
        uow.commit()
    assert placed == 1  # the most viewed that everyone may see: not the private one
    assert complete(uow_factory, (), "tig", "tig").titles == ("Tiger one",)


def test_a_document_older_than_the_one_indexed_leaves_it_as_it_is(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """A rebuild that read a video before an edit writes its document after the edit's
    own: the older version is not written over the newer one; the same version is (a
    rebuild of what is current)."""
    store(uow_factory, a_user("u1"), a_video("v", "u1", title="Edited title"))
    index(uow_factory, attrs.evolve(document("v", "Edited title"), version=4))
    index(uow_factory, attrs.evolve(document("v", "Original title"), version=3))
    assert found(uow_factory, "edited") == ["v"]
    assert found(uow_factory, "original") == []
    index(uow_factory, attrs.evolve(document("v", "Edited again"), version=4))
    assert found(uow_factory, "again") == ["v"]
    assert found(uow_factory, "edited") == ["v"]  # "edited" is in both titles
    assert found(uow_factory, "title") == []


def test_a_rebuild_committed_after_an_edit_was_indexed_leaves_the_edit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_user("u1"), a_video("v", "u1", title="Original title"))
    with uow_factory() as rebuild:
        rebuild.search.put_videos([attrs.evolve(document("v", "Original title"), version=1)])
        index(uow_factory, attrs.evolve(document("v", "Edited title"), version=2))
        rebuild.commit()
    assert found(uow_factory, "edited") == ["v"]
    assert found(uow_factory, "original") == []


def test_a_rebuild_committed_after_its_video_was_deleted_indexes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    store(uow_factory, a_user("u1"), a_video("v", "u1", title="Gone soon"))
    with uow_factory() as rebuild:
        rebuild.search.put_videos([document("v", "Gone soon")])
        with uow_factory() as deletion:
            deletion.videos.delete(VideoId("v"))
            deletion.commit()
        rebuild.commit()
    assert read(uow_factory, lambda uow: uow.search.indexed_videos()) == 0
    assert found(uow_factory, "gone") == []


def test_past_the_candidates_a_search_ranks_the_title_matches_and_estimates_the_rest(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(uow_factory, MemoryUnitOfWorkFactory):
        pytest.skip("the memory index looks at every match")
    monkeypatch.setattr(sql_search, "SEARCH_CANDIDATES", 4)
    titled = [f"t{n}" for n in range(3)]
    others = [f"d{n}" for n in range(5)]
    store(
        uow_factory,
        a_user("u1"),
        a_user("u2"),
        *(a_video(v, "u1", created_at=at(n), title=f"Kite {v}") for n, v in enumerate(titled)),
        *(
            a_video(v, "u2" if v == "d0" else "u1", created_at=at(10 + n), title=f"Beach {v}")
            for n, v in enumerate(others)
        ),
    )
    index(
        uow_factory,
        *(document(v, f"Kite {v}") for v in titled),
        *(document(v, f"Beach {v}", "A kite over the sand.") for v in others),
    )
    found = find(uow_factory, "kite", limit=2)
    assert found.estimated
    assert found.reachable == 4
    assert found.total >= 4
    assert all(m.video.id in titled for m in found.matches)
    second = find(uow_factory, "kite", limit=2, offset=2)
    assert [m.video.id for m in found.matches + second.matches][:3] == sorted(titled)[::-1]
    # A filter that keeps too few of the candidates looks at every match.
    assert [m.video.id for m in find(uow_factory, "kite", owner_id=UserId("u2")).matches] == ["d0"]
    # Under the bound, everything is exact.
    monkeypatch.setattr(sql_search, "SEARCH_CANDIDATES", 8)
    exact = find(uow_factory, "kite")
    assert (exact.total, exact.estimated, exact.reachable) == (8, False, None)
