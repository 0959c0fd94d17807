"""Search: ranked videos for a query, with typos corrected, and the index kept current
by committed events.

The index holds text only; who may see a video is decided in the query against the
video's live row (see :mod:`.ports.search`). A change reaches the index through the
``search.index`` subscription: after its commit, wherever that subscription runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import attrs
from attrs import frozen

from videoplatform.application.concurrency import retry_stale
from videoplatform.application.context import Caller, current_user, require_permission
from videoplatform.application.essentials import Essentials, UseCases
from videoplatform.application.events.consumer import DurableHandler
from videoplatform.application.events.deferred import DeferredEvents
from videoplatform.application.pagination import clamp_limit, decode_cursor, encode_cursor
from videoplatform.application.ports.persistence import (
    UnitOfWork,
    UnitOfWorkFactory,
    VideoListQuery,
)
from videoplatform.application.ports.queue import Subscription
from videoplatform.application.ports.search import (
    Completions,
    SearchFacets,
    SearchReport,
    SearchSort,
    VideoDocument,
    VideoMatches,
    VideoSearch,
)
from videoplatform.domain.errors import NotFound, ValidationError
from videoplatform.domain.events import (
    DomainEvent,
    SearchPerformed,
    SearchResultOpened,
    UserDisabled,
    UserEnabled,
    UserProfileChanged,
    VideoDeleted,
    VideoEvent,
)
from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.search import (
    MAX_QUERY_WORDS,
    DurationBucket,
    SearchTerms,
    UploadedBucket,
    fold,
    parse_query,
    typo_budget,
    words,
)
from videoplatform.domain.users import Permission
from videoplatform.domain.videos import Video, VideoStatus, Visibility, normalize_tag

FEW_RESULTS = 3
"""Fewer matches than this, and the query's unknown words are checked for typos."""

MAX_OFFSET = 1000
"""How deep pages of one search go: ranked results past the thousandth are noise, and
each page costs the engine every result before it."""

SNIPPET_CHARACTERS = 160

SUGGESTIONS = 8
MAX_SUGGESTIONS = 20

SEARCH_LOG_KEPT = timedelta(days=90)
"""How long search analytics keep a query or an opened result (the default of the
``search_log_days`` setting)."""
REINDEX_BATCH = 500
"""Videos a rebuild of the index reads and writes per transaction."""
LEADERS_REFRESHED = 1_000
"""The most viewed public videos that each sweep of the workers lets into the
completions of their titles' words with their views now."""
MAX_REPORT_ROWS = 100
REPORT_RANGE = timedelta(days=7)
MAX_POSITION = MAX_OFFSET + 100
MAX_VIDEO_ID = 64
"""The longest video id (the column's width); the platform's own are 26 characters."""

SEARCH_INDEX = Subscription(
    "search.index",
    (
        "VideoUploaded",
        "VideoUpdated",
        "VideoDeleted",
        "VideoProcessingStarted",
        "VideoReady",
        "VideoFailed",
        "VideoRequeued",
        "UserProfileChanged",
        "UserDisabled",
        "UserEnabled",
    ),
)
"""The index follows what videos say and what they are called, whether everyone may see
them (their state, their owner's), and their owners' names."""
OWNER_BATCH = 500
"""Videos of a renamed owner indexed again per transaction."""


@frozen
class SearchVideos:
    query: str
    owner_id: UserId | None = None
    category_id: CategoryId | None = None
    tag: str | None = None
    duration: DurationBucket | None = None
    uploaded: UploadedBucket | None = None
    """Uploaded within the last hour, day, week, month or year."""
    sort: SearchSort = SearchSort.RELEVANCE


@frozen
class Facets:
    """How all the matches divide (under the search's filters): category (id, name,
    count), the top tags, length and upload-date buckets (see
    :class:`~videoplatform.application.ports.search.SearchFacets`)."""

    categories: tuple[tuple[CategoryId, str, int], ...]
    tags: tuple[tuple[str, int], ...]
    durations: tuple[tuple[DurationBucket, int], ...]
    uploaded: tuple[tuple[UploadedBucket, int], ...]


