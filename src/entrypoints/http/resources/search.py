"""Search: ``GET /api/v1/search``, ranked videos with their matches marked."""

from __future__ import annotations

import functools
from datetime import datetime

import falcon
from attrs import field, frozen

from videoplatform.application.files import FileService
from videoplatform.application.ports.search import QueryStats, SearchSort
from videoplatform.application.search import (
    MAX_POSITION,
    MAX_REPORT_ROWS,
    MAX_SUGGESTIONS,
    MAX_VIDEO_ID,
    SUGGESTIONS,
    Facets,
    Highlighted,
    OpenedResult,
    SearchService,
    SearchVideos,
    VideoResults,
)
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.search import (
    MAX_QUERY_LENGTH,
    MAX_QUERY_WORDS,
    DurationBucket,
    UploadedBucket,
    holds_a_word,
)
from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.convert import dump, read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Param, Reply, Route
from videoplatform.entrypoints.http.resources.common import (
    API,
    CURSOR,
    CURSOR_LENGTH,
    LIMIT,
    HttpContext,
    enum_param,
    no_content,
    query_choice,
    query_instant,
    query_int,
    query_str,
    reply,
)
from videoplatform.entrypoints.http.resources.videos import FILTER_PARAMS
from videoplatform.entrypoints.http.schema import Schema, char_class
from videoplatform.entrypoints.http.uploads import authenticated
from videoplatform.entrypoints.http.views import FileView, VideoView


