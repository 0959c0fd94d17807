"""The search index in the platform's database: SQLite FTS5 on the embedded profile,
PostgreSQL full text (``tsvector``) and pg_trgm in production. Tables in
:mod:`.tables` and migrations 0011 and 0012.

Text goes in folded by the application (:func:`domain.search.words`), so both engines
see the same words as the in-memory index, stemmed by the same algorithm (Porter): by
SQLite's ``porter`` tokenizer, and here for PostgreSQL, whose ``simple`` configuration
then takes the words as they are (its ``english`` one would drop stopwords: "the"
would find nothing, "how to run" what "run" finds). A query is built from those words
alone, each quoted: nothing a user types reaches the engine as syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import attrs
import snowballstemmer  # type: ignore[import-untyped]
from sqlalchemy import Connection, Table, case, column, func, literal_column, select, table, text
from sqlalchemy.sql.elements import ColumnElement

from videoplatform.adapters.sql import tables
from videoplatform.adapters.sql.repositories import SqlVideoRepository, listed_videos
from videoplatform.adapters.sql.session import SqlSession
from videoplatform.application.ports.persistence import VideoListQuery
from videoplatform.application.ports.search import (
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
from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.search import (
    DurationBucket,
    SearchTerms,
    UploadedBucket,
    edit_distance,
)

CANDIDATES = 200
"""Words sharing trigrams with a typo that are measured for their edit distance."""

SQLITE_WEIGHTS = "10.0, 5.0, 2.0, 2.0, 1.0"

_text = table(tables.SEARCH_TEXT, column("rowid"), column("id"), column("document"))
_trigrams = table(tables.SEARCH_WORD_TRIGRAMS, column("rowid"), column("rank"))
_titles = table(tables.SEARCH_TITLES, column("rowid"))
"""bm25 weights of search_text's columns: title, tags, category, owner, description."""


