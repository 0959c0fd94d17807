"""The search index: the text of videos, kept by the indexing handler from committed
events, and queried with the access policy inside the query.

It hangs off the unit of work (``uow.search``): a document is written in the same
transaction as the handler's receipt, and a query reads the index and the videos' live
rows together, so a video made private, deleted or hidden with its disabled owner
leaves the results at once, whatever the index still holds.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from attrs import frozen

from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.search import DurationBucket, SearchTerms, UploadedBucket, words
from videoplatform.domain.videos import Video


@frozen
class VideoDocument:
    """What a video is found by. Weighted in this order: title, tags, category and
    owner's display name, description."""

    video_id: VideoId
    title: str
    description: str
    tags: tuple[str, ...]
    category: str
    owner_name: str
    version: int = 0
    """The video's version it was made from: an index holding a document of a later
    version keeps it (a rebuild that read the video before an edit indexed it)."""

    def words_by_field(self) -> dict[str, list[str]]:
        """The folded words (:func:`domain.search.words`) of each field, the tags' in
        one run: what every index matches, the same for all of them."""
        return {
            "title": words(self.title),
            "tags": [w for tag in self.tags for w in words(tag)],
            "category": words(self.category),
            "owner_name": words(self.owner_name),
            "description": words(self.description),
        }


