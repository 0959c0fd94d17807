"""The search index in the platform's database: SQLite FTS5 on the embedded profile,
PostgreSQL full text (``tsvector``) and pg_trgm in production. Tables in
:mod:`.tables` and migrations 0011 to 0015.

Text goes in folded by the application (:func:`domain.search.words`), so both engines
see the same words as the in-memory index, stemmed by the same algorithm (Porter): by
SQLite's ``porter`` tokenizer, and here for PostgreSQL, whose ``simple`` configuration
then takes the words as they are (its ``english`` one would drop stopwords: "the"
would find nothing, "how to run" what "run" finds). A query is built from those words
alone, each quoted: nothing a user types reaches the engine as syntax.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import attrs
import snowballstemmer  # type: ignore[import-untyped]
from sqlalchemy import (
    BigInteger,
    Connection,
    Table,
    Text,
    and_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from videoplatform.adapters.sql import tables
from videoplatform.adapters.sql.repositories import SqlVideoRepository, listed_videos
from videoplatform.adapters.sql.session import SqlSession
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
from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.search import (
    DurationBucket,
    SearchTerms,
    UploadedBucket,
    completes,
    edit_distance,
    words,
)

CANDIDATES = 200
"""Words sharing trigrams with a typo that are measured for their edit distance."""

PREFIX_WORDS = 8
"""The words a title completion looks for: the most common that begin with what is
being typed."""

TITLE_LEADERS = 16
"""Videos kept per title word in ``search_title_leaders``: the most viewed that everyone
may see (views as of their last indexing; completions order them by their views now)."""

LEADERS_READ = 4
"""Leaders read per title asked for, when only the last word is being typed."""

OWN_CANDIDATES = 500
"""A signed-in viewer's own videos (the newest) that completions look at besides."""

RARE_POSTINGS = 5_000
"""Where the rarest of the finished words (or the words the last one may become, all
together) is held by at most this many videos, a completion searches the titles' own
index: a few milliseconds, and every title that fits is within reach. Past this many
that costs tens of milliseconds, and the words' leaders answer instead."""

HOLDING_READ = 300
"""PostgreSQL: titles holding the finished words whose own words a completion reads,
at most (each is a row of search_text read from the table: past this many, reading
them costs more than a completion may). The finished words' leaders are read beside
them, so the most viewed of those titles are never out of reach."""

SUGGEST_CANDIDATES = 50
"""Titles that search of the titles' own index looks at (the newest holding the words
typed)."""

SEARCH_CANDIDATES = 300
"""Matching documents one search looks at, those matching in their title first. A
query whose words are everywhere matches a large share of the index; ranking, counting
and faceting all of its matches would cost in proportion. Past this many, the total is
an estimate and facets count the candidates (see :class:`VideoMatches`)."""

SQLITE_WEIGHTS = "10.0, 5.0, 2.0, 2.0, 1.0"
"""bm25 weights of search_text's columns: title, tags, category, owner, description."""
FIELDS = ("title", "tags", "category", "owner_name", "description")

_text = table(tables.SEARCH_TEXT, column("rowid"), column("id"), column("document"))
_trigrams = table(tables.SEARCH_WORD_TRIGRAMS, column("rowid"), column("rank"))
_titles = table(tables.SEARCH_TITLES, column("rowid"))
_TITLE_WORDS: ColumnElement[Any] = literal_column("search_text.title_words")
"""PostgreSQL: search_text's column of the titles' own words, unstemmed."""