class SqlSearchIndex:
    """The search index of one SQL unit of work (``uow.search``)."""

    def __init__(self, session: SqlSession, videos: SqlVideoRepository) -> None:
        self._s = session
        self._videos = videos
        self._sqlite = session.dialect == "sqlite"

    # -- writes ---------------------------------------------------------------------------

    def put_video(self, document: VideoDocument) -> None:
        fields = {name: " ".join(found) for name, found in document.words_by_field().items()}
        new_words = set(" ".join(fields.values()).split())
        self._s.defer(lambda conn: self._put(conn, str(document.video_id), fields, new_words))

    def remove_video(self, video_id: VideoId) -> None:
        self._s.defer(lambda conn: self._remove(conn, str(video_id)))

    def _put(
        self, conn: Connection, video_id: str, fields: dict[str, str], new_words: set[str]
    ) -> None:
        d = tables.search_documents
        row = conn.execute(select(d.c.id, d.c.words).where(d.c.video_id == video_id)).first()
        joined = " ".join(sorted(new_words))
        if row is None:
            old_words: set[str] = set()
            doc_id = conn.execute(
                d.insert().values(video_id=video_id, words=joined).returning(d.c.id)
            ).scalar_one()
        else:
            doc_id, old_words = row.id, set(row.words.split())
            conn.execute(d.update().where(d.c.id == doc_id).values(words=joined))
            self._drop_text(conn, doc_id)
        if self._sqlite:
            conn.execute(
                text(
                    "INSERT INTO search_text (rowid, title, tags, category, owner_name,"
                    " description) VALUES (:id, :title, :tags, :category, :owner_name,"
                    " :description)"
                ),
                {"id": doc_id, **fields},
            )
            conn.execute(
                text("INSERT INTO search_titles (rowid, title) VALUES (:id, :title)"),
                {"id": doc_id, "title": fields["title"]},
            )
        else:
            stemmed = {name: _stems(value) for name, value in fields.items()}
            conn.execute(
                text(
                    "INSERT INTO search_text (id, title_words, document) VALUES (:id,"
                    " to_tsvector('simple', :title),"
                    " setweight(to_tsvector('simple', :s_title), 'A')"
                    " || setweight(to_tsvector('simple', :s_tags), 'B')"
                    " || setweight(to_tsvector('simple', :s_category), 'C')"
                    " || setweight(to_tsvector('simple', :s_owner_name), 'C')"
                    " || setweight(to_tsvector('simple', :s_description), 'D'))"
                ),
                {
                    "id": doc_id,
                    "title": fields["title"],
                    **{f"s_{name}": value for name, value in stemmed.items()},
                },
            )
        self._count(conn, new_words - old_words, +1)
        self._count(conn, old_words - new_words, -1)

    def _remove(self, conn: Connection, video_id: str) -> None:
        d = tables.search_documents
        row = conn.execute(select(d.c.id, d.c.words).where(d.c.video_id == video_id)).first()
        if row is None:
            return
        self._drop_text(conn, row.id)
        conn.execute(d.delete().where(d.c.id == row.id))
        self._count(conn, set(row.words.split()), -1)

    def _drop_text(self, conn: Connection, doc_id: int) -> None:
        if self._sqlite:
            conn.execute(text("DELETE FROM search_text WHERE rowid = :id"), {"id": doc_id})
            conn.execute(text("DELETE FROM search_titles WHERE rowid = :id"), {"id": doc_id})
        else:
            conn.execute(text("DELETE FROM search_text WHERE id = :id"), {"id": doc_id})

    def _count(self, conn: Connection, changed: set[str], by: int) -> None:
        """Add ``by`` to the video count of each word; a word no video holds any more
        goes (with its trigrams), a new one comes (with them)."""
        w = tables.search_words
        for word in sorted(changed):  # one order for every writer: no deadlock between two
            if by > 0:
                counted = conn.execute(
                    text(
                        "INSERT INTO search_words (word, videos) VALUES (:word, 1)"
                        " ON CONFLICT (word) DO UPDATE SET videos = search_words.videos + 1"
                        " RETURNING id, videos"
                    ),
                    {"word": word},
                ).one()
                if counted.videos == 1 and self._sqlite:
                    conn.execute(
                        text("INSERT INTO search_word_trigrams (rowid, word) VALUES (:id, :word)"),
                        {"id": counted.id, "word": word},
                    )
                continue
            left = conn.execute(
                w.update()
                .where(w.c.word == word)
                .values(videos=w.c.videos - 1)
                .returning(w.c.id, w.c.videos)
            ).first()
            if left is not None and left.videos <= 0:
                conn.execute(w.delete().where(w.c.id == left.id))
                if self._sqlite:
                    conn.execute(
                        text("DELETE FROM search_word_trigrams WHERE rowid = :id"), {"id": left.id}
                    )

    # -- reads ----------------------------------------------------------------------------

    def indexed_videos(self) -> int:
        d = tables.search_documents
        return int(self._s.read(select(func.count()).select_from(d)).scalar_one())

    def search_videos(self, search: VideoSearch) -> VideoMatches:
        v, d = tables.videos, tables.search_documents
        conditions = listed_videos(
            VideoListQuery(
                viewer_id=search.viewer_id,
                see_all=search.see_all,
                owner_id=search.owner_id,
                category_id=search.category_id,
                tag=search.tag,
            )
        )
        score: ColumnElement[Any]
        if self._sqlite:
            match: ColumnElement[bool] = text("search_text MATCH :match").bindparams(
                match=_fts5(search.terms)
            )  # type: ignore[assignment]
            score = literal_column(f"-bm25(search_text, {SQLITE_WEIGHTS})")
            key = _text.c.rowid
        else:
            query = text("to_tsquery('simple', :tsquery)").bindparams(
                tsquery=_tsquery(search.terms)
            )
            # Ranked by what is wanted only: with a negated term in it, ts_rank gives
            # every document the same score.
            wanted = text("to_tsquery('simple', :wanted)").bindparams(
                wanted=_tsquery(attrs.evolve(search.terms, excluded=()))
            )
            match = _text.c.document.op("@@")(query)
            score = func.ts_rank(_text.c.document, wanted)
            key = _text.c.id
        duration = self._duration()
        if search.duration is not None:
            start, end = search.duration.seconds
            conditions.append(duration >= start)
            if end is not None:
                conditions.append(duration < end)
        if search.uploaded_since is not None:
            conditions.append(v.c.created_at >= search.uploaded_since)
        joined = _text.join(d, d.c.id == key).join(v, v.c.id == d.c.video_id)
        source = select(v, score.label("score")).select_from(joined)
        counted = select(func.count()).select_from(joined)
        order: list[Any]
        if search.sort is SearchSort.NEWEST:
            order = [v.c.created_at.desc(), v.c.id.desc()]
        elif search.sort is SearchSort.VIEWS:
            order = [v.c.view_count.desc(), v.c.id.desc()]
        else:
            order = [literal_column("score").desc(), v.c.id.desc()]
        page = self._videos.scored(
            source.where(match, *conditions)
            .order_by(*order)
            .limit(search.limit)
            .offset(search.offset)
        )
        total = int(self._s.read(counted.where(match, *conditions)).scalar_one())
        facets = None
        if search.facets_at is not None:
            matched = select(v.c.id).select_from(joined).where(match, *conditions).subquery()
            facets = self._facets(matched, search.facets_at)
        return VideoMatches(tuple(VideoMatch(video, score) for video, score in page), total, facets)

    def _duration(self) -> ColumnElement[Any]:
        """A video's duration in seconds (NULL before it was probed)."""
        if self._sqlite:
            return func.json_extract(tables.videos.c.media_info, "$.duration_seconds")
        return literal_column("(videos.media_info::jsonb ->> 'duration_seconds')::float8")

    def _facets(self, matched: Any, now: datetime) -> SearchFacets:
        """Counts over every match (``matched``: a subquery of their ids)."""
        v, tags = tables.videos, tables.video_tags
        of_matches = v.c.id.in_(select(matched.c.id))
        categories: list[Any] = list(
            self._s.read(
                select(v.c.category_id, func.count().label("n"))
                .where(of_matches, v.c.category_id.is_not(None))
                .group_by(v.c.category_id)
                .order_by(literal_column("n").desc(), v.c.category_id)
            )
        )
        top_tags: list[Any] = list(
            self._s.read(
                select(tags.c.tag, func.count().label("n"))
                .where(tags.c.video_id.in_(select(matched.c.id)))
                .group_by(tags.c.tag)
                .order_by(literal_column("n").desc(), tags.c.tag)
                .limit(TOP_TAGS)
            )
        )
        duration = self._duration()
        bucket = case(
            *(
                (duration < end, b.value)
                for b in DurationBucket
                if (end := b.seconds[1]) is not None
            ),
            else_=DurationBucket.LONG.value,
        )
        counted: list[Any] = list(
            self._s.read(
                select(bucket.label("bucket"), func.count())
                .where(of_matches, duration.is_not(None))
                .group_by(literal_column("bucket"))
            )
        )
        lengths = {str(r[0]): int(r[1]) for r in counted}
        since = [
            func.coalesce(func.sum(case((v.c.created_at >= now - b.within, 1), else_=0)), 0)
            for b in UploadedBucket
        ]
        recent = self._s.read(select(*since).where(of_matches)).one()
        return SearchFacets(
            categories=tuple((CategoryId(r[0]), int(r[1])) for r in categories),
            tags=tuple((str(r[0]), int(r[1])) for r in top_tags),
            durations=tuple((b, int(lengths.get(b.value, 0))) for b in DurationBucket),
            uploaded=tuple((b, int(n)) for b, n in zip(UploadedBucket, recent, strict=True)),
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
        v, d, tags = tables.videos, tables.search_documents, tables.video_tags
        visible = listed_videos(VideoListQuery(viewer_id=viewer_id, see_all=see_all))
        titles: list[str] = []
        if last:
            if self._sqlite:
                expression = " AND ".join([*(_quoted(w) for w in finished), _quoted(last) + "*"])
                source = _titles.join(d, d.c.id == _titles.c.rowid)
                match: Any = text("search_titles MATCH :titles").bindparams(titles=expression)
            else:
                expression = " & ".join([*(f"'{w}'" for w in finished), f"'{last}':*"])
                source = _text.join(d, d.c.id == _text.c.id)
                match = literal_column("search_text.title_words").op("@@")(
                    func.to_tsquery(literal_column("'simple'"), expression)
                )
            rows = self._s.read(
                select(v.c.title)
                .select_from(source.join(v, v.c.id == d.c.video_id))
                .where(match, *visible)
                .order_by(v.c.view_count.desc(), v.c.id.desc())
                .limit(limit * 2)
            )
            titles = list(dict.fromkeys(r.title for r in rows))[:limit]
        counted: list[Any] = (
            list(
                self._s.read(
                    select(tags.c.tag, func.count().label("n"))
                    .select_from(tags.join(v, v.c.id == tags.c.video_id))
                    .where(func.substr(tags.c.tag, 1, len(typed)) == typed, *visible)
                    .group_by(tags.c.tag)
                    .order_by(literal_column("n").desc(), tags.c.tag)
                    .limit(limit)
                )
            )
            if typed
            else []
        )
        return Completions(tuple(titles), tuple((str(r[0]), int(r[1])) for r in counted))

    def word_counts(self, words: Sequence[str]) -> dict[str, int]:
        if not words:
            return {}
        w = tables.search_words
        rows = self._s.read(select(w.c.word, w.c.videos).where(w.c.word.in_(list(words))))
        return {r.word: int(r.videos) for r in rows}

    def similar_words(self, word: str, budget: int, limit: int = 5) -> list[KnownWord]:
        if budget <= 0 or len(word) < 3:
            return []
        w = tables.search_words
        lengths = (
            w.c.word != word,
            func.length(w.c.word).between(len(word) - budget, len(word) + budget),
        )
        if self._sqlite:
            trigrams = " OR ".join(f'"{word[i : i + 3]}"' for i in range(len(word) - 2))
            statement = (
                select(w.c.word, w.c.videos)
                .select_from(_trigrams.join(w, w.c.id == _trigrams.c.rowid))
                .where(
                    text("search_word_trigrams MATCH :trigrams").bindparams(trigrams=trigrams),
                    *lengths,
                )
                .order_by(_trigrams.c.rank)
                .limit(CANDIDATES)
            )
        else:
            # pg_trgm's % operator (the index's) at a lower bar than its 0.3 default: one
            # edit in a five-letter word leaves about a quarter of its trigrams shared.
            self._s.read(text("SELECT set_config('pg_trgm.similarity_threshold', '0.2', true)"))
            statement = (
                select(w.c.word, w.c.videos)
                .where(w.c.word.op("%")(word), *lengths)
                .order_by(func.similarity(w.c.word, word).desc())
                .limit(CANDIDATES)
            )
        # Trigrams miss an edit in the middle of a short word ("pinao" shares none with
        # "piano"): words of the same first letter and a near length are candidates too
        # (an index on both; a swap of the first two letters keeps the first one).
        same_start = (
            select(w.c.word, w.c.videos)
            .where(func.substr(w.c.word, 1, 1) == word[0], *lengths)
            .order_by(w.c.videos.desc())
            .limit(CANDIDATES)
        )
        candidates = {row.word: row.videos for row in self._s.read(statement)}
        candidates.update((row.word, row.videos) for row in self._s.read(same_start))
        found = []
        for known, videos in candidates.items():
            distance = edit_distance(word, known, budget)
            if distance <= budget:
                found.append((-videos, distance, known, KnownWord(known, videos)))
        found.sort(key=lambda each: each[:3])
        return [each[3] for each in found[:limit]]


def _quoted(word: str) -> str:
    # Folded words hold letters and digits only: no quote to escape.
    return f'"{word}"'


def _fts5(terms: SearchTerms) -> str:
    """An FTS5 query: every word and phrase (AND), none of the excluded words."""
    wanted = [_quoted(w) for w in terms.words]
    wanted += ['"' + " ".join(p) + '"' for p in terms.phrases]
    expression = "(" + " AND ".join(wanted) + ")"
    if terms.excluded:
        expression += " NOT (" + " OR ".join(_quoted(w) for w in terms.excluded) + ")"
    return expression


def _tsquery(terms: SearchTerms) -> str:
    """A to_tsquery expression (``simple`` configuration, over words stemmed here as
    they were indexed): every word (&), every phrase within one field (its words
    adjacent under one weight: the fields' vectors are concatenated, and a phrase must
    not run from one into the next), none of the excluded words."""
    parts = [f"'{stem(w)}'" for w in terms.words]
    for phrase in terms.phrases:
        within = (
            "(" + " <-> ".join(f"'{stem(w)}':{weight}" for w in phrase) + ")" for weight in "ABCD"
        )
        parts.append("(" + " | ".join(within) + ")")
    parts += [f"!'{stem(w)}'" for w in terms.excluded]
    return " & ".join(parts)


_porter = snowballstemmer.stemmer("porter")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Porter stem of a folded word: PostgreSQL's documents and queries are stemmed
    here, with the algorithm of SQLite's ``porter`` tokenizer, under the ``simple``
    configuration (no stopwords), so that both engines match the same words."""
    stemmed: str = _porter.stemWord(word)
    return stemmed


def _stems(text: str) -> str:
    return " ".join(stem(word) for word in text.split())


class SqlSearchLog:
    """Search analytics of one SQL unit of work (``uow.search_log``)."""

    def __init__(self, session: SqlSession) -> None:
        self._s = session

    def record_query(self, query: str, results: int, at: datetime) -> None:
        self._insert(tables.search_queries, query=query, results=results, searched_at=at)

    def record_click(self, query: str, video_id: VideoId, position: int, at: datetime) -> None:
        self._insert(
            tables.search_clicks, query=query, video_id=video_id, position=position, clicked_at=at
        )

    def _insert(self, into: Table, **row: object) -> None:
        def write(conn: Connection) -> None:
            conn.execute(into.insert().values(**row))

        self._s.defer(write)

    def report(self, since: datetime, until: datetime, limit: int) -> SearchReport:
        q, c = tables.search_queries, tables.search_clicks
        in_range = (q.c.searched_at >= since, q.c.searched_at < until)
        zero = func.sum(case((q.c.results == 0, 1), else_=0))
        top: list[Any] = list(
            self._s.read(
                select(q.c.query, func.count().label("n"), zero.label("z"))
                .where(*in_range)
                .group_by(q.c.query)
                .order_by(literal_column("n").desc(), q.c.query)
                .limit(limit)
            )
        )
        fruitless: list[Any] = list(
            self._s.read(
                select(q.c.query, func.count().label("n"), zero.label("z"))
                .where(*in_range)
                .group_by(q.c.query)
                .having(zero > 0)
                .order_by(literal_column("z").desc(), q.c.query)
                .limit(limit)
            )
        )
        named = {r.query for r in top} | {r.query for r in fruitless}
        clicks: dict[str, int] = {}
        if named:
            counted: list[Any] = list(
                self._s.read(
                    select(c.c.query, func.count())
                    .where(c.c.clicked_at >= since, c.c.clicked_at < until, c.c.query.in_(named))
                    .group_by(c.c.query)
                )
            )
            clicks = {str(r[0]): int(r[1]) for r in counted}

        def stats(row: Any) -> QueryStats:
            return QueryStats(row.query, int(row.n), int(row.z), clicks.get(row.query, 0))

        return SearchReport(tuple(map(stats, top)), tuple(map(stats, fruitless)))

    def prune(self, before: datetime) -> int:
        q, c = tables.search_queries, tables.search_clicks
        gone = self._s.write_now(q.delete().where(q.c.searched_at < before)).rowcount
        gone += self._s.write_now(c.delete().where(c.c.clicked_at < before)).rowcount
        return int(gone)