class SearchSort(enum.Enum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    VIEWS = "views"


@frozen
class VideoSearch:
    """One page of a search. Visibility is decided inside the query, as for
    :class:`~videoplatform.application.ports.persistence.VideoListQuery`: unless
    ``see_all``, a video matches only if it is public, ready and its owner is not
    disabled, or it is owned by ``viewer_id``. Unlisted videos of others never match.
    Ties in any order are broken by the video's id, so that pages do not overlap."""

    terms: SearchTerms
    viewer_id: UserId | None
    see_all: bool = False
    owner_id: UserId | None = None
    category_id: CategoryId | None = None
    tag: str | None = None
    duration: DurationBucket | None = None
    uploaded_since: datetime | None = None
    sort: SearchSort = SearchSort.RELEVANCE
    offset: int = 0
    limit: int = 20
    facets_at: datetime | None = None
    """When given, count the matches' facets, upload dates measured back from it."""


@frozen
class VideoMatch:
    video: Video
    score: float
    """Higher is better; only comparable within one search."""


@frozen
class SearchFacets:
    """How the matches of a search (all of them, under its filters) divide."""

    categories: tuple[tuple[CategoryId, int], ...]
    """Category ids and their counts, most first (uncategorised videos left out)."""
    tags: tuple[tuple[str, int], ...]
    """The :data:`TOP_TAGS` most frequent tags, most first, ties by tag."""
    durations: tuple[tuple[DurationBucket, int], ...]
    """Every bucket, in its order, with its count (videos not yet probed left out)."""
    uploaded: tuple[tuple[UploadedBucket, int], ...]
    """Every bucket, shortest first, with its count (each includes the shorter ones)."""


TOP_TAGS = 20

TAG_COUNT_CAP = 20
"""Completed tags count the videos that carry them up to this many."""


@frozen
class VideoMatches:
    matches: tuple[VideoMatch, ...]
    total: int
    """Every video the search matches, not only this page's (an estimate when
    ``estimated``)."""
    facets: SearchFacets | None = None
    """Counted when the search asked for them (``facets_at``): over every match, or
    when ``estimated``, over the candidates that were looked at."""
    estimated: bool = False
    """The query matches more documents than one search looks at (an index may bound
    that: ranking, counting and faceting every match of a word found everywhere costs
    in proportion); the best candidates, those matching in their title first, were
    ranked, and ``total`` is scaled from them."""
    reachable: int | None = None
    """When ``estimated``: how many matches pages can reach (the visible candidates)."""


@frozen
class KnownWord:
    word: str
    videos: int
    """Indexed videos whose text holds the word."""


@frozen
class Completions:
    """What a query being typed may become, among videos the viewer may see."""

    titles: tuple[str, ...]
    """Titles holding every finished word and a word the last one begins (compared
    by their stems, as the engines index words), most viewed first."""
    tags: tuple[tuple[str, int], ...]
    """Tags that begin with the text typed, and how many of the videos the viewer may
    see carry each (up to :data:`TAG_COUNT_CAP`), most first; ties by tag."""
    queries: tuple[str, ...] = ()
    """Queries others searched that begin with the text typed and found videos everyone
    may see (see :meth:`SearchLog.popular`), most searched first."""


class SearchIndex(Protocol):
    def put_video(self, document: VideoDocument) -> None:
        """Index ``document``, replacing what the video had (idempotent)."""
        ...

    def put_videos(self, documents: Sequence[VideoDocument]) -> None:
        """Index each of ``documents`` as :meth:`put_video` does (one video once), in
        as few writes as the engine allows: for rebuilding the index."""
        ...

    def remove_video(self, video_id: VideoId) -> None:
        """Forget the video (idempotent: a video never indexed is no error)."""
        ...

    def indexed_videos(self) -> int:
        """How many videos the index holds."""
        ...

    def refresh_leaders(self, most_viewed: int) -> int:
        """Where completions are drawn from the most viewed videos of each title word
        as of their indexing: place the ``most_viewed`` most viewed videos everyone may
        see again, with their views now (views are counted apart from the documents).
        How many were placed; an index that looks at every match keeps nothing to
        refresh and places none."""
        ...

    def search_videos(self, search: VideoSearch) -> VideoMatches:
        """The page of videos matching ``search`` that its viewer may see.

        Every word and phrase of the terms must appear (a word also matches its English
        inflections: ``running`` finds ``runs``), folded as :func:`domain.search.fold`
        folds; no excluded word may. Ranked by relevance: title over tags over category
        and owner over description; ``newest`` and ``views`` order by upload time or view
        count instead. ``duration`` keeps videos of that length (probed ones only),
        ``uploaded_since`` those created at or after it. With ``facets_at``, the
        matches' :class:`SearchFacets` come too."""
        ...

    def complete(
        self,
        finished: tuple[str, ...],
        last: str,
        typed: str,
        viewer_id: UserId | None,
        see_all: bool,
        limit: int,
    ) -> Completions:
        """At most ``limit`` titles and ``limit`` tags for a query being typed:
        ``finished`` words (folded) and the ``last`` one being typed; ``typed`` (the
        query folded as tags are stored: case folded, spaces collapsed) for tags.
        Visibility as for :meth:`search_videos`."""
        ...

    def word_counts(self, words: Sequence[str]) -> dict[str, int]:
        """How many indexed videos hold each of ``words`` (folded, unstemmed); words no
        video holds are left out."""
        ...

    def similar_words(self, word: str, budget: int, limit: int = 5) -> list[KnownWord]:
        """Words of the indexed text within ``budget`` edits of ``word``
        (:func:`domain.search.edit_distance`), ``word`` itself excluded, those in most
        videos first; at most ``limit``."""
        ...


@frozen
class QueryStats:
    """One query over a time range: how often it was searched, how many of those
    searches found nothing, how often one of its results was opened."""

    query: str
    searches: int
    zero_results: int
    clicks: int

    @property
    def click_through(self) -> float:
        """Opened results per search (0 when never searched in the range)."""
        return self.clicks / self.searches if self.searches else 0.0


@frozen
class SearchReport:
    top: tuple[QueryStats, ...]
    """The most searched queries, most first, ties by query."""
    zero: tuple[QueryStats, ...]
    """The queries most often searched in vain, most first, ties by query."""


POPULAR_SEARCHES = 3
"""How often a query must have been searched to be offered as a completion."""


class SearchLog(Protocol):
    """Search analytics: queries and opened results, with no user and no address."""

    def record_query(self, query: str, results: int, at: datetime, public: bool = False) -> None:
        """Record a search: its query, how many videos it matched, and whether a video
        everyone may see was among its results (only such queries are ever offered to
        others as completions: a query that found only its asker's private videos
        might tell their titles)."""
        ...

    def popular(self, prefix: str, limit: int) -> list[str]:
        """At most ``limit`` recorded queries that begin with ``prefix``, found videos
        everyone may see, and were searched at least :data:`POPULAR_SEARCHES` times
        (within the retention: :meth:`prune` forgets the others), most searched
        first, ties by query."""
        ...

    def record_click(self, query: str, video_id: VideoId, position: int, at: datetime) -> None: ...

    def report(self, since: datetime, until: datetime, limit: int) -> SearchReport:
        """The ``limit`` most searched and most fruitless queries of [since, until)."""
        ...

    def prune(self, before: datetime) -> int:
        """Forget queries and clicks older than ``before``, and popular queries last
        searched before it; how many rows went."""
        ...