class SqlSearchIndex:
    """The search index of one SQL unit of work (``uow.search``)."""

    def __init__(self, session: SqlSession, videos: SqlVideoRepository) -> None:
        self._s = session
        self._videos = videos
        self._sqlite = session.dialect == "sqlite"

    # -- writes ---------------------------------------------------------------------------

    def put_video(self, document: VideoDocument) -> None:
        self.put_videos([document])

    def put_videos(self, documents: Sequence[VideoDocument]) -> None:
        staged = {
            str(document.video_id): (
                {name: " ".join(found) for name, found in document.words_by_field().items()},
                set(document.tags),
                document.version,
            )
            for document in documents
        }
        if staged:
            self._s.defer(lambda conn: self._put(conn, staged))

    def remove_video(self, video_id: VideoId) -> None:
        self._s.defer(lambda conn: self._remove(conn, str(video_id)))

    def _put(
        self, conn: Connection, staged: dict[str, tuple[dict[str, str], set[str], int]]
    ) -> None:
        """Write the documents of ``staged`` (video id: (field: words, tags, version)) in
        a few statements, whatever their number: a rebuild writes them by the hundred.
        One older than the document indexed is left out: the indexed rows are locked
        until the commit, so that a handler's newer document is either written after
        this one or seen here."""
        d = tables.search_documents
        reading = select(d.c.video_id, d.c.id, d.c.words, d.c.tags, d.c.version, d.c.listed).where(
            d.c.video_id.in_(list(staged))
        )
        if not self._sqlite:  # SQLite writes one transaction at a time
            reading = reading.order_by(d.c.id).with_for_update()
        known = {}
        for held in conn.execute(reading):
            if held.version > staged[held.video_id][2]:
                del staged[held.video_id]
            else:
                known[held.video_id] = (
                    held.id,
                    set(held.words.split()),
                    _tags(held.tags),
                    bool(held.listed),
                )
        if not staged:
            return
        # Whether everyone may see each video now; a video deleted since it was read
        # gets no new document (its handler may have removed none yet). On PostgreSQL
        # the rows are held against deletion until this commits: a deletion after it
        # is followed by its handler's removal.
        v = tables.videos
        everyone = and_(*listed_videos(VideoListQuery(viewer_id=None)))
        alive: Any = select(v.c.id, everyone.label("listed")).where(v.c.id.in_(list(staged)))
        if not self._sqlite:
            alive = alive.order_by(v.c.id).with_for_update(key_share=True)
        listed = {row.id: bool(row.listed) for row in conn.execute(alive)}
        for video_id in [video_id for video_id in staged if video_id not in known]:
            if video_id not in listed:
                del staged[video_id]
        if not staged:
            return
        changes: Counter[str] = Counter()
        tag_changes: Counter[str] = Counter()
        listed_changes: Counter[str] = Counter()
        fresh: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        for video_id, (fields, new_tags, version) in staged.items():
            new_words = set(" ".join(fields.values()).split())
            now_listed = listed.get(video_id, False)
            row = {
                "words": " ".join(sorted(new_words)),
                "tags": "\n".join(sorted(new_tags)),
                "version": version,
                "listed": now_listed,
            }
            if video_id in known:
                doc_id, old_words, old_tags, was_listed = known[video_id]
                updated.append(
                    {
                        "doc_id": doc_id,
                        "new_words": row["words"],
                        "new_tags": row["tags"],
                        "new_version": version,
                        "new_listed": now_listed,
                    }
                )
            else:
                old_words, old_tags, was_listed = set(), set(), False
                fresh.append({"video_id": video_id, **row})
            changes.update(dict.fromkeys(new_words - old_words, 1))
            changes.subtract(dict.fromkeys(old_words - new_words, 1))
            tag_changes.update(dict.fromkeys(new_tags - old_tags, 1))
            tag_changes.subtract(dict.fromkeys(old_tags - new_tags, 1))
            if was_listed:
                listed_changes.subtract(dict.fromkeys(old_tags, 1))
            if now_listed:
                listed_changes.update(dict.fromkeys(new_tags, 1))
        if updated:
            conn.execute(
                d.update()
                .where(d.c.id == bindparam("doc_id"))
                .values(
                    words=bindparam("new_words"),
                    tags=bindparam("new_tags"),
                    version=bindparam("new_version"),
                    listed=bindparam("new_listed"),
                ),
                updated,
            )
            self._drop_text(conn, [u["doc_id"] for u in updated])
        ids = {video_id: held[0] for video_id, held in known.items()}
        if fresh:
            made = conn.execute(d.insert().returning(d.c.video_id, d.c.id), fresh)
            ids.update((row.video_id, row.id) for row in made)
        rows = [{"id": ids[video_id], **fields} for video_id, (fields, _, _) in staged.items()]
        if self._sqlite:
            conn.execute(
                text(
                    "INSERT INTO search_text (rowid, title, tags, category, owner_name,"
                    " description) VALUES (:id, :title, :tags, :category, :owner_name,"
                    " :description)"
                ),
                rows,
            )
            conn.execute(
                text("INSERT INTO search_titles (rowid, title) VALUES (:id, :title)"), rows
            )
        else:
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
                [
                    {
                        "id": row["id"],
                        "title": row["title"],
                        **{f"s_{name}": _stems(row[name]) for name in FIELDS},
                    }
                    for row in rows
                ],
            )
        self._count(conn, tables.search_words, changes)
        self._count(conn, tables.search_tags, tag_changes, listed_changes)
        self._lead(
            conn,
            {
                ids[video_id]: set(fields["title"].split())
                for video_id, (fields, _, _) in staged.items()
            },
        )

    def _lead(self, conn: Connection, titled: dict[int, set[str]]) -> None:
        """Place the documents of ``titled`` (document: its title's words) among the
        leaders of their title's words: their old places go; where everyone may see the
        video and its views rank it among a word's :data:`TITLE_LEADERS`, it enters,
        and the one it pushes past that many leaves."""
        lead, d, v = tables.search_title_leaders, tables.search_documents, tables.videos
        docs = list(titled)
        conn.execute(lead.delete().where(self._one_of(lead.c.doc, docs, BigInteger)))
        # Whether everyone may see each is selected, not a condition: as one, SQLite
        # would walk every visible video for the few documents.
        listed = and_(*listed_videos(VideoListQuery(viewer_id=None)))
        views = {
            int(row.id): int(row.view_count)
            for row in conn.execute(
                select(d.c.id, v.c.view_count, listed.label("listed"))
                .select_from(d.join(v, v.c.id == d.c.video_id))
                .where(self._one_of(d.c.id, docs, BigInteger))
            )
            if row.listed
        }
        contenders: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for doc, seen in views.items():
            for word in titled[doc]:
                contenders[word].append((seen, doc))
        if not contenders:
            return
        placed: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for row in conn.execute(
            select(lead.c.word, lead.c.doc, lead.c.views).where(
                self._one_of(lead.c.word, sorted(contenders), Text)
            )
        ):
            placed[row.word].append((int(row.views), int(row.doc)))
        entering: list[dict[str, Any]] = []
        leaving: list[dict[str, Any]] = []
        for word in sorted(contenders):
            ranked = sorted(placed[word] + contenders[word], reverse=True)
            entering += [
                {"word": word, "doc": doc, "views": seen}
                for seen, doc in ranked[:TITLE_LEADERS]
                if doc in views
            ]
            leaving += [
                {"w": word, "d": doc}
                for _, doc in sorted(ranked[TITLE_LEADERS:], key=lambda r: r[1])
                if doc not in views
            ]
        if leaving:
            conn.execute(
                lead.delete().where(lead.c.word == bindparam("w"), lead.c.doc == bindparam("d")),
                leaving,
            )
        if entering:
            conn.execute(lead.insert(), entering)

    def _remove(self, conn: Connection, video_id: str) -> None:
        d = tables.search_documents
        row = conn.execute(
            select(d.c.id, d.c.words, d.c.tags, d.c.listed).where(d.c.video_id == video_id)
        ).first()
        if row is None:
            return
        self._drop_text(conn, [row.id])
        conn.execute(d.delete().where(d.c.id == row.id))
        lead = tables.search_title_leaders
        conn.execute(lead.delete().where(lead.c.doc == row.id))
        self._count(conn, tables.search_words, Counter(dict.fromkeys(row.words.split(), -1)))
        tags = _tags(row.tags)
        self._count(
            conn,
            tables.search_tags,
            Counter(dict.fromkeys(tags, -1)),
            Counter(dict.fromkeys(tags, -1)) if row.listed else None,
        )

    def _drop_text(self, conn: Connection, doc_ids: list[int]) -> None:
        if self._sqlite:
            for statement in (
                "DELETE FROM search_text WHERE rowid IN :ids",
                "DELETE FROM search_titles WHERE rowid IN :ids",
            ):
                conn.execute(
                    text(statement).bindparams(bindparam("ids", expanding=True)), {"ids": doc_ids}
                )
        else:
            conn.execute(text("DELETE FROM search_text WHERE id = ANY(:ids)"), {"ids": doc_ids})

    def _count(
        self,
        conn: Connection,
        counts: Table,
        changes: Counter[str],
        listed: Counter[str] | None = None,
    ) -> None:
        """Add each change to the video count of its word (``search_words``) or tag
        (``search_tags``, and to its count of videos everyone may see by ``listed``);
        one no video holds any more goes (a word with its trigrams), a new one comes.
        Written in one order by every writer: no deadlock between two."""
        key = counts.c.word if counts is tables.search_words else counts.c.tag
        trigrams = self._sqlite and counts is tables.search_words
        listed = listed or Counter()
        more = sorted(name for name, n in changes.items() if n > 0)
        other = sorted(
            name
            for name in set(changes) | set(listed)
            if changes[name] < 0 or (changes[name] == 0 and listed[name])
        )
        extra: dict[str, Any] = {"listed": bindparam("l")} if counts is tables.search_tags else {}
        if more:
            values: dict[str, Any] = {
                key.name: bindparam("name"),
                "videos": bindparam("n"),
                **extra,
            }
            upsert = (
                sqlite_insert(counts).values(values)
                if self._sqlite
                else postgresql_insert(counts).values(values)
            )
            adding: dict[str, Any] = {"videos": counts.c.videos + upsert.excluded.videos}
            if extra:
                adding["listed"] = counts.c.listed + upsert.excluded.listed
            counting = upsert.on_conflict_do_update(index_elements=[key], set_=adding).returning(
                counts.c.id, key, counts.c.videos
            )
            counted: list[Any] = list(
                conn.execute(
                    counting,
                    [
                        {"name": name, "n": changes[name], **({"l": listed[name]} if extra else {})}
                        for name in more
                    ],
                )
            )
            new = [{"id": row[0], "word": row[1]} for row in counted if row[2] == changes[row[1]]]
            if new and trigrams:
                conn.execute(
                    text("INSERT INTO search_word_trigrams (rowid, word) VALUES (:id, :word)"), new
                )
        if other:
            left = []
            for name in other:
                change: dict[str, Any] = {"videos": counts.c.videos + changes[name]}
                if extra:
                    change["listed"] = counts.c.listed + listed[name]
                left.append(
                    conn.execute(
                        counts.update()
                        .where(key == name)
                        .values(change)
                        .returning(counts.c.id, counts.c.videos)
                    ).first()
                )
            emptied = [row.id for row in left if row is not None and row.videos <= 0]
            if emptied:
                conn.execute(counts.delete().where(counts.c.id.in_(emptied)))
                if trigrams:
                    conn.execute(
                        text("DELETE FROM search_word_trigrams WHERE rowid IN :ids").bindparams(
                            bindparam("ids", expanding=True)
                        ),
                        {"ids": emptied},
                    )

    # -- reads ----------------------------------------------------------------------------

    def refresh_leaders(self, most_viewed: int) -> int:
        d, v = tables.search_documents, tables.videos
        rows = self._s.read(
            select(d.c.id, v.c.title)
            .select_from(d.join(v, v.c.id == d.c.video_id))
            .where(*listed_videos(VideoListQuery(viewer_id=None)))
            .order_by(v.c.view_count.desc(), v.c.id.desc())
            .limit(most_viewed)
        )
        titled = {int(row.id): set(words(row.title)) for row in rows}
        if titled:
            self._s.defer(lambda conn: self._lead(conn, titled))
        return len(titled)

    def indexed_videos(self) -> int:
        d = tables.search_documents
        return int(self._s.read(select(func.count()).select_from(d)).scalar_one())

    def search_videos(self, search: VideoSearch) -> VideoMatches:
        hits, capped = self._hits(search.terms, SEARCH_CANDIDATES)
        rows = self._listed(hits, search)
        if capped and len(rows) <= search.offset + search.limit:
            # The viewer may see, or the filters keep, too few of the candidates for
            # this page: every match is looked at.
            hits, capped = self._hits(search.terms, None)
            rows = self._listed(hits, search)
        if search.sort is SearchSort.NEWEST:
            rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        elif search.sort is SearchSort.VIEWS:
            rows.sort(key=lambda r: (r.view_count, r.id), reverse=True)
        else:
            rows.sort(key=lambda r: (*hits[r.doc], r.id), reverse=True)
        chosen = rows[search.offset : search.offset + search.limit]
        page = {video.id: video for video in self._videos.by_ids([r.id for r in chosen])}
        matches = tuple(VideoMatch(page[r.id], hits[r.doc][1]) for r in chosen if r.id in page)
        total, estimated = len(rows), False
        if capped:
            # A share of the matches was looked at: the visible share of it, scaled.
            total = max(len(rows), round(self._matches(search.terms) * len(rows) / len(hits)))
            estimated = True
        facets = None if search.facets_at is None else self._facets(rows, search.facets_at)
        return VideoMatches(
            matches, total, facets, estimated=estimated, reachable=len(rows) if capped else None
        )

    def _hits(
        self, terms: SearchTerms, limit: int | None
    ) -> tuple[dict[int, tuple[int, float]], bool]:
        """Documents matching ``terms`` (their ids: tier, score): first those whose title
        holds every wanted word and phrase (tier 1), then the others (tier 0); with a
        ``limit``, at most that many, and whether matches were left out."""
        in_title, anywhere = self._match(terms, title_only=True), self._match(terms)
        titled: list[Any] = list(self._s.read(in_title if limit is None else in_title.limit(limit)))
        # Scored by the whole document: a title pass scores (on SQLite) the title alone.
        hits = {row[0]: (1, float(row[1])) for row in titled}
        if limit is not None and len(titled) >= limit:
            return hits, True
        found: list[Any] = list(self._s.read(anywhere if limit is None else anywhere.limit(limit)))
        for row in found:
            doc = row[0]
            if doc in hits:
                hits[doc] = (1, float(row[1]))
            elif limit is None or len(hits) < limit:
                hits[doc] = (0, float(row[1]))
        return hits, limit is not None and len(found) >= limit

    def _match(self, terms: SearchTerms, title_only: bool = False) -> Select[Any]:
        """The documents matching ``terms`` (in the title alone, when ``title_only``),
        each with its score; newest indexed first on SQLite, as stored on PostgreSQL
        (ordering all matches is what a limit is there to avoid)."""
        if self._sqlite:
            expression = _fts5(terms, title_only)
            return (
                select(_text.c.rowid, literal_column(f"-bm25(search_text, {SQLITE_WEIGHTS})"))
                .select_from(_text)
                .where(text("search_text MATCH :match").bindparams(match=expression))
                .order_by(_text.c.rowid.desc())
            )
        wanted = text("to_tsquery('simple', :wanted)").bindparams(
            wanted=_tsquery(attrs.evolve(terms, excluded=()))
        )
        query = text("to_tsquery('simple', :tsquery)").bindparams(tsquery=_tsquery(terms))
        matching = select(_text.c.id, func.ts_rank(_text.c.document, wanted)).where(
            _text.c.document.op("@@")(query)
        )
        if not title_only:
            return matching
        # The title's own words (unstemmed, indexed apart): the weighted document cannot
        # say which rows hold a word under the title's weight without reading each row,
        # nor can the planner estimate how many do. Each word as typed, or for an
        # inflected one, a word its stem begins ("runs" finds "Running" as the document
        # did; a stem's every word would be too many for a word that is its own stem).
        in_title = " & ".join(
            f"('{w}' | '{stem(w)}':*)" if stem(w) != w else f"'{w}'" for w in terms.wanted
        )
        return matching.where(_holds(_TITLE_WORDS, "in_title", in_title))

    def _matches(self, terms: SearchTerms) -> float:
        """How many documents match ``terms``: counted on SQLite (FTS5 counts its
        posting lists fast), the planner's estimate on PostgreSQL (counting would visit
        every matching row)."""
        if self._sqlite:
            return float(
                self._s.read(
                    select(func.count())
                    .select_from(_text)
                    .where(text("search_text MATCH :match").bindparams(match=_fts5(terms)))
                ).scalar_one()
            )
        plan = self._s.read(
            text(
                "EXPLAIN (FORMAT JSON) SELECT 1 FROM search_text"
                " WHERE document @@ to_tsquery('simple', :q)"
            ),
            {"q": _tsquery(terms)},
        ).scalar_one()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return float(plan[0]["Plan"]["Plan Rows"])

    def _listed(self, hits: dict[int, tuple[int, float]], search: VideoSearch) -> list[Any]:
        """The videos of ``hits`` that the search's viewer may see and its filters keep:
        what ordering, pages and facets need of each."""
        if not hits:
            return []
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
        duration = self._duration()
        if search.duration is not None:
            start, end = search.duration.seconds
            conditions.append(duration >= start)
            if end is not None:
                conditions.append(duration < end)
        if search.uploaded_since is not None:
            conditions.append(v.c.created_at >= search.uploaded_since)
        docs = list(hits)
        among = self._one_of(d.c.id, docs, BigInteger)
        return list(
            self._s.read(
                select(
                    d.c.id.label("doc"),
                    v.c.id,
                    v.c.category_id,
                    v.c.created_at,
                    v.c.view_count,
                    duration.label("duration"),
                )
                .select_from(d.join(v, v.c.id == d.c.video_id))
                .where(among, *conditions)
            )
        )

    def _one_of(
        self, key: ColumnElement[Any], values: Sequence[object], kind: type[TypeEngine[Any]]
    ) -> ColumnElement[bool]:
        """``key`` is one of ``values`` (hundreds of them): on PostgreSQL one array
        parameter, not a parameter per value to compile and send."""
        if self._sqlite:
            return key.in_(values)
        return key == func.any(bindparam(None, list(values), type_=postgresql.ARRAY(kind)))

    def _duration(self) -> ColumnElement[Any]:
        """A video's duration in seconds (NULL before it was probed)."""
        if self._sqlite:
            return func.json_extract(tables.videos.c.media_info, "$.duration_seconds")
        # json, not jsonb: one field is read, the text need not be converted whole.
        return literal_column("(videos.media_info::json ->> 'duration_seconds')::float8")

    def _facets(self, rows: list[Any], now: datetime) -> SearchFacets:
        """How the listed matches divide: counted here, their tags in the database."""
        categories = Counter(r.category_id for r in rows if r.category_id is not None)
        durations = Counter(
            DurationBucket.of(float(r.duration)) for r in rows if r.duration is not None
        )
        since = [(b, (now - b.within).timestamp()) for b in UploadedBucket]
        uploaded: Counter[UploadedBucket] = Counter()
        for r in rows:
            created = r.created_at.timestamp()
            for b, start in since:
                if created >= start:
                    uploaded[b] += 1
        tags: list[Any] = []
        if rows:
            t = tables.video_tags
            ids = [r.id for r in rows]
            among = self._one_of(t.c.video_id, ids, Text)
            tags = list(
                self._s.read(
                    select(t.c.tag, func.count().label("n"))
                    .where(among)
                    .group_by(t.c.tag)
                    .order_by(literal_column("n").desc(), t.c.tag)
                    .limit(TOP_TAGS)
                )
            )
        return SearchFacets(
            categories=tuple(
                (CategoryId(c), n)
                for c, n in sorted(categories.items(), key=lambda c: (-c[1], c[0]))
            ),
            tags=tuple((str(r[0]), int(r[1])) for r in tags),
            durations=tuple((b, durations[b]) for b in DurationBucket),
            uploaded=tuple((b, uploaded[b]) for b in UploadedBucket),
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
        visible = listed_videos(VideoListQuery(viewer_id=viewer_id, see_all=see_all))
        titles: list[str] = []
        if last:
            titles = self._complete_titles(finished, last, viewer_id, see_all, visible, limit)
        if not typed:
            return Completions(tuple(titles), ())
        if viewer_id is None and not see_all:
            return Completions(tuple(titles), self._listed_tags(typed, limit))
        return Completions(tuple(titles), self._complete_tags(typed, visible, limit))

    def _complete_titles(
        self,
        finished: tuple[str, ...],
        last: str,
        viewer_id: UserId | None,
        see_all: bool,
        visible: list[ColumnElement[bool]],
        limit: int,
    ) -> list[str]:
        """Titles holding the ``finished`` words and a word that begins with ``last``,
        the most viewed first, among the viewer's own newest videos and: where the
        words are rare (:data:`RARE_POSTINGS`), the titles holding them in the titles'
        index (a bounded share); where they are common, the leaders of those words
        (``search_title_leaders``); for a viewer who sees every video, both."""
        w, lead = tables.search_words, tables.search_title_leaders
        v, d = tables.videos, tables.search_documents
        begun = {
            str(r.word): int(r.videos)
            for r in self._s.read(
                select(w.c.word, w.c.videos)
                .where(w.c.word >= last, w.c.word < _successor(last))
                .order_by(w.c.videos.desc(), w.c.word)
                .limit(PREFIX_WORDS)
            )
        }
        if not begun:
            return []
        counts = self.word_counts(finished) if finished else {}
        begun_in = sum(begun.values())
        finished_in = min((counts.get(f, 0) for f in finished), default=begun_in)
        rare = min(begun_in, finished_in) <= RARE_POSTINGS
        sources = []
        if rare or see_all:
            sources.append(self._titles_holding(finished, last, begun_in <= finished_in))
        if rare and finished and not self._sqlite:
            # The titles' index is read for a bounded share of those holding the
            # finished words: their most viewed are looked at too.
            sources.append(
                select(lead.c.doc).where(self._one_of(lead.c.word, list(finished), Text))
            )
        if not rare:
            held: Any = select(lead.c.doc).where(
                self._one_of(lead.c.word, [*begun, *finished], Text)
            )
            if not finished:
                # Each of these holds a word so begun: the most viewed (when last
                # indexed) are enough, with room for those no longer visible and
                # repeated titles.
                held = held.order_by(lead.c.views.desc()).limit(limit * LEADERS_READ)
            sources.append(held)
        # One set of candidates (as several IN conditions joined by OR, PostgreSQL
        # would scan every document).
        candidates = union_all(
            *(select(source.subquery().c[0].label("doc")) for source in sources)
        ).subquery("candidates")
        shown = (v.c.title, v.c.view_count, v.c.id)
        found = list(
            self._s.read(
                select(*shown)
                .select_from(d.join(v, v.c.id == d.c.video_id))
                .where(d.c.id.in_(select(candidates.c.doc)), *visible)
            )
        )
        if viewer_id is not None:
            found += self._s.read(
                select(*shown)
                .where(v.c.owner_id == viewer_id)
                .order_by(v.c.created_at.desc(), v.c.id.desc())
                .limit(OWN_CANDIDATES)
            )
        return _fitting(found, finished, last, limit)

    def _titles_holding(
        self, finished: tuple[str, ...], last: str, begun_rarer: bool
    ) -> Select[Any]:
        """Documents (a bounded share of them, the newest on SQLite) whose title holds
        the ``finished`` words and one that begins with ``last``; ``begun_rarer``:
        whether fewer videos hold a word so begun than the rarest finished word."""
        if self._sqlite:
            expression = " AND ".join([*(_quoted(w) for w in finished), _quoted(last) + "*"])
            return (
                select(_titles.c.rowid)
                .where(text("search_titles MATCH :titles").bindparams(titles=expression))
                .order_by(_titles.c.rowid.desc())
                .limit(SUGGEST_CANDIDATES)
            )
        begins = f"'{last}':*"
        if begun_rarer:
            # One index condition: the index intersects the posting lists from the
            # rarest (here those of the words so begun, merged).
            every = "".join(f"'{w}' & " for w in finished) + begins
            return (
                select(_text.c.id)
                .where(_holds(_TITLE_WORDS, "every", every))
                .limit(SUGGEST_CANDIDATES)
            )
        # The titles holding the finished words first, then those of them with a word so
        # begun: in the index condition, the prefix would merge the posting lists of
        # every word that begins so ("tr": most of them).
        holding = (
            select(_text.c.id, _TITLE_WORDS.label("title_words"))
            .where(_holds(_TITLE_WORDS, "holding", " & ".join(f"'{w}'" for w in finished)))
            .limit(HOLDING_READ)
            .cte("holding")
            .prefix_with("MATERIALIZED")
        )
        return (
            select(holding.c.id)
            .where(_holds(holding.c.title_words, "begins", begins))
            .limit(SUGGEST_CANDIDATES)
        )

    def _listed_tags(self, typed: str, limit: int) -> tuple[tuple[str, int], ...]:
        """Tags that begin with ``typed`` among the videos everyone may see, by their
        counts kept with the index (``search_tags.listed``), the most carried first."""
        st = tables.search_tags
        shown = case((st.c.listed > TAG_COUNT_CAP, TAG_COUNT_CAP), else_=st.c.listed)
        rows = self._s.read(
            select(st.c.tag, shown.label("shown"))
            .where(st.c.tag >= typed, st.c.tag < _successor(typed), st.c.listed > 0)
            .order_by(shown.desc(), st.c.tag)
            .limit(limit)
        )
        return tuple((str(r.tag), int(r.shown)) for r in rows)

    def _complete_tags(
        self, typed: str, visible: list[ColumnElement[bool]], limit: int
    ) -> tuple[tuple[str, int], ...]:
        """Tags that begin with ``typed``, the most used first, among those a video the
        viewer (signed in) may see carries, each with how many such videos do (counted up to
        :data:`TAG_COUNT_CAP`)."""
        st, t, v = tables.search_tags, tables.video_tags, tables.videos
        after = _successor(typed)
        candidates = [
            str(r.tag)
            for r in self._s.read(
                select(st.c.tag)
                .where(st.c.tag >= typed, st.c.tag < after)
                .order_by(st.c.videos.desc(), st.c.tag)
                .limit(limit + 2)
            )
        ]
        if not candidates:
            return ()

        def carrying(n: int, tag: str) -> Any:
            some = (
                select(literal_column("1").label("one"))
                .select_from(t.join(v, v.c.id == t.c.video_id))
                .where(t.c.tag == tag, *visible)
                .limit(TAG_COUNT_CAP)
                .subquery(f"carrying_{n}")
            )
            return select(
                literal_column(str(n)).label("n"), func.count().label("videos")
            ).select_from(some)

        # One statement: each candidate's videos counted up to TAG_COUNT_CAP. (Each
        # count names its tag: correlated to a column of the candidates, PostgreSQL
        # plans it for any tag, a hash join over every visible video.)
        rows: list[Any] = list(
            self._s.read(union_all(*(carrying(n, tag) for n, tag in enumerate(candidates))))
        )
        counts = {int(r.n): int(r.videos) for r in rows}
        counted = [(tag, counts[n]) for n, tag in enumerate(candidates) if counts.get(n)]
        counted.sort(key=lambda c: (-c[1], c[0]))
        return tuple(counted[:limit])

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


def _successor(prefix: str) -> str:
    """The first string after every string that begins with ``prefix`` (in code-point
    order, as the tags are ordered): the prefix with its last character advanced."""
    code = ord(prefix[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:  # no surrogate: they cannot be stored
        code = 0xE000
    if code > 0x10FFFF:
        return _successor(prefix[:-1]) if len(prefix) > 1 else prefix + "\U0010ffff"
    return prefix[:-1] + chr(code)


def _holds(words_column: ColumnElement[Any], name: str, query: str) -> ColumnElement[bool]:
    """PostgreSQL: ``words_column`` (a tsvector) matches ``query``, tsquery syntax built
    here from folded words, sent as the bound parameter ``name``."""
    return words_column.op("@@")(text(f"to_tsquery('simple', :{name})").bindparams(**{name: query}))


def _fitting(rows: Sequence[Any], finished: tuple[str, ...], last: str, limit: int) -> list[str]:
    """The first ``limit`` titles of ``rows`` (title, view_count, id), the most viewed
    first, that hold every ``finished`` word and one that begins with ``last``."""
    titles: dict[str, None] = {}
    seen: set[str] = set()
    for row in sorted(rows, key=lambda r: (r.view_count, r.id), reverse=True):
        if row.id in seen or row.title in titles:
            continue
        seen.add(row.id)
        if completes(row.title, finished, last):
            titles[row.title] = None
            if len(titles) == limit:
                break
    return list(titles)


def _tags(stored: str) -> set[str]:
    """A document's tags as search_documents keeps them (one per line)."""
    return set(stored.split("\n")) if stored else set()


def _quoted(word: str) -> str:
    # Folded words hold letters and digits only: no quote to escape.
    return f'"{word}"'


def _fts5(terms: SearchTerms, title_only: bool = False) -> str:
    """An FTS5 query: every word and phrase (AND; in the title, when ``title_only``),
    none of the excluded words (anywhere)."""
    wanted = [_quoted(w) for w in terms.words]
    wanted += ['"' + " ".join(p) + '"' for p in terms.phrases]
    expression = ("{title} : " if title_only else "") + "(" + " AND ".join(wanted) + ")"
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

    def record_query(self, query: str, results: int, at: datetime, public: bool = False) -> None:
        self._insert(tables.search_queries, query=query, results=results, searched_at=at)
        if not public:
            return
        sp = tables.search_popular
        values: dict[str, Any] = {"query": query, "searches": 1, "last_searched_at": at}
        upsert = (
            sqlite_insert(sp).values(values)
            if self._s.dialect == "sqlite"
            else postgresql_insert(sp).values(values)
        )
        counting = upsert.on_conflict_do_update(
            index_elements=[sp.c.query],
            set_={
                "searches": sp.c.searches + 1,
                "last_searched_at": upsert.excluded.last_searched_at,
            },
        )

        def write(conn: Connection) -> None:
            conn.execute(counting)

        self._s.defer(write)

    def popular(self, prefix: str, limit: int) -> list[str]:
        if not prefix:
            return []
        sp = tables.search_popular
        rows = self._s.read(
            select(sp.c.query)
            .where(
                sp.c.query >= prefix,
                sp.c.query < _successor(prefix),
                sp.c.searches >= POPULAR_SEARCHES,
            )
            .order_by(sp.c.searches.desc(), sp.c.query)
            .limit(limit)
        )
        return [r.query for r in rows]

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
        sp = tables.search_popular
        gone += self._s.write_now(sp.delete().where(sp.c.last_searched_at < before)).rowcount
        return int(gone)
