"""Committed state shared by every in-memory unit of work, and its transactions."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Hashable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs

from videoplatform.application.ports.persistence import STALE_VERSION, OutboxMessage
from videoplatform.application.ports.search import VideoDocument
from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.audit import AuditEvent
from videoplatform.domain.errors import Conflict, NotFound

A = TypeVar("A", bound=Aggregate)

UniqueKey = Callable[[Any], Hashable | None]

# Uniqueness rules per table: name -> (key of a row or None, error code).
UNIQUE: dict[str, dict[str, tuple[UniqueKey, str]]] = {
    "users": {"email": (lambda u: u.email.value, "email_taken")},
    "tokens": {"hash": (lambda t: t.token_hash, "token_exists")},
    "shares": {"hash": (lambda s: s.token_hash, "share_exists")},
    "categories": {"slug": (lambda c: c.slug, "category_exists")},
    "files": {"path": (lambda f: (f.owner_id, f.folder.value, f.name), "file_exists")},
    "captions": {"language": (lambda c: (c.video_id, c.language), "caption_exists")},
}
# Columns that ``save`` never overwrites because another operation owns them.
PRESERVED: dict[str, tuple[str, ...]] = {"videos": ("view_count", "owner_disabled")}


def snapshot(obj: A) -> A:
    """A private copy without pending events, so stored rows never alias live objects."""
    clone = copy.deepcopy(obj)
    clone.pull_events()
    return clone


@attrs.frozen
class Receipt:
    key: str
    seq: int
    state: str  # "held" or "done"
    at: datetime


class MemoryDatabase:
    """The committed data. Thread-safe; share one instance between units of work."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, dict[str, Aggregate]] = {
            name: {}
            for name in (
                "users",
                "tokens",
                "videos",
                "files",
                "shares",
                "categories",
                "uploads",
                "captions",
            )
        }
        self.audit: list[AuditEvent] = []
        self.outbox: dict[str, OutboxMessage] = {}
        self.outbox_seq = itertools.count(1)
        self.sent: set[str] = set()
        self.sent_at: dict[str, datetime] = {}  # when (this process's clock) it was sent
        self.claimed_until: dict[str, datetime] = {}
        # Event receipts: (subscription, event id) -> receipt.
        self.receipts: dict[tuple[str, str], Receipt] = {}
        # Row locks (``lock``): held by one transaction until it commits or rolls back.
        self.row_locks: dict[str, threading.Lock] = {}
        # Owners whose videos are hidden (``owner_disabled``, set owner-wide).
        self.disabled_owners: set[str] = set()
        # The search index: video id -> what the video is found by.
        self.search: dict[str, VideoDocument] = {}
        # Search analytics: (query, results, at) and (query, video id, position, at).
        self.search_queries: list[tuple[str, int, datetime]] = []
        self.search_clicks: list[tuple[str, str, int, datetime]] = []
        # Searches of queries whose results held a public video: (query, at).
        self.search_popular: list[tuple[str, datetime]] = []


LOCK_TIMEOUT_SECONDS = 30.0


def still_popular(
    searches: list[tuple[str, datetime]], before: datetime
) -> list[tuple[str, datetime]]:
    """The searches of popular queries that a prune keeps: every search of a query last
    searched at or after ``before`` (the SQL log keeps one row per query, its count and
    its last search, and forgets the row when that is older)."""
    last: dict[str, datetime] = {}
    for query, at in searches:
        last[query] = max(at, last.get(query, at))
    return [(query, at) for query, at in searches if last[query] >= before]