@frozen
class Highlighted:
    """Text with the character ranges (start, end) that matched the query."""

    text: str
    matches: tuple[tuple[int, int], ...]


@frozen
class VideoResult:
    video: Video
    score: float
    title: Highlighted
    snippet: Highlighted
    """A window of the description around its first match (its start when none)."""


@frozen
class VideoResults:
    results: tuple[VideoResult, ...]
    total: int
    total_is_estimate: bool
    """The query matched more than one search looks at: ``total`` is scaled from the
    best candidates, and facets count those."""
    next_cursor: str | None
    query: str
    """The query the results are for: the one asked, or its correction."""
    corrected_from: str | None = None
    """The query as asked, when it found nothing and its correction is shown instead."""
    did_you_mean: str | None = None
    """A correction that finds more than the few results of the query as asked."""
    facets: Facets | None = None
    """With the first page only (they are the same for every page)."""


@frozen
class OpenedResult:
    """A result of a search was opened: the query as the results page gave it, the
    video, its position (1 for the first)."""

    query: str
    video_id: VideoId
    position: int


class SearchService(UseCases):
    def __init__(self, essentials: Essentials, deferred: DeferredEvents) -> None:
        super().__init__(essentials)
        self._deferred = deferred

    def videos(
        self,
        caller: Caller,
        command: SearchVideos,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> VideoResults:
        """Videos matching ``command.query`` that the caller may see, best first (or
        newest, or most viewed); ValidationError for a query
        :func:`domain.search.parse_query` refuses."""
        size = clamp_limit(limit)
        terms = parse_query(command.query)
        offset = _offset(cursor) if cursor else 0
        if not terms.wanted:  # excluded words only: nothing to look for
            return VideoResults((), 0, False, None, terms.text())
        now = self._clock.now()
        since = now - command.uploaded.within if command.uploaded else None
        with self._uow() as uow:
            user = current_user(uow, caller)

            def search(wanted: SearchTerms) -> VideoMatches:
                return uow.search.search_videos(
                    VideoSearch(
                        wanted,
                        viewer_id=user.id if user and user.can(Permission.VIDEO_UPLOAD) else None,
                        see_all=bool(user and user.can(Permission.VIDEO_MODERATE)),
                        owner_id=command.owner_id,
                        category_id=command.category_id,
                        tag=normalize_tag(command.tag) if command.tag else None,
                        duration=command.duration,
                        uploaded_since=since,
                        sort=command.sort,
                        offset=offset,
                        limit=size,
                        facets_at=now if offset == 0 else None,
                    )
                )

            found, shown = search(terms), terms
            asked = found.total
            corrected_from = did_you_mean = None
            if found.total < FEW_RESULTS:
                fixed = _corrected(uow, terms)
                if fixed is not None:
                    better = search(fixed)
                    if found.total == 0 and better.total > 0:
                        found, shown, corrected_from = better, fixed, terms.text()
                    elif better.total > found.total:
                        did_you_mean = fixed.text()
            facets = _named(uow, found.facets) if found.facets is not None else None
        if offset == 0:  # one search, however many pages it is read in
            public = any(_public(m.video) for m in found.matches) and shown is terms
            self._deferred.publish(SearchPerformed(now, terms.text(), asked, public))
        reachable = found.total if found.reachable is None else found.reachable
        more = reachable > offset + size and offset + size < MAX_OFFSET
        return VideoResults(
            tuple(
                VideoResult(
                    m.video,
                    m.score,
                    highlight(m.video.title, shown),
                    snippet(m.video.description, shown),
                )
                for m in found.matches
            ),
            total=found.total,
            total_is_estimate=found.estimated,
            next_cursor=encode_cursor("search", [offset + size]) if more else None,
            query=shown.text(),
            corrected_from=corrected_from,
            did_you_mean=did_you_mean,
            facets=facets,
        )

    def suggest(self, caller: Caller, typed: str, limit: int = SUGGESTIONS) -> Completions:
        """Completions of a query being typed: titles and tags of videos the caller may
        see (the last word taken as the start of a word), and popular queries that
        found videos everyone may see. ValidationError for what
        :func:`domain.search.parse_query` refuses."""
        if not 1 <= limit <= MAX_SUGGESTIONS:
            raise ValidationError.field("limit", f"must be between 1 and {MAX_SUGGESTIONS}")
        parse_query(typed)  # the same rules as a search
        found = words(typed)
        ends_in_word = bool(typed) and typed[-1].isalnum()
        finished, last = (found[:-1], found[-1]) if found and ends_in_word else (found, "")
        with self._uow() as uow:
            user = current_user(uow, caller)
            completed = uow.search.complete(
                tuple(finished[:MAX_QUERY_WORDS]),
                last,
                normalize_tag(typed),
                user.id if user and user.can(Permission.VIDEO_UPLOAD) else None,
                bool(user and user.can(Permission.VIDEO_MODERATE)),
                limit,
            )
            # Queries are recorded as their words written back (SearchTerms.text()).
            begun = " ".join(found) + (" " if found and not ends_in_word else "")
            queries = uow.search_log.popular(begun, limit)
        return attrs.evolve(completed, queries=tuple(queries))

    def record_opened(self, caller: Caller, opened: OpenedResult) -> None:
        """Count an opened result for search analytics (after the caller is answered;
        nothing about the caller is kept). ValidationError for a query
        :func:`domain.search.parse_query` refuses or a position out of 1..MAX_POSITION."""
        terms = parse_query(opened.query, "query")
        if not 1 <= len(opened.video_id) <= MAX_VIDEO_ID:
            raise ValidationError.field("video_id", f"must be 1 to {MAX_VIDEO_ID} characters")
        if not 1 <= opened.position <= MAX_POSITION:
            raise ValidationError.field("position", f"must be between 1 and {MAX_POSITION}")
        now = self._clock.now()
        self._deferred.publish(
            SearchResultOpened(now, terms.text(), opened.video_id, opened.position)
        )

    def analytics(
        self,
        caller: Caller,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 20,
    ) -> tuple[datetime, datetime, SearchReport]:
        """The most searched and most fruitless queries of [since, until) (by default
        the last :data:`REPORT_RANGE` up to now), with their click-through, and the
        range (administrators: SEARCH_ANALYTICS)."""
        until = until or self._clock.now()
        since = since or until - REPORT_RANGE
        with self._uow() as uow:
            require_permission(uow, caller, Permission.SEARCH_ANALYTICS)
            if until <= since:
                raise ValidationError.field("until", "must be after since")
            if not 1 <= limit <= MAX_REPORT_ROWS:
                raise ValidationError.field("limit", f"must be between 1 and {MAX_REPORT_ROWS}")
            return since, until, uow.search_log.report(since, until, limit)

    def refresh_completions(self, most_viewed: int = LEADERS_REFRESHED) -> int:
        """Let the ``most_viewed`` most viewed public videos, with their views now,
        into the completions of their titles' words (see
        :meth:`SearchIndex.refresh_leaders`); how many were placed."""
        with self._uow() as uow:
            placed = uow.search.refresh_leaders(most_viewed)
            uow.commit()
        return placed

    def prune_log(self, kept: timedelta = SEARCH_LOG_KEPT) -> int:
        """Forget queries and opened results older than ``kept``; how many rows went."""
        with self._uow() as uow:
            gone = uow.search_log.prune(self._clock.now() - kept)
            uow.commit()
        return gone

    def reindex(
        self, progress: Callable[[int, int], None] | None = None, batch: int = REINDEX_BATCH
    ) -> int:
        """Index every video again, from the database, ``batch`` videos a transaction
        (safe while the platform runs: a batch reads its videos and writes their
        documents in one transaction, as the handler does for one);
        ``progress(done, total)`` after each batch. How many were indexed."""
        with self._uow() as uow:
            total = sum(uow.videos.count_by_status().values())
        owners: dict[UserId, str] = {}
        done, after = 0, None
        while True:
            with self._uow() as uow:
                videos = uow.videos.page_by_id(after, batch)
                if not videos:
                    return done
                categories = {c.id: c.name for c in uow.categories.list_all()}
                documents = []
                for video in videos:
                    if video.owner_id not in owners:
                        owners[video.owner_id] = _owner_name(uow, video.owner_id)
                    category = categories.get(video.category_id, "") if video.category_id else ""
                    documents.append(_document(video, owners[video.owner_id], category))
                uow.search.put_videos(documents)
                uow.commit()
            done, after = done + len(videos), videos[-1].id
            if progress is not None:
                progress(done, max(done, total))


def _public(video: Video) -> bool:
    """Whether everyone may see the video (as the public lists show it)."""
    return (
        video.visibility is Visibility.PUBLIC
        and video.status is VideoStatus.READY
        and not video.owner_disabled
    )


def _named(uow: UnitOfWork, facets: SearchFacets) -> Facets:
    names = {c.id: c.name for c in uow.categories.list_all()} if facets.categories else {}
    return Facets(
        tuple((c, names.get(c, ""), n) for c, n in facets.categories),
        facets.tags,
        facets.durations,
        facets.uploaded,
    )


def _offset(cursor: str) -> int:
    key = decode_cursor("search", cursor)
    offset = key[0] if len(key) == 1 else None
    if not isinstance(offset, int) or not 0 < offset <= MAX_OFFSET:
        raise ValidationError.field("cursor", "malformed cursor")
    return offset


def _corrected(uow: UnitOfWork, terms: SearchTerms) -> SearchTerms | None:
    """``terms`` with each rare word (held by fewer than :data:`FEW_RESULTS` indexed
    videos, none included) replaced by the indexed word a few edits away that the most
    videos hold, where that is more of them; None when no word has such a neighbour."""
    counts = uow.search.word_counts([w for w in terms.wanted if typo_budget(w)])
    corrections = {}
    for word in terms.wanted:
        budget, held = typo_budget(word), counts.get(word, 0)
        if not budget or held >= FEW_RESULTS:
            continue
        near = uow.search.similar_words(word, budget, 1)
        if near and near[0].videos > held:
            corrections[word] = near[0].word
    return terms.replacing(corrections) if corrections else None


def highlight(text: str, terms: SearchTerms) -> Highlighted:
    """``text`` with the ranges of its words that match a word of ``terms``: equal once
    folded, or one the start of the other when the shorter has four letters or more
    (``runs``, ``running``: the engines match inflections by their stems)."""
    wanted = terms.wanted
    spans = [(start, end) for start, end, word in _words_at(text) if _matches(word, wanted)]
    return Highlighted(text, tuple(spans))


def snippet(text: str, terms: SearchTerms, width: int = SNIPPET_CHARACTERS) -> Highlighted:
    """At most ``width`` characters of ``text`` around its first match (from its start
    when nothing matches), cut at word boundaries, with the matches' ranges."""
    whole = highlight(text, terms)
    first = whole.matches[0][0] if whole.matches else 0
    start = max(0, first - width // 4)
    if start:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 20 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    window = text[start:end]
    spans = tuple((a - start, b - start) for a, b in whole.matches if a >= start and b <= end)
    return Highlighted(window, spans)


def _words_at(text: str) -> list[tuple[int, int, str]]:
    found = []
    start = None
    for i, char in enumerate(text):
        if char.isalnum():
            if start is None:
                start = i
        elif start is not None:
            found.append((start, i, fold(text[start:i])))
            start = None
    if start is not None:
        found.append((start, len(text), fold(text[start:])))
    return found


def _matches(word: str, wanted: tuple[str, ...]) -> bool:
    for each in wanted:
        if word == each:
            return True
        shorter, longer = sorted((word, each), key=len)
        if len(shorter) >= 4 and longer.startswith(shorter):
            return True
    return False


@frozen
class SearchLogRecorder:
    """Writes search analytics, handling the deferred events the search service
    publishes (``search.record_query``, ``search.record_click``)."""

    uow: UnitOfWorkFactory

    def query(self, event: SearchPerformed) -> None:
        with self.uow() as uow:
            uow.search_log.record_query(event.query, event.results, event.occurred_at, event.public)
            uow.commit()

    def click(self, event: SearchResultOpened) -> None:
        with self.uow() as uow:
            uow.search_log.record_click(
                event.query, event.video_id, event.position, event.occurred_at
            )
            uow.commit()


def index_video(uow_factory: UnitOfWorkFactory, video_id: VideoId) -> None:
    """Write the video's document (or take it out when the video is gone)."""

    def write() -> None:
        with uow_factory() as uow:
            try:
                video = uow.videos.get(video_id)
            except NotFound:
                uow.search.remove_video(video_id)
                uow.commit()
                return
            uow.search.put_video(
                _document(video, _owner_name(uow, video.owner_id), _category_name(uow, video))
            )
            uow.commit()

    retry_stale(3, write)


def _category_name(uow: UnitOfWork, video: Video) -> str:
    if video.category_id is None:
        return ""
    try:
        return uow.categories.get(video.category_id).name
    except NotFound:
        return ""


def _owner_name(uow: UnitOfWork, owner_id: UserId) -> str:
    try:
        return uow.users.get(owner_id).display_name
    except NotFound:
        return ""


def _document(video: Video, owner_name: str, category: str) -> VideoDocument:
    return VideoDocument(
        video.id,
        video.title,
        video.description,
        video.tags,
        category,
        owner_name,
        version=video.version,
    )


@frozen
class SearchIndexing:
    """The ``search.index`` handler: a video's document follows its changes."""

    uow: UnitOfWorkFactory

    def __call__(self, event: DomainEvent) -> None:
        if isinstance(event, VideoDeleted):

            def remove() -> None:
                with self.uow() as uow:
                    uow.search.remove_video(event.video_id)
                    uow.commit()

            retry_stale(3, remove)
        elif isinstance(event, VideoEvent):
            index_video(self.uow, event.video_id)
        elif (isinstance(event, UserProfileChanged) and event.renamed) or isinstance(
            event, (UserDisabled, UserEnabled)
        ):
            index_owner(self.uow, event.user_id)


def index_owner(uow_factory: UnitOfWorkFactory, owner_id: UserId) -> None:
    """Write again the documents of every video of ``owner_id`` (their owner's name is
    in each, and whether everyone may see it, which their owner's being disabled
    decides too), a batch per transaction."""

    def batch(after: tuple[datetime | int, str] | None) -> list[Video]:
        with uow_factory() as uow:
            query = VideoListQuery(None, see_all=True, owner_id=owner_id, after=after)
            videos = uow.videos.list_page(query, OWNER_BATCH)
            name = _owner_name(uow, owner_id)
            uow.search.put_videos([_document(v, name, _category_name(uow, v)) for v in videos])
            uow.commit()
            return videos

    after: tuple[datetime | int, str] | None = None
    while True:
        done = retry_stale(3, partial(batch, after))
        if len(done) < OWNER_BATCH:
            return
        after = (done[-1].created_at, done[-1].id)


def search_indexing(uow: UnitOfWorkFactory) -> DurableHandler:
    return DurableHandler(SEARCH_INDEX, SearchIndexing(uow))
