"""The in-memory search index: documents staged with the unit of work's transaction,
matched word by word the way SQLite's FTS5 matches them (folded words, Porter stems),
ranked by where the words were found."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]

from videoplatform.adapters.memory.database import Transaction, still_popular
from videoplatform.adapters.memory.repositories import MemoryVideoRepository
from videoplatform.application.ports.persistence import VideoListQuery
from videoplatform.application.ports.search import (
    POPULAR_SEARCHES,
    TAG_COUNT_CAP,
    TOP_TAGS,
    Completions,
    KnownWord,
    QueryStats,
    SearchFacets,
    SearchReport,
    SearchSort,
    VideoDocument,
    VideoMatch,
    VideoMatches,
    VideoSearch,
)
from videoplatform.domain.ids import UserId, VideoId
from videoplatform.domain.search import (
    DurationBucket,
    SearchTerms,
    UploadedBucket,
    completes,
    edit_distance,
)
from videoplatform.domain.videos import Video

WEIGHTS = {"title": 10.0, "tags": 5.0, "category": 2.0, "owner_name": 2.0, "description": 1.0}
"""How much a word found in each field counts (as the SQL adapters weigh them)."""

_porter = snowballstemmer.stemmer("porter")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Porter stem of a folded word, as FTS5's ``porter`` tokenizer makes it."""
    stemmed: str = _porter.stemWord(word)
    return stemmed


def _score(fields: dict[str, list[str]], terms: SearchTerms) -> tuple[int, float] | None:
    """How well the document's words match ``terms``, None when they do not: 1 when the
    title holds every wanted word and phrase (0 otherwise), then the weighted hits."""
    stems = {name: [stem(w) for w in found] for name, found in fields.items()}
    every = {s for found in stems.values() for s in found}
    if any(stem(word) in every for word in terms.excluded):
        return None
    score = 0.0
    for word in terms.wanted:
        wanted = stem(word)
        hits = sum(WEIGHTS[name] * found.count(wanted) for name, found in stems.items())
        if not hits:
            return None
        score += hits
    for phrase in terms.phrases:
        wanted_run = [stem(w) for w in phrase]
        if not any(_contains(found, wanted_run) for found in stems.values()):
            return None
    title = stems["title"]
    titled = all(stem(w) in title for w in terms.words) and all(
        _contains(title, [stem(w) for w in phrase]) for phrase in terms.phrases
    )
    return int(titled), score


def _contains(found: list[str], run: list[str]) -> bool:
    width = len(run)
    return any(found[i : i + width] == run for i in range(len(found) - width + 1))


class MemorySearchIndex:
    """The search index of one memory transaction (``uow.search``)."""

    def __init__(self, tx: Transaction, videos: MemoryVideoRepository) -> None:
        self._tx = tx
        self._videos = videos

    def _documents(self) -> dict[str, VideoDocument]:
        with self._tx.db.lock:
            documents = dict(self._tx.db.search)
        for video_id, staged in self._tx.search.items():
            if staged is None:
                documents.pop(video_id, None)
            else:
                documents[video_id] = staged
        return documents

    def put_video(self, document: VideoDocument) -> None:
        # Written at the commit unless a later version is indexed by then.
        self._tx.search[str(document.video_id)] = document

    def put_videos(self, documents: Sequence[VideoDocument]) -> None:
        for document in documents:
            self.put_video(document)

    def remove_video(self, video_id: VideoId) -> None:
        self._tx.search[str(video_id)] = None

    def indexed_videos(self) -> int:
        return len(self._documents())

    def refresh_leaders(self, most_viewed: int) -> int:
        return 0  # completions look at every title, with its views now

    def search_videos(self, search: VideoSearch) -> VideoMatches:
        scores: dict[str, tuple[int, float]] = {}
        for video_id, document in self._documents().items():
            score = _score(document.words_by_field(), search.terms)
            if score is not None:
                scores[video_id] = score
        listed = VideoListQuery(
            viewer_id=search.viewer_id,
            see_all=search.see_all,
            owner_id=search.owner_id,
            category_id=search.category_id,
            tag=search.tag,
        )
        found = [v for v in self._videos.listed(listed, scores) if _narrowed(v, search)]
        found.sort(key=lambda video: _order(video, scores[video.id], search.sort), reverse=True)
        page = found[search.offset : search.offset + search.limit]
        return VideoMatches(
            tuple(VideoMatch(video, scores[video.id][1]) for video in page),
            total=len(found),
            facets=None if search.facets_at is None else _facets(found, search.facets_at),
        )

    def complete(
        self,
        finished: tuple[str, ...],
        last: str,
        typed: str,
        viewer_id: UserId | None,
        see_all: bool,
        limit: int,
    ) -> Completions:
        documents = self._documents()
        seen_by = VideoListQuery(viewer_id=viewer_id, see_all=see_all)
        visible = self._videos.listed(seen_by, documents)
        titles: list[str] = []
        if last:
            fitting = [v for v in visible if completes(documents[v.id].title, finished, last)]
            fitting.sort(key=lambda v: (v.view_count, v.id), reverse=True)
            titles = list(dict.fromkeys(v.title for v in fitting))[:limit]
        every = self._videos.listed(seen_by, self._videos.all_ids()) if typed else []
        tags = Counter(t for v in every for t in v.tags if t.startswith(typed))
        capped = {tag: min(n, TAG_COUNT_CAP) for tag, n in tags.items()}
        ranked = sorted(capped.items(), key=lambda t: (-t[1], t[0]))[:limit]
        return Completions(tuple(titles), tuple(ranked))

    def _word_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for document in self._documents().values():
            for known in set(_words_of(document.words_by_field().values())):
                counts[known] = counts.get(known, 0) + 1
        return counts

    def word_counts(self, words: Sequence[str]) -> dict[str, int]:
        counts = self._word_counts()
        return {w: counts[w] for w in words if w in counts}

    def similar_words(self, word: str, budget: int, limit: int = 5) -> list[KnownWord]:
        counts = self._word_counts()
        near = [
            KnownWord(known, count)
            for known, count in counts.items()
            if known != word and edit_distance(word, known, budget) <= budget
        ]
        near.sort(key=lambda k: (-k.videos, edit_distance(word, k.word, budget), k.word))
        return near[:limit]