class Transaction:
    """Changes staged by one unit of work, applied all at once by :meth:`commit`."""

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        # table -> id -> (staged copy, version it was read at or None for an insert)
        self.writes: dict[str, dict[str, tuple[Aggregate, int | None]]] = {
            name: {} for name in db.tables
        }
        self.deletes: dict[str, set[str]] = {name: set() for name in db.tables}
        self.increments: dict[str, dict[str, dict[str, int]]] = {name: {} for name in db.tables}
        self.audit: list[AuditEvent] = []
        self.outbox: list[OutboxMessage] = []
        self.sent: set[str] = set()
        self.pruned: set[str] = set()
        # Outbox claims: id -> (the claim's "now", claimed until); releases: id -> retry at.
        self.claims: dict[str, tuple[datetime, datetime]] = {}
        self.releases: dict[str, datetime] = {}
        self.owners: dict[str, bool] = {}  # owner id -> owner_disabled, staged
        self.receipts: dict[tuple[str, str], Receipt | None] = {}  # None: removed
        self.search: dict[str, VideoDocument | None] = {}  # None: removed
        self.search_queries: list[tuple[str, int, datetime]] = []
        self.search_clicks: list[tuple[str, str, int, datetime]] = []
        self.search_popular: list[tuple[str, datetime]] = []
        self.search_log_pruned_before: datetime | None = None
        self.held: list[threading.Lock] = []
        self.live: list[Aggregate] = []

    # -- reads --------------------------------------------------------------------------

    def row(self, table: str, row_id: str) -> Aggregate | None:
        if row_id in self.deletes[table]:
            return None
        staged = self.writes[table].get(row_id)
        if staged is not None:
            return self._with_increments(table, staged[0])
        with self.db.lock:
            found = self.db.tables[table].get(row_id)
        return None if found is None else self._with_increments(table, found)

    def rows(self, table: str) -> Iterator[Aggregate]:
        """Every visible row (committed overlaid by staged). Rows are shared, not copies:
        callers copy what they hand out."""
        with self.db.lock:
            committed = dict(self.db.tables[table])
        for row_id, obj in committed.items():
            if row_id in self.deletes[table] or row_id in self.writes[table]:
                continue
            yield self._with_increments(table, obj)
        for obj, _ in self.writes[table].values():
            yield self._with_increments(table, obj)

    def _with_increments(self, table: str, obj: Aggregate) -> Aggregate:
        """This transaction's own pending increments, and the owner-wide flag of videos,
        as SQL would show them to it."""
        pending = self.increments[table].get(obj.identity)
        hidden = self._owner_disabled(obj) if table == "videos" else None
        if not pending and (hidden is None or hidden == getattr(obj, "owner_disabled", None)):
            return obj
        seen = snapshot(obj)
        for column, by in (pending or {}).items():
            setattr(seen, column, getattr(seen, column) + by)
        if hidden is not None:
            setattr(seen, "owner_disabled", hidden)  # noqa: B010 - any video row
        return seen

    def _owner_disabled(self, video: Aggregate) -> bool:
        owner = str(getattr(video, "owner_id", ""))
        if owner in self.owners:
            return self.owners[owner]
        with self.db.lock:
            return owner in self.db.disabled_owners

    # -- writes -------------------------------------------------------------------------

    def insert(self, table: str, obj: Aggregate) -> None:
        if self.row(table, obj.identity) is not None:
            raise Conflict(f"{table}: {obj.identity} already exists")
        self._check_unique(table, obj)
        self.deletes[table].discard(obj.identity)
        self.writes[table][obj.identity] = (snapshot(obj), None)
        self.live.append(obj)

    def update(self, table: str, obj: Aggregate) -> None:
        row_id = obj.identity
        staged = self.writes[table].get(row_id)
        if staged is not None:
            read_at = staged[1]
        else:
            if self.row(table, row_id) is None:
                raise NotFound(f"{table}: {row_id} not found")
            read_at = obj.version
        self._check_unique(table, obj)
        staged_copy = snapshot(obj)
        # The copy may include this transaction's own increments (reads show them); they
        # are applied once at commit, so take them out of what is staged.
        for column, by in self.increments[table].get(row_id, {}).items():
            setattr(staged_copy, column, getattr(staged_copy, column) - by)
        self.writes[table][row_id] = (staged_copy, read_at)
        self.live.append(obj)

    def set_owner_disabled(self, owner_id: str, disabled: bool) -> None:
        self.owners[owner_id] = disabled

    def delete(self, table: str, row_id: str) -> None:
        if self.row(table, row_id) is None:
            raise NotFound(f"{table}: {row_id} not found")
        self.writes[table].pop(row_id, None)
        self.deletes[table].add(row_id)

    def increment(self, table: str, row_id: str, column: str, by: int) -> None:
        if self.row(table, row_id) is None:
            raise NotFound(f"{table}: {row_id} not found")
        per_row = self.increments[table].setdefault(row_id, {})
        per_row[column] = per_row.get(column, 0) + by

    def _check_unique(self, table: str, obj: Aggregate) -> None:
        for key_of, code in UNIQUE.get(table, {}).values():
            key = key_of(obj)
            if key is None:
                continue
            for other in self.rows(table):
                if other.identity != obj.identity and key_of(other) == key:
                    raise Conflict(f"{table}: duplicate {code}", code=code)

    def lock(self, key: str) -> None:
        """Hold ``key`` until :meth:`release` (at commit or rollback); another
        transaction locking it waits, as for a row lock in SQL."""
        with self.db.lock:
            row_lock = self.db.row_locks.setdefault(key, threading.Lock())
        if row_lock in self.held:
            return
        if not row_lock.acquire(timeout=LOCK_TIMEOUT_SECONDS):
            raise Conflict(f"{key} stayed locked by another transaction")
        self.held.append(row_lock)

    def release(self) -> None:
        while self.held:
            self.held.pop().release()

    # -- commit -------------------------------------------------------------------------

    def commit(self) -> None:
        db = self.db
        with db.lock:
            self._validate_against(db)
            self._validate_claims(db)
            for table, writes in self.writes.items():
                committed = db.tables[table]
                for row_id in self.deletes[table]:
                    committed.pop(row_id, None)
                for row_id, (obj, read_at) in writes.items():
                    stored = snapshot(obj)
                    stored.version = 1 if read_at is None else read_at + 1
                    previous = committed.get(row_id)
                    if previous is not None:
                        for column in PRESERVED.get(table, ()):
                            setattr(stored, column, getattr(previous, column))
                    committed[row_id] = stored
                for row_id, columns in self.increments[table].items():
                    target = committed.get(row_id)
                    if target is None:
                        continue  # deleted meanwhile: nothing left to count
                    for column, by in columns.items():
                        setattr(target, column, getattr(target, column) + by)
            for owner_id, disabled in self.owners.items():
                if disabled:
                    db.disabled_owners.add(owner_id)
                else:
                    db.disabled_owners.discard(owner_id)
            db.audit.extend(self.audit)
            for message in self.outbox:
                db.outbox[message.id] = attrs.evolve(message, seq=next(db.outbox_seq))
            for receipt_key, receipt in self.receipts.items():
                if receipt is None:
                    db.receipts.pop(receipt_key, None)
                else:
                    db.receipts[receipt_key] = receipt
            for video_id, document in self.search.items():
                if document is None:
                    db.search.pop(video_id, None)
                elif video_id in db.search:
                    # An older version of the video than the one indexed is not written
                    # over it (a rebuild that read the video before an edit).
                    if db.search[video_id].version <= document.version:
                        db.search[video_id] = document
                elif video_id in db.tables["videos"]:  # not one deleted since it was read
                    db.search[video_id] = document
            if self.search_log_pruned_before is not None:
                before = self.search_log_pruned_before
                db.search_queries = [q for q in db.search_queries if q[2] >= before]
                db.search_clicks = [c for c in db.search_clicks if c[3] >= before]
                db.search_popular = still_popular(db.search_popular, before)
            db.search_queries.extend(self.search_queries)
            db.search_clicks.extend(self.search_clicks)
            db.search_popular.extend(self.search_popular)
            stamp = datetime.now(UTC)  # as SQL stamps sent_at with the database's clock
            for message_id in self.sent - db.sent:
                db.sent_at[message_id] = stamp
            db.sent |= self.sent
            for message_id in self.pruned:
                db.outbox.pop(message_id, None)
                db.sent.discard(message_id)
                db.sent_at.pop(message_id, None)
                db.claimed_until.pop(message_id, None)
            for message_id, (_, until) in self.claims.items():
                db.claimed_until[message_id] = until
            for message_id, retry_at in self.releases.items():
                if message_id in db.outbox and message_id not in db.sent:
                    db.claimed_until[message_id] = retry_at
                    message = db.outbox[message_id]
                    db.outbox[message_id] = attrs.evolve(message, attempts=message.attempts + 1)
            # Read while still holding the lock: a concurrent delete may follow at once.
            versions = {
                (type(row), row_id): row.version
                for table, writes in self.writes.items()
                for row_id in writes
                if (row := db.tables[table].get(row_id)) is not None
            }
        for obj in self.live:
            version = versions.get((type(obj), obj.identity))
            if version is not None:
                obj.version = version

    def _validate_claims(self, db: MemoryDatabase) -> None:
        """A message claimed by a unit of work that committed first is not claimable by
        this one (PostgreSQL's SKIP LOCKED would not have handed it out)."""
        for message_id, (now, _) in self.claims.items():
            until = db.claimed_until.get(message_id)
            if message_id in db.sent or (until is not None and until > now):
                raise Conflict(f"outbox: {message_id} was claimed by someone else")

    def _validate_against(self, db: MemoryDatabase) -> None:
        """Optimistic concurrency and uniqueness, checked under the lock before applying."""
        for table, writes in self.writes.items():
            committed = db.tables[table]
            for row_id, (_, read_at) in writes.items():
                current = committed.get(row_id)
                if read_at is None:
                    if current is not None:
                        raise Conflict(f"{table}: {row_id} already exists")
                elif current is None or current.version != read_at:
                    raise Conflict(
                        f"{table}: {row_id} was changed by someone else", code=STALE_VERSION
                    )
            for key_of, code in UNIQUE.get(table, {}).values():
                claimed: dict[Hashable, str] = {}
                for row_id, (obj, _) in writes.items():
                    key = key_of(obj)
                    if key is not None:
                        claimed[key] = row_id
                if not claimed:
                    continue
                for other_id, other in committed.items():
                    if other_id in writes or other_id in self.deletes[table]:
                        continue
                    key = key_of(other)
                    if key in claimed and claimed[key] != other_id:
                        raise Conflict(f"{table}: duplicate {code}", code=code)