@functools.cache
def query_rules() -> Schema:
    """``q``: at most MAX_QUERY_LENGTH characters, one of them a letter or a digit."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_QUERY_LENGTH,
        "pattern": f"[{char_class('query_word', holds_a_word)}]",
    }


@frozen
class HighlightedView:
    """Text and the ranges of it that matched, as [start, end) character offsets."""

    text: str
    matches: list[list[int]]

    @classmethod
    def of(cls, highlighted: Highlighted) -> HighlightedView:
        return cls(highlighted.text, [[start, end] for start, end in highlighted.matches])


@frozen
class SearchResultView:
    video: VideoView
    score: float
    title: HighlightedView
    snippet: HighlightedView


@frozen
class CategoryCount:
    id: str
    name: str
    count: int


@frozen
class TagCount:
    tag: str
    count: int


@frozen
class BucketCount:
    bucket: str
    count: int


@frozen
class FacetsView:
    """How all the matches divide under the search's filters (first page only):
    categories (uncategorised videos left out), the 20 most frequent tags, lengths
    (`short` under 4 minutes, `medium` 4 to 20, `long` over 20; videos not yet probed
    left out) and upload dates (within the last `hour`, `day`, `week`, `month`, `year`,
    each counting the shorter ones)."""

    categories: list[CategoryCount]
    tags: list[TagCount]
    durations: list[BucketCount]
    uploaded: list[BucketCount]

    @classmethod
    def of(cls, facets: Facets) -> FacetsView:
        return cls(
            [CategoryCount(c, name, n) for c, name, n in facets.categories],
            [TagCount(tag, n) for tag, n in facets.tags],
            [BucketCount(b.value, n) for b, n in facets.durations],
            [BucketCount(b.value, n) for b, n in facets.uploaded],
        )


@frozen
class SearchPage:
    """One page of a search; send ``next_cursor`` back as ``cursor`` with the same query
    for the next one. ``total_is_estimate`` is true when the query matches more videos
    than one search looks at (300 on the SQL engines, those matching in their title
    first): the results are ranked among those, ``total`` is scaled from them, and the
    facets count them."""

    items: list[SearchResultView]
    total: int
    total_is_estimate: bool
    query: str
    corrected_from: str | None = None
    did_you_mean: str | None = None
    facets: FacetsView | None = None
    next_cursor: str | None = None

    @classmethod
    def of(cls, found: VideoResults) -> SearchPage:
        return cls(
            [
                SearchResultView(
                    VideoView.of(r.video),
                    round(r.score, 6),
                    HighlightedView.of(r.title),
                    HighlightedView.of(r.snippet),
                )
                for r in found.results
            ],
            total=found.total,
            total_is_estimate=found.total_is_estimate,
            query=found.query,
            corrected_from=found.corrected_from,
            did_you_mean=found.did_you_mean,
            facets=FacetsView.of(found.facets) if found.facets is not None else None,
            next_cursor=found.next_cursor,
        )


@frozen
class FileMatches:
    """The caller's files whose name and folder match the query: those matching by
    name first, then by folder and name."""

    items: list[FileView]


class FileSearch:
    def __init__(self, files: FileService) -> None:
        self._files = files

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = authenticated(req)  # who asks is decided before what is asked
        found = self._files.search(
            caller, query_str(req, "q", MAX_QUERY_LENGTH) or "", query_int(req, "limit")
        )
        reply(resp, dump(FileMatches([FileView.of(f) for f in found])))


def _required_query(req: falcon.Request) -> str:
    query = query_str(req, "q", MAX_QUERY_LENGTH)
    if query is None:
        raise ValidationError.field("q", "is required")
    return query


class Search:
    def __init__(self, search: SearchService) -> None:
        self._search = search

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = caller_of(req)
        query = _required_query(req)
        owner = query_str(req, "owner")
        if owner == "me":
            owner = authenticated(req).user_id
        command = SearchVideos(
            query,
            owner_id=UserId(owner) if owner else None,
            category_id=CategoryId(c) if (c := query_str(req, "category")) else None,
            tag=query_str(req, "tag"),
            duration=query_choice(req, "duration", DurationBucket),
            uploaded=query_choice(req, "uploaded", UploadedBucket),
            sort=query_choice(req, "sort", SearchSort) or SearchSort.RELEVANCE,
        )
        found = self._search.videos(
            caller, command, query_str(req, "cursor", CURSOR_LENGTH), query_int(req, "limit")
        )
        reply(resp, dump(SearchPage.of(found)))


@frozen
class SuggestionsView:
    """Completions of a query being typed, among videos the caller may see: titles
    holding its finished words and a word its last one begins (the most viewed of a
    hundred such titles), tags that begin with it (most used first; `count` goes up to
    20), and queries that begin with it, searched by others at least 3 times with
    results everyone may see (most searched first)."""

    titles: list[str]
    tags: list[TagCount]
    queries: list[str]


class Suggestions:
    def __init__(self, search: SearchService) -> None:
        self._search = search

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = caller_of(req)
        typed = _required_query(req)
        limit = query_int(req, "limit", SUGGESTIONS)
        found = self._search.suggest(caller, typed, SUGGESTIONS if limit is None else limit)
        view = SuggestionsView(
            list(found.titles), [TagCount(t, n) for t, n in found.tags], list(found.queries)
        )
        reply(resp, dump(view))


@frozen
class OpenedBody:
    """A result of a search was opened: the page's ``query``, the video, its position
    (1 for the first result)."""

    query: str = field(metadata={"schema": query_rules})
    video_id: str = field(metadata={"schema": {"minLength": 1, "maxLength": MAX_VIDEO_ID}})
    position: int = field(metadata={"schema": {"minimum": 1, "maximum": MAX_POSITION}})


class Clicks:
    def __init__(self, search: SearchService, json_limit: int) -> None:
        self._search = search
        self._json_limit = json_limit

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, OpenedBody, self._json_limit)
        opened = OpenedResult(body.query, VideoId(body.video_id), body.position)
        self._search.record_opened(caller_of(req), opened)
        no_content(resp)


@frozen
class QueryStatsView:
    query: str
    searches: int
    zero_results: int
    clicks: int
    click_through: float


@frozen
class SearchReportView:
    """The most searched queries and those most often searched in vain over
    [since, until), with how often one of their results was opened per search."""

    since: datetime
    until: datetime
    top: list[QueryStatsView]
    zero: list[QueryStatsView]


class Analytics:
    def __init__(self, search: SearchService) -> None:
        self._search = search

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = authenticated(req)
        limit = query_int(req, "limit", 20)
        since, until, report = self._search.analytics(
            caller,
            query_instant(req, "since"),
            query_instant(req, "until"),
            20 if limit is None else limit,
        )

        def view(stats: QueryStats) -> QueryStatsView:
            return QueryStatsView(
                stats.query,
                stats.searches,
                stats.zero_results,
                stats.clicks,
                round(stats.click_through, 4),
            )

        reply(
            resp,
            dump(
                SearchReportView(
                    since, until, [view(s) for s in report.top], [view(s) for s in report.zero]
                )
            ),
        )


def _params() -> tuple[Param, ...]:
    return (
        Param(
            "q",
            "query",
            query_rules,
            'the query: words, "exact phrases" and -excluded words; any other character '
            f"is text. Words past the first {MAX_QUERY_WORDS} are left out.",
            required=True,
        ),
        *FILTER_PARAMS,
        enum_param("duration", DurationBucket, "length: short (< 4 min), medium, long (> 20)"),
        enum_param("uploaded", UploadedBucket, "uploaded within the last hour, day..."),
        enum_param("sort", SearchSort, "order (default relevance)"),
        CURSOR,
        LIMIT,
    )


def routes(c: HttpContext) -> list[Route]:
    suggest_limit = {"type": "integer", "minimum": 1, "maximum": MAX_SUGGESTIONS}
    report_limit = {"type": "integer", "minimum": 1, "maximum": MAX_REPORT_ROWS}
    instant = {"type": "string", "format": "date-time"}
    return [
        Route(
            f"{API}/search/clicks",
            Clicks(c.platform.search, c.json_limit),
            (
                Operation(
                    "POST",
                    "Count an opened search result",
                    "search",
                    (Reply(204, "Counted (after the answer; nothing about the caller is kept)"),),
                    body=Body(OpenedBody),
                    errors=(401, 413, 415, 422),
                    scope=Scope.READ,
                ),
            ),
        ),
        Route(
            f"{API}/search/analytics",
            Analytics(c.platform.search),
            (
                Operation(
                    "GET",
                    "What people search for",
                    "search",
                    (Reply(200, "Top and fruitless queries of the range", SearchReportView),),
                    params=(
                        Param("since", "query", instant, "inclusive (default: until - 7 days)"),
                        Param(
                            "until",
                            "query",
                            instant,
                            "exclusive (default: now); must be later than since (else 422)",
                        ),
                        Param("limit", "query", report_limit, "queries per list (default 20)"),
                    ),
                    auth="required",
                    errors=(403, 422),
                    description=(
                        "Administrators. Queries are kept as the engine read them (words "
                        "folded), with no user and no address, for "
                        "VIDEOPLATFORM_SEARCH_LOG_DAYS days."
                    ),
                    scope=Scope.ADMIN,
                ),
            ),
        ),
        Route(
            f"{API}/search/files",
            FileSearch(c.platform.files),
            (
                Operation(
                    "GET",
                    "Search your files",
                    "search",
                    (Reply(200, "The caller's files that match", FileMatches),),
                    params=(
                        Param(
                            "q",
                            "query",
                            query_rules,
                            'words, "exact phrases" and -excluded words; a word matches '
                            "the words of names and folders it begins",
                            required=True,
                        ),
                        LIMIT,
                    ),
                    auth="required",
                    errors=(403, 422),
                    description=(
                        "Only the caller's own files, by their name and folder: `rep` "
                        "finds `report.pdf` and the files in `/reports`. Folded like a "
                        "video search (case and diacritics). At most `limit` (default 20) "
                        "files, no further pages."
                    ),
                ),
            ),
        ),
        Route(
            f"{API}/search/suggest",
            Suggestions(c.platform.search),
            (
                Operation(
                    "GET",
                    "Complete a query being typed",
                    "search",
                    (Reply(200, "Titles and tags it may become", SuggestionsView),),
                    params=(
                        Param("q", "query", query_rules, "what has been typed", required=True),
                        Param("limit", "query", suggest_limit, f"per kind (default {SUGGESTIONS})"),
                    ),
                    errors=(401, 422),
                ),
            ),
        ),
        Route(
            f"{API}/search",
            Search(c.platform.search),
            (
                Operation(
                    "GET",
                    "Search videos",
                    "search",
                    (Reply(200, "Videos matching the query that the caller may see", SearchPage),),
                    params=_params(),
                    errors=(401, 422),
                    description=(
                        "Ranked by relevance (videos whose title holds every word first; "
                        "then a match in the title counts most, then tags, "
                        "category and owner, then the description), or by `newest` or "
                        "`views`. Words match folded (case and diacritics) and with their "
                        "English inflections. When nothing matches and a word of the query "
                        "is a few letters away from indexed words, the results are for the "
                        "corrected query (`corrected_from` holds the query as asked); when "
                        "few match, `did_you_mean` may offer a correction. `title` and "
                        "`snippet` mark what matched as [start, end) character ranges."
                    ),
                ),
            ),
        ),
    ]
