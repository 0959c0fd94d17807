"""Repositories over a :class:`SqlSession`. Every list is one indexed query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from attrs import frozen
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    update,
)

from videoplatform.adapters.sql import documents, mapping, tables
from videoplatform.adapters.sql.audit_chain import event_hash
from videoplatform.adapters.sql.outbox_signal import NOTIFY_KEY, notify_outbox
from videoplatform.adapters.sql.packed import packing
from videoplatform.adapters.sql.session import SqlSession
from videoplatform.application.ports.persistence import (
    STALE_VERSION,
    AuditQuery,
    ListedVideo,
    OutboxMessage,
    VideoListQuery,
    VideoSort,
)
from videoplatform.application.ports.tracing import Tracer
from videoplatform.application.video_documents import document_json
from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.audit import AuditEvent
from videoplatform.domain.captions import CaptionTrack
from videoplatform.domain.categories import Category
from videoplatform.domain.errors import Conflict, NotFound
from videoplatform.domain.files import FolderPath, StoredFile
from videoplatform.domain.ids import (
    CaptionId,
    CategoryId,
    FileId,
    ShareId,
    TokenId,
    UserId,
    VideoId,
)
from videoplatform.domain.shares import Share, ShareTarget
from videoplatform.domain.uploads import ResumableUpload, UploadId
from videoplatform.domain.users import ApiToken, Role, TokenKind, User, UserStatus
from videoplatform.domain.videos import Video, VideoStatus, Visibility

A = TypeVar("A", bound=Aggregate)

_POINT_LOOKUPS: dict[tuple[str, str, bool], Select[Any]] = {}
_WITH_USER: dict[bool, Select[Any]] = {}  # a token with its user, packed or not


def like_escaped(text: str) -> str:
    """``text`` to match literally inside a LIKE pattern (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Tracker:
    """Aggregates handed out or written, so commit collects the events of written ones."""

    def __init__(self) -> None:
        self.handed_out: list[tuple[str, Aggregate]] = []
        self.written: set[tuple[str, str]] = set()


class _Repository(Generic[A]):
    table: Table
    noun: str

    def __init__(self, session: SqlSession, tracker: Tracker) -> None:
        self._s = session
        self._t = tracker

    def _to_row(self, obj: A) -> dict[str, Any]:
        raise NotImplementedError

    def _from_row(self, row: mapping.Row) -> A:
        raise NotImplementedError

    def _out(self, row: Any) -> A:
        return self._kept(self._from_row(row._mapping))

    def _kept(self, obj: A) -> A:
        self._t.handed_out.append((self.table.name, obj))
        return obj

    def _rows(self, statement: Select[Any], params: dict[str, Any] | None = None) -> list[A]:
        return [self._out(r) for r in self._s.read(statement, params).all()]

    @property
    def _packs(self) -> bool:
        """Whether whole rows are read packed (SQLite: see ``packed``)."""
        return self._s.dialect == "sqlite"

    def _packed_rows(self, statement: Select[Any], params: dict[str, Any] | None = None) -> list[A]:
        """The rows of ``statement``, which selects this table's :class:`Packing`."""
        unpack = packing(self.table).row
        return [
            self._kept(self._from_row(unpack(r))) for r in self._s.read(statement, params).all()
        ]

    def _rows_of(self, statement: Select[Any], params: dict[str, Any] | None = None) -> list[A]:
        """The rows of ``statement``, a select of every column of this table: packed
        where the database is read that way."""
        if self._packs:
            return self._packed_rows(packing(self.table).select(statement), params)
        return self._rows(statement, params)

    def _one(self, statement: Select[Any], params: dict[str, Any] | None = None) -> A | None:
        row = self._s.read(statement, params).first()
        return None if row is None else self._out(row)

    def _by(self, column: str, value: str) -> A | None:
        """The row whose ``column`` equals ``value``. The statement is built once per
        table and column and reused with a bound parameter: building SQL expressions
        cost more than running these point lookups."""
        packs = self._packs
        key = (self.table.name, column, packs)
        statement = _POINT_LOOKUPS.get(key)
        if statement is None:
            statement = select(self.table).where(self.table.c[column] == bindparam("value"))
            if packs:
                statement = packing(self.table).select(statement)
            _POINT_LOOKUPS[key] = statement
        if not packs:
            found = self._s.read_mappings(statement, {"value": value})
            return self._kept(self._from_row(found[0])) if found else None
        rows = self._s.read_rows(statement, {"value": value})
        return self._kept(self._from_row(packing(self.table).row(rows[0]))) if rows else None

    def _get(self, row_id: str) -> A:
        found = self._by("id", row_id)
        if found is None:
            raise NotFound(f"{self.noun} not found")
        return found

    def _written(self, obj: A) -> None:
        self._t.handed_out.append((self.table.name, obj))
        self._t.written.add((self.table.name, obj.identity))

    def add(self, obj: A) -> None:
        row = self._to_row(obj)
        table = self.table

        def write(conn: Connection) -> None:
            conn.execute(insert(table).values(**row, version=1))
            self._after_insert(conn, obj)

        self._s.defer(write)
        self._s.wrote_version((table.name, obj.identity), 1)
        self._s.bump_after_commit(obj, 1)
        self._written(obj)

    def save(self, obj: A) -> None:
        row = self._to_row(obj)
        row.pop("id")
        table, noun, row_id = self.table, self.noun, obj.identity
        # A row this unit of work already wrote has its version bumped once already: check
        # and keep that one, whichever copy (of whichever version) is saved again.
        already = self._s.written_version((table.name, row_id))
        read_at = obj.version if already is None else already
        new_version = read_at + 1 if already is None else already

        def write(conn: Connection) -> None:
            changed = conn.execute(
                update(table)
                .where(table.c.id == row_id, table.c.version == read_at)
                .values(**row, version=new_version)
            )
            if changed.rowcount != 1:
                raise Conflict(f"{noun} {row_id} was changed by someone else", code=STALE_VERSION)
            self._after_update(conn, obj)

        self._s.defer(write)
        self._s.wrote_version((table.name, row_id), new_version)
        self._s.bump_after_commit(obj, new_version)
        self._written(obj)

    def _after_insert(self, conn: Connection, obj: A) -> None:
        """Hook for child rows (video tags)."""

    def _after_update(self, conn: Connection, obj: A) -> None:
        """Hook for child rows (video tags)."""

    def _delete(self, row_id: str) -> None:
        gone = self._s.write_now(delete(self.table).where(self.table.c.id == row_id))
        if gone.rowcount != 1:
            raise NotFound(f"{self.noun} not found")
        self._s.wrote_version((self.table.name, row_id), None)
        self._t.written.add((self.table.name, row_id))


def _bound(columns: Sequence[ColumnElement[Any]], bound: Sequence[Any]) -> ColumnElement[Any]:
    # Each value is bound with its column's type, so that an instant in any time zone is
    # converted the way stored ones were (SQLite keeps UTC without an offset).
    return tuple_(*(literal(v, type_=c.type) for c, v in zip(columns, bound, strict=True)))


def _after(columns: Sequence[ColumnElement[Any]], bound: Sequence[Any]) -> ColumnElement[bool]:
    return tuple_(*columns) > _bound(columns, bound)


def _before(columns: Sequence[ColumnElement[Any]], bound: Sequence[Any]) -> ColumnElement[bool]:
    return tuple_(*columns) < _bound(columns, bound)


class SqlUserRepository(_Repository[User]):
    table, noun = tables.users, "user"

    def _to_row(self, obj: User) -> dict[str, Any]:
        return mapping.user_row(obj)

    def _from_row(self, row: mapping.Row) -> User:
        return mapping.user_from(row)

    def get(self, user_id: UserId) -> User:
        return self._get(user_id)

    def delete(self, user_id: UserId) -> None:
        self._delete(user_id)  # the tokens go with it (ON DELETE CASCADE)

    def lock(self, user_id: UserId) -> None:
        t = self.table
        query = select(t.c.id).where(t.c.id == user_id)
        if self._s.dialect != "sqlite":
            query = query.with_for_update()  # the row, until commit or rollback
        # As a write: on SQLite it begins the transaction with BEGIN IMMEDIATE, which
        # takes the database's one write lock until the end.
        self._s.write_now(query)

    def find_by_email(self, email: str) -> User | None:
        return self._by("email", email.strip().lower())

    def list_page(self, after: tuple[datetime, str] | None, limit: int) -> list[User]:
        t = self.table
        query = select(t).order_by(t.c.created_at, t.c.id).limit(limit)
        if after is not None:
            query = query.where(_after((t.c.created_at, t.c.id), after))
        return self._rows(query)

    def list_active_with_role(self, role: str) -> list[User]:
        wanted = Role(role).value
        t = self.table
        padded = literal(",") + t.c.roles + literal(",")
        return self._rows(
            select(t)
            .where(t.c.status == UserStatus.ACTIVE.value, padded.like(f"%,{wanted},%"))
            .order_by(t.c.created_at, t.c.id)
        )

    def search(self, text: str, limit: int) -> list[User]:
        t = self.table
        held = "%" + like_escaped(text.lower()) + "%"
        return self._rows(
            select(t)
            .where(
                or_(
                    func.lower(t.c.email).like(held, escape="\\"),
                    func.lower(t.c.display_name).like(held, escape="\\"),
                )
            )
            .order_by(t.c.created_at.desc(), t.c.id.desc())
            .limit(limit)
        )


class SqlTokenRepository(_Repository[ApiToken]):
    table, noun = tables.api_tokens, "token"

    def _to_row(self, obj: ApiToken) -> dict[str, Any]:
        return mapping.token_row(obj)

    def _from_row(self, row: mapping.Row) -> ApiToken:
        return mapping.token_from(row)

    def get(self, token_id: TokenId) -> ApiToken:
        return self._get(token_id)

    def find_by_hash(self, token_hash: str) -> ApiToken | None:
        return self._by("token_hash", token_hash)

    def find_with_user(self, token_hash: str) -> tuple[ApiToken, User] | None:
        t, u = self.table, tables.users
        packs = self._packs
        statement = _WITH_USER.get(packs)
        if statement is None:
            joined = t.join(u, u.c.id == t.c.user_id)
            columns = (
                [packing(t).column(t), packing(u).column(u)]
                if packs
                else [
                    *(c.label(f"t_{c.name}") for c in t.c),
                    *(c.label(f"u_{c.name}") for c in u.c),
                ]
            )
            statement = (
                select(*columns).select_from(joined).where(t.c.token_hash == bindparam("value"))
            )
            _WITH_USER[packs] = statement
        if packs:
            rows = self._s.read_rows(statement, {"value": token_hash})
            if not rows:
                return None
            token_text, user_text = rows[0]
            token_row, user_row = packing(t).row((token_text,)), packing(u).row((user_text,))
        else:
            rows_found = self._s.read_mappings(statement, {"value": token_hash})
            if not rows_found:
                return None
            found = rows_found[0]
            token_row = {c.name: found[f"t_{c.name}"] for c in t.c}
            user_row = {c.name: found[f"u_{c.name}"] for c in u.c}
        user = mapping.user_from(user_row)
        self._t.handed_out.append((u.name, user))
        return self._kept(self._from_row(token_row)), user

    def list_for_user(self, user_id: UserId) -> list[ApiToken]:
        t = self.table
        return self._rows(
            select(t).where(t.c.user_id == user_id).order_by(t.c.created_at.desc(), t.c.id.desc())
        )

    def list_expired(self, kind: TokenKind, now: datetime, limit: int) -> list[ApiToken]:
        t = self.table
        return self._rows(
            select(t)
            .where(t.c.kind == kind.value, t.c.revoked_at.is_(None), t.c.expires_at <= now)
            .order_by(t.c.expires_at, t.c.id)
            .limit(limit)
        )


def listed_videos(query: VideoListQuery) -> list[ColumnElement[bool]]:
    """The conditions on ``tables.videos`` under which ``query`` lets a video into a
    list: its visibility rule and its filters (not its order or bound)."""
    t = tables.videos
    conditions: list[ColumnElement[bool]] = []
    if query.owner_id is not None:
        conditions.append(t.c.owner_id == query.owner_id)
    if query.category_id is not None:
        conditions.append(t.c.category_id == query.category_id)
    if query.tag is not None:
        tagged = select(tables.video_tags.c.video_id).where(tables.video_tags.c.tag == query.tag)
        conditions.append(t.c.id.in_(tagged))
    if query.see_all:
        return conditions
    public = and_(
        t.c.visibility == Visibility.PUBLIC.value,
        t.c.status == VideoStatus.READY.value,
        t.c.owner_disabled == false(),
    )
    if query.viewer_id is None:
        conditions.append(public)
    else:
        conditions.append(or_(public, t.c.owner_id == query.viewer_id))
    return conditions


@frozen
class _ListShape:
    """Which parts a list query has: one statement per shape, its values bound."""

    sort: VideoSort
    see_all: bool
    viewer: bool
    owner: bool
    category: bool
    visibility: bool
    status: bool
    reprocessing: bool
    tag: bool
    after: bool
    own: bool
    """The viewer lists their own videos: they see every one of them."""
    packed: bool
    """Whole rows read packed (SQLite: see ``packed``)."""
    documents: bool = False
    """The videos' stored documents read, not the videos (see ``documents``)."""


# Built once per shape and reused with bound values: building the SQL expression of a
# list cost more than running it on a page of 20.
_LIST_PAGES: dict[_ListShape, Select[Any]] = {}


def _video_list(shape: _ListShape) -> Select[Any]:
    t = tables.videos
    sort_col = t.c.view_count if shape.sort is VideoSort.MOST_VIEWED else t.c.created_at
    filters: list[ColumnElement[bool]] = []
    if shape.owner:
        filters.append(t.c.owner_id == bindparam("owner_id"))
    if shape.category:
        filters.append(t.c.category_id == bindparam("category_id"))
    if shape.visibility:
        filters.append(t.c.visibility == bindparam("visibility"))
    if shape.status:
        filters.append(t.c.status == bindparam("status"))
    if shape.reprocessing:
        filters.append(t.c.reprocessing == bindparam("reprocessing", type_=t.c.reprocessing.type))
    if shape.tag:
        tagged = select(tables.video_tags.c.video_id).where(
            tables.video_tags.c.tag == bindparam("tag")
        )
        filters.append(t.c.id.in_(tagged))
    if shape.after:
        # Each bound takes its column's type, so that an instant in any time zone is
        # converted the way stored ones were (SQLite keeps UTC without an offset).
        bound = tuple_(
            bindparam("after_sort", type_=sort_col.type), bindparam("after_id", type_=t.c.id.type)
        )
        filters.append(tuple_(sort_col, t.c.id) < bound)
    limit = bindparam("limit", type_=Integer)
    public = and_(
        t.c.visibility == Visibility.PUBLIC.value,
        t.c.status == VideoStatus.READY.value,
        t.c.owner_disabled == false(),
    )

    listed = (t.c.id, t.c.created_at, t.c.view_count) if shape.documents else (t,)

    def branch(*conditions: ColumnElement[bool]) -> Select[Any]:
        return (
            select(*listed)
            .where(*filters, *conditions)
            .order_by(sort_col.desc(), t.c.id.desc())
            .limit(limit)
        )

    if shape.documents:
        sort_name = sort_col.name
        if shape.see_all or shape.own:
            return documents.listing(branch(), sort_name, shape.packed)
        if not shape.viewer:
            return documents.listing(branch(public), sort_name, shape.packed)
    pack = packing(t)
    if shape.see_all or shape.own:
        return pack.page(branch()) if shape.packed else branch()
    if not shape.viewer:
        return pack.page(branch(public)) if shape.packed else branch(public)
    # Two index-ordered branches (public videos, the viewer's own others) merged,
    # instead of an OR that would defeat the indexes.
    viewer = bindparam("viewer_id", type_=t.c.owner_id.type)
    merged = union_all(
        branch(public).subquery().select(),
        branch(t.c.owner_id == viewer, ~public).subquery().select(),
    ).subquery()
    outer_sort = merged.c.view_count if shape.sort is VideoSort.MOST_VIEWED else merged.c.created_at
    outer = select(merged).order_by(outer_sort.desc(), merged.c.id.desc()).limit(limit)
    if shape.documents:
        return documents.listing(outer, sort_col.name, shape.packed)
    return pack.page(outer, merged) if shape.packed else outer


class SqlVideoRepository(_Repository[Video]):
    table, noun = tables.videos, "video"

    def __init__(self, session: SqlSession, tracker: Tracker) -> None:
        super().__init__(session, tracker)
        # Each written video's document, built as its row is (see ``documents``).
        self._documents: dict[str, str] = {}

    def _to_row(self, obj: Video) -> dict[str, Any]:
        self._documents[obj.id] = document_json(obj)
        return mapping.video_row(obj)

    def _from_row(self, row: mapping.Row) -> Video:
        return mapping.video_from(row)

    def get(self, video_id: VideoId) -> Video:
        return self._get(video_id)

    def delete(self, video_id: VideoId) -> None:
        self._delete(video_id)

    def _after_insert(self, conn: Connection, obj: Video) -> None:
        if obj.tags:
            conn.execute(
                insert(tables.video_tags), [{"video_id": obj.id, "tag": tag} for tag in obj.tags]
            )
        documents.store(conn, [(obj.id, self._documents[obj.id])])

    def _after_update(self, conn: Connection, obj: Video) -> None:
        conn.execute(delete(tables.video_tags).where(tables.video_tags.c.video_id == obj.id))
        self._after_insert(conn, obj)

    def increment_views(self, video_id: VideoId, by: int = 1) -> None:
        t = self.table
        done = self._s.write_now(
            update(t).where(t.c.id == video_id).values(view_count=t.c.view_count + by)
        )
        if done.rowcount != 1:
            raise NotFound("video not found")

    def set_owner_disabled(self, owner_id: UserId, disabled: bool) -> None:
        t = self.table
        self._s.write_now(update(t).where(t.c.owner_id == owner_id).values(owner_disabled=disabled))

    def _list(
        self, query: VideoListQuery, limit: int, listing_documents: bool
    ) -> tuple[Select[Any], dict[str, Any], bool]:
        """The statement of a list's shape (built once per shape), its values, and
        whether it reads the page packed."""
        shape = _ListShape(
            sort=query.sort,
            see_all=query.see_all,
            viewer=query.viewer_id is not None,
            owner=query.owner_id is not None,
            category=query.category_id is not None,
            visibility=query.visibility is not None,
            status=query.status is not None,
            reprocessing=query.reprocessing is not None,
            tag=query.tag is not None,
            after=query.after is not None,
            # Public or not, a viewer's own videos are theirs to see: one index-ordered
            # range of the owner's rows instead of two branches merged.
            own=query.viewer_id is not None and query.owner_id == query.viewer_id,
            packed=self._packs,
            documents=listing_documents,
        )
        statement = _LIST_PAGES.get(shape)
        if statement is None:
            statement = _LIST_PAGES.setdefault(shape, _video_list(shape))
        params: dict[str, Any] = {
            "limit": limit,
            "viewer_id": query.viewer_id,
            "owner_id": query.owner_id,
            "category_id": query.category_id,
            "visibility": None if query.visibility is None else query.visibility.value,
            "status": None if query.status is None else query.status.value,
            "reprocessing": query.reprocessing,
            "tag": query.tag,
        }
        if query.after is not None:
            params["after_sort"], params["after_id"] = query.after
        return statement, params, shape.packed

    def list_page(self, query: VideoListQuery, limit: int) -> list[Video]:
        statement, params, packed = self._list(query, limit, listing_documents=False)
        if not packed:
            return [
                self._kept(self._from_row(row)) for row in self._s.read_mappings(statement, params)
            ]
        # SQLite: the page as one value (see ``packed``), in the list's order.
        page = self._s.read_rows(statement, params)[0]
        sort = "view_count" if query.sort is VideoSort.MOST_VIEWED else "created_at"
        rows = packing(self.table).rows(page, (sort, "id"), descending=True)
        return [self._kept(self._from_row(row)) for row in rows]

    def list_documents(self, query: VideoListQuery, limit: int) -> list[ListedVideo]:
        statement, params, packed = self._list(query, limit, listing_documents=True)
        sort = "view_count" if query.sort is VideoSort.MOST_VIEWED else "created_at"
        found: list[documents.Found]
        if packed:
            found = documents.unpack(self._s.read_rows(statement, params)[0][0], sort)
        else:
            found = [
                (r["id"], r["created_at"], r["view_count"], r["shape"], r["document"])
                for r in self._s.read_mappings(statement, params)
            ]
        return documents.listed(found, self.by_ids)

    def by_ids(self, ids: list[str]) -> list[Video]:
        """The videos of ``ids`` that exist, in no particular order (a page of search
        results, ordered by the search)."""
        t = self.table
        return self._rows_of(select(t).where(t.c.id.in_(ids))) if ids else []

    def page_by_id(self, after: VideoId | None, limit: int) -> list[Video]:
        t = self.table
        statement = select(t).order_by(t.c.id).limit(limit)
        return self._rows(statement if after is None else statement.where(t.c.id > after))

    def all_ids(self) -> list[VideoId]:
        t = self.table
        return [VideoId(r[0]) for r in self._s.read(select(t.c.id).order_by(t.c.id))]

    def list_by_category(self, category_id: CategoryId) -> list[VideoId]:
        t = self.table
        rows = self._s.read(select(t.c.id).where(t.c.category_id == category_id).order_by(t.c.id))
        return [VideoId(r[0]) for r in rows]

    def count_by_status(self) -> dict[VideoStatus, int]:
        t = self.table
        rows: Sequence[Sequence[Any]] = self._s.read(
            select(t.c.status, func.count()).group_by(t.c.status)
        ).all()
        return {VideoStatus(row[0]): int(row[1]) for row in rows}

    def usage(self, owner_id: UserId) -> tuple[int, int]:
        t = self.table
        totals: Sequence[Any] = self._s.read(
            select(func.count(), func.coalesce(func.sum(t.c.source_size), 0)).where(
                t.c.owner_id == owner_id
            )
        ).one()
        return int(totals[0]), int(totals[1])


class SqlCaptionRepository(_Repository[CaptionTrack]):
    table, noun = tables.caption_tracks, "caption track"

    def _to_row(self, obj: CaptionTrack) -> dict[str, Any]:
        return mapping.caption_row(obj)

    def _from_row(self, row: mapping.Row) -> CaptionTrack:
        return mapping.caption_from(row)

    def get(self, track_id: CaptionId) -> CaptionTrack:
        return self._get(track_id)

    def find(self, video_id: VideoId, language: str) -> CaptionTrack | None:
        t = self.table
        return self._one(select(t).where(t.c.video_id == video_id, t.c.language == language))

    def list_for_video(self, video_id: VideoId) -> list[CaptionTrack]:
        t = self.table
        # A language is unique per video: the unique index gives the order, no sort.
        return self._rows(select(t).where(t.c.video_id == video_id).order_by(t.c.language))

    def delete(self, track_id: CaptionId) -> None:
        self._delete(track_id)

    def delete_for_video(self, video_id: VideoId) -> None:
        t = self.table
        gone = self._s.write_now(delete(t).where(t.c.video_id == video_id).returning(t.c.id))
        for (row_id,) in gone:
            self._s.wrote_version((t.name, row_id), None)
            self._t.written.add((t.name, row_id))


class SqlUploadRepository(_Repository[ResumableUpload]):
    table, noun = tables.resumable_uploads, "upload"

    def _to_row(self, obj: ResumableUpload) -> dict[str, Any]:
        return mapping.upload_row(obj)

    def _from_row(self, row: mapping.Row) -> ResumableUpload:
        return mapping.upload_from(row)

    def get(self, upload_id: UploadId) -> ResumableUpload:
        return self._get(upload_id)

    def delete(self, upload_id: UploadId) -> None:
        self._delete(upload_id)

    def list_expired(self, now: datetime, limit: int) -> list[ResumableUpload]:
        t = self.table
        return self._rows(
            select(t).where(t.c.expires_at <= now).order_by(t.c.expires_at, t.c.id).limit(limit)
        )

    def pending(self, owner_id: UserId, now: datetime) -> tuple[int, int]:
        t = self.table
        totals: Sequence[Any] = self._s.read(
            select(func.count(), func.coalesce(func.sum(t.c.length), 0)).where(
                t.c.owner_id == owner_id, t.c.result_kind.is_(None), t.c.expires_at > now
            )
        ).one()
        return int(totals[0]), int(totals[1])

    def list_for_owner(self, owner_id: UserId) -> list[ResumableUpload]:
        t = self.table
        return self._rows(select(t).where(t.c.owner_id == owner_id).order_by(t.c.id))


class SqlFileRepository(_Repository[StoredFile]):
    table, noun = tables.files, "file"

    def _to_row(self, obj: StoredFile) -> dict[str, Any]:
        return mapping.file_row(obj)

    def _from_row(self, row: mapping.Row) -> StoredFile:
        return mapping.file_from(row)

    def get(self, file_id: FileId) -> StoredFile:
        return self._get(file_id)

    def delete(self, file_id: FileId) -> None:
        self._delete(file_id)

    def list_folder(
        self, owner_id: UserId, folder: FolderPath, after: tuple[str, str] | None, limit: int
    ) -> list[StoredFile]:
        t = self.table
        query = (
            select(t)
            .where(t.c.owner_id == owner_id, t.c.folder == folder.value)
            # A name is unique within a folder, so ordering by name alone is the port's
            # (name, id) order, and it walks the unique index instead of sorting.
            .order_by(t.c.name)
            .limit(limit)
        )
        if after is not None:
            # name >= bound lets the index seek; the tuple test keeps (name, id) keyset
            # semantics exact, so a probe from (name, "") still finds that very name.
            query = query.where(t.c.name >= after[0], _after((t.c.name, t.c.id), after))
        return self._rows(query)

    def names(self, owner_id: UserId, limit: int) -> list[tuple[FileId, str, str]]:
        t = self.table
        rows = self._s.read(
            select(t.c.id, t.c.folder, t.c.name)
            .where(t.c.owner_id == owner_id)
            .order_by(t.c.folder, t.c.name)  # the (owner, folder, name) index's order
            .limit(limit)
        )
        return [(FileId(r.id), r.folder, r.name) for r in rows]

    def subfolders(self, owner_id: UserId, folder: FolderPath) -> list[str]:
        t = self.table
        prefix = "/" if folder.value == "/" else folder.value + "/"
        escaped = like_escaped(prefix)
        rows = self._s.read(
            select(t.c.folder)
            .distinct()
            .where(t.c.owner_id == owner_id, t.c.folder.like(escaped + "%", escape="\\"))
        )
        names = {
            child for (path,) in rows if (child := FolderPath(path).child_of(folder)) is not None
        }
        return sorted(names)

    def usage(self, owner_id: UserId) -> tuple[int, int]:
        t = self.table
        totals: Sequence[Any] = self._s.read(
            select(func.count(), func.coalesce(func.sum(t.c.size), 0)).where(
                t.c.owner_id == owner_id
            )
        ).one()
        return int(totals[0]), int(totals[1])

    def list_for_owner(self, owner_id: UserId, limit: int) -> list[StoredFile]:
        t = self.table
        return self._rows(select(t).where(t.c.owner_id == owner_id).order_by(t.c.id).limit(limit))


class SqlShareRepository(_Repository[Share]):
    table, noun = tables.shares, "share"

    def _to_row(self, obj: Share) -> dict[str, Any]:
        return mapping.share_row(obj)

    def _from_row(self, row: mapping.Row) -> Share:
        return mapping.share_from(row)

    def get(self, share_id: ShareId) -> Share:
        return self._get(share_id)

    def find_by_token_hash(self, token_hash: str) -> Share | None:
        return self._by("token_hash", token_hash)

    def list_for_owner(
        self, owner_id: UserId, after: tuple[datetime, str] | None, limit: int
    ) -> list[Share]:
        t = self.table
        query = (
            select(t)
            .where(t.c.owner_id == owner_id)
            .order_by(t.c.created_at.desc(), t.c.id.desc())
            .limit(limit)
        )
        if after is not None:
            query = query.where(_before((t.c.created_at, t.c.id), after))
        return self._rows(query)

    def list_for_target(self, target: ShareTarget) -> list[Share]:
        t = self.table
        return self._rows(
            select(t)
            .where(t.c.target_kind == target.kind.value, t.c.target_id == target.id)
            .order_by(t.c.created_at, t.c.id)
        )

    def delete(self, share_id: ShareId) -> None:
        self._delete(share_id)


class SqlCategoryRepository(_Repository[Category]):
    table, noun = tables.categories, "category"

    def _to_row(self, obj: Category) -> dict[str, Any]:
        return mapping.category_row(obj)

    def _from_row(self, row: mapping.Row) -> Category:
        return mapping.category_from(row)

    def get(self, category_id: CategoryId) -> Category:
        return self._get(category_id)

    def delete(self, category_id: CategoryId) -> None:
        self._delete(category_id)

    def list_all(self) -> list[Category]:
        t = self.table
        return self._rows(select(t).order_by(t.c.slug, t.c.id))


class SqlAuditLog:
    """Appends extend the hash chain under a lock on its head row, so the chain never
    forks however many writers append at once."""

    def __init__(self, session: SqlSession) -> None:
        self._s = session

    def append(self, event: AuditEvent) -> None:
        content = mapping.audit_content(event)

        def write(conn: Connection) -> None:
            head = tables.audit_head
            locked = select(head.c.last_hash).where(head.c.singleton == 1)
            if conn.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already serializes
                locked = locked.with_for_update()
            prev = conn.execute(locked).scalar_one()
            digest = event_hash(prev, content)
            conn.execute(insert(tables.audit_events).values(**content, prev_hash=prev, hash=digest))
            conn.execute(update(head).where(head.c.singleton == 1).values(last_hash=digest))

        self._s.defer(write)

    def search(self, query: AuditQuery, limit: int) -> list[AuditEvent]:
        t = tables.audit_events
        conditions: list[ColumnElement[bool]] = []
        if query.actor_id is not None:
            conditions.append(t.c.actor_id == query.actor_id)
        if query.action is not None:
            conditions.append(t.c.action == query.action.value)
        if query.resource_type is not None:
            conditions.append(t.c.resource_type == query.resource_type)
        if query.resource_id is not None:
            conditions.append(t.c.resource_id == query.resource_id)
        if query.result is not None:
            conditions.append(t.c.result == query.result.value)
        if query.since is not None:
            conditions.append(t.c.occurred_at >= query.since)
        if query.until is not None:
            conditions.append(t.c.occurred_at < query.until)
        if query.after is not None:
            conditions.append(_before((t.c.occurred_at, t.c.id), query.after))
        rows = self._s.read(
            select(t)
            .where(*conditions)
            .order_by(t.c.occurred_at.desc(), t.c.id.desc())
            .limit(limit)
        )
        return [mapping.audit_from(r._mapping) for r in rows]


class SqlOutbox:
    def __init__(self, session: SqlSession, tracer: Tracer | None = None) -> None:
        self._s = session
        self._tracer = tracer

    def add(self, message: OutboxMessage) -> None:
        trace = dict(message.trace)
        if not trace and self._tracer is not None:
            trace = self._tracer.carrier()
        values = {
            "id": message.id,
            "topic": message.topic,
            "aggregate": message.key,
            "payload": dict(message.payload),
            "created_at": message.created_at,
            "attempts": message.attempts,
            "trace": trace or None,
        }

        def write(conn: Connection) -> None:
            conn.execute(insert(tables.outbox).values(**values))

        self._s.defer(write)
        if self._s.dialect == "postgresql":
            # Relays listening in other processes look at once when this commits.
            self._s.defer_once(NOTIFY_KEY, notify_outbox)

    def pending(self, limit: int) -> list[OutboxMessage]:
        t = tables.outbox
        rows = self._s.read(select(t).where(t.c.sent_at.is_(None)).order_by(t.c.seq).limit(limit))
        return [_outbox_message(r) for r in rows]

    def backlog(self) -> tuple[int, datetime | None]:
        t = tables.outbox
        row: Sequence[Any] = self._s.read(
            select(func.count(), func.min(t.c.created_at)).where(t.c.sent_at.is_(None))
        ).one()
        return int(row[0]), row[1]

    def claim(self, limit: int, now: datetime, lease: timedelta) -> list[OutboxMessage]:
        t = tables.outbox
        if self._s.dialect != "sqlite":
            # Claimers take turns (on SQLite, BEGIN IMMEDIATE already makes writers take
            # turns): each sees the claims committed before it, so no two relays hold
            # messages of one key at once. A claim is one short statement.
            self._s.write_now(select(func.pg_advisory_xact_lock(OUTBOX_CLAIM_LOCK)))
        earlier = t.alias("earlier")
        held_earlier = (
            select(earlier.c.seq)
            .where(
                earlier.c.aggregate == t.c.aggregate,
                earlier.c.seq < t.c.seq,
                earlier.c.sent_at.is_(None),
                earlier.c.claimed_until > now,
            )
            .exists()
        )
        claimable = (
            select(t.c.seq)
            .where(
                t.c.sent_at.is_(None),
                or_(t.c.claimed_until.is_(None), t.c.claimed_until <= now),
                ~held_earlier,
            )
            .order_by(t.c.seq)
            .limit(limit)
        )
        claimed = self._s.write_now(
            update(t)
            .where(
                t.c.seq.in_(claimable.scalar_subquery()),
                # Again on the row itself: PostgreSQL rechecks only these conditions on a
                # row that changed while this statement waited for it.
                t.c.sent_at.is_(None),
                or_(t.c.claimed_until.is_(None), t.c.claimed_until <= now),
            )
            .values(claimed_until=now + lease)
            .returning(*t.c)
        )
        return sorted((_outbox_message(r) for r in claimed), key=lambda m: m.seq)

    def release(self, ids: Sequence[str], retry_at: datetime) -> None:
        if not ids:
            return
        t = tables.outbox
        wanted = list(ids)

        def write(conn: Connection) -> None:
            conn.execute(
                update(t)
                .where(t.c.id.in_(wanted), t.c.sent_at.is_(None))
                .values(claimed_until=retry_at, attempts=t.c.attempts + 1)
            )

        self._s.defer(write)

    def mark_sent(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        t = tables.outbox
        wanted = list(ids)
        stamp = func.current_timestamp()

        def write(conn: Connection) -> None:
            conn.execute(
                update(t).where(t.c.id.in_(wanted), t.c.sent_at.is_(None)).values(sent_at=stamp)
            )

        self._s.defer(write)

    def prune(self, sent_before: datetime, limit: int) -> int:
        t = tables.outbox
        oldest = (
            select(t.c.seq)
            .where(t.c.sent_at.is_not(None), t.c.sent_at < sent_before)
            .order_by(t.c.seq)
            .limit(limit)
        )
        result = self._s.write_now(delete(t).where(t.c.seq.in_(oldest.scalar_subquery())))
        return result.rowcount or 0


# The PostgreSQL advisory lock that outbox claimers take turns on.
OUTBOX_CLAIM_LOCK = 0x76_6964_656F_0001


def _outbox_message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        row.id,
        row.topic,
        row.payload,
        row.created_at,
        row.attempts,
        key=row.aggregate,
        seq=row.seq,
        trace=row.trace or {},
    )


HELD, DONE = "held", "done"


class SqlEventReceipts:
    def __init__(self, session: SqlSession) -> None:
        self._s = session

    def _row(self, subscription: str, event_id: str) -> ColumnElement[bool]:
        t = tables.event_receipts
        return and_(t.c.subscription == subscription, t.c.event_id == event_id)

    def handled(self, subscription: str, event_id: str) -> bool:
        t = tables.event_receipts
        row = self._s.read(select(t.c.state).where(self._row(subscription, event_id))).first()
        return row is not None and row.state == DONE

    def held_before(self, subscription: str, key: str, seq: int, since: datetime) -> bool:
        t = tables.event_receipts
        row = self._s.read(
            select(t.c.event_id)
            .where(
                t.c.subscription == subscription,
                t.c.aggregate == key,
                t.c.state == HELD,
                t.c.seq < seq,
                t.c.recorded_at >= since,
            )
            .limit(1)
        ).first()
        return row is not None

    def hold(self, subscription: str, event_id: str, key: str, seq: int, at: datetime) -> None:
        self._record(subscription, event_id, {"aggregate": key, "seq": seq, "state": HELD}, at)

    def done(self, subscription: str, event_id: str, key: str, seq: int, at: datetime) -> None:
        self._record(subscription, event_id, {"aggregate": key, "seq": seq, "state": DONE}, at)

    def _record(
        self, subscription: str, event_id: str, values: dict[str, Any], at: datetime
    ) -> None:
        t = tables.event_receipts
        where = self._row(subscription, event_id)

        def write(conn: Connection) -> None:
            changed = conn.execute(update(t).where(where).values(**values, recorded_at=at))
            if changed.rowcount == 0:
                conn.execute(
                    insert(t).values(
                        subscription=subscription, event_id=event_id, recorded_at=at, **values
                    )
                )

        self._s.defer(write)

    def give_up(self, subscription: str, event_id: str) -> None:
        where = and_(self._row(subscription, event_id), tables.event_receipts.c.state == HELD)

        def write(conn: Connection) -> None:
            conn.execute(delete(tables.event_receipts).where(where))

        self._s.defer(write)

    def prune(self, before: datetime) -> int:
        t = tables.event_receipts
        result = self._s.write_now(delete(t).where(t.c.recorded_at < before))
        return result.rowcount or 0