def _duration(video: Video) -> float | None:
    return None if video.media_info is None else video.media_info.duration_seconds


def _narrowed(video: Video, search: VideoSearch) -> bool:
    if search.duration is not None:
        seconds = _duration(video)
        if seconds is None or DurationBucket.of(seconds) is not search.duration:
            return False
    return search.uploaded_since is None or video.created_at >= search.uploaded_since


def _facets(found: list[Video], now: datetime) -> SearchFacets:
    categories = Counter(v.category_id for v in found if v.category_id is not None)
    tags = Counter(tag for v in found for tag in v.tags)
    durations = Counter(
        DurationBucket.of(seconds) for v in found if (seconds := _duration(v)) is not None
    )
    return SearchFacets(
        categories=tuple(sorted(categories.items(), key=lambda c: (-c[1], c[0]))),
        tags=tuple(sorted(tags.items(), key=lambda t: (-t[1], t[0]))[:TOP_TAGS]),
        durations=tuple((bucket, durations[bucket]) for bucket in DurationBucket),
        uploaded=tuple(
            (bucket, sum(1 for v in found if v.created_at >= now - bucket.within))
            for bucket in UploadedBucket
        ),
    )


def _words_of(fields: Iterable[list[str]]) -> Iterable[str]:
    for found in fields:
        yield from found


def _order(video: Video, score: tuple[int, float], sort: SearchSort) -> tuple[object, ...]:
    """Descending order: the sort's key, then the id (ties never straddle pages)."""
    if sort is SearchSort.NEWEST:
        return (video.created_at, video.id)
    if sort is SearchSort.VIEWS:
        return (video.view_count, video.id)
    return (*score, video.id)


class MemorySearchLog:
    """Search analytics of one memory transaction (``uow.search_log``)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def _rows(self) -> tuple[list[tuple[str, int, datetime]], list[tuple[str, str, int, datetime]]]:
        with self._tx.db.lock:
            queries, clicks = list(self._tx.db.search_queries), list(self._tx.db.search_clicks)
        before = self._tx.search_log_pruned_before
        if before is not None:
            queries = [q for q in queries if q[2] >= before]
            clicks = [c for c in clicks if c[3] >= before]
        return queries + self._tx.search_queries, clicks + self._tx.search_clicks

    def record_query(self, query: str, results: int, at: datetime, public: bool = False) -> None:
        self._tx.search_queries.append((query, results, at))
        if public:
            self._tx.search_popular.append((query, at))

    def popular(self, prefix: str, limit: int) -> list[str]:
        if not prefix:
            return []
        with self._tx.db.lock:
            recorded = list(self._tx.db.search_popular)
        before = self._tx.search_log_pruned_before
        if before is not None:
            recorded = still_popular(recorded, before)
        counts = Counter(
            query for query, _ in recorded + self._tx.search_popular if query.startswith(prefix)
        )
        fitting = [q for q, n in counts.items() if n >= POPULAR_SEARCHES]
        return sorted(fitting, key=lambda q: (-counts[q], q))[:limit]

    def record_click(self, query: str, video_id: VideoId, position: int, at: datetime) -> None:
        self._tx.search_clicks.append((query, str(video_id), position, at))

    def report(self, since: datetime, until: datetime, limit: int) -> SearchReport:
        queries, clicks = self._rows()
        searches: Counter[str] = Counter()
        zero: Counter[str] = Counter()
        for query, results, at in queries:
            if since <= at < until:
                searches[query] += 1
                zero[query] += results == 0
        opened = Counter(c[0] for c in clicks if since <= c[3] < until)

        def stats(query: str) -> QueryStats:
            return QueryStats(query, searches[query], zero[query], opened[query])

        top = sorted(searches, key=lambda q: (-searches[q], q))[:limit]
        fruitless = sorted((q for q in zero if zero[q]), key=lambda q: (-zero[q], q))[:limit]
        return SearchReport(tuple(map(stats, top)), tuple(map(stats, fruitless)))

    def prune(self, before: datetime) -> int:
        queries, clicks = self._rows()
        gone = sum(1 for q in queries if q[2] < before) + sum(1 for c in clicks if c[3] < before)
        current = self._tx.search_log_pruned_before
        self._tx.search_log_pruned_before = before if current is None else max(current, before)
        self._tx.search_queries = [q for q in self._tx.search_queries if q[2] >= before]
        self._tx.search_clicks = [c for c in self._tx.search_clicks if c[3] >= before]
        with self._tx.db.lock:
            popular = list(self._tx.db.search_popular)
        popular += self._tx.search_popular
        kept = still_popular(popular, before)
        gone += len({q for q, _ in popular}) - len({q for q, _ in kept})
        self._tx.search_popular = still_popular(self._tx.search_popular, before)
        return gone
