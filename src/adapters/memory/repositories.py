"""In-memory repositories over a :class:`Transaction`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Generic, TypeVar, cast

import attrs

from videoplatform.adapters.memory.database import Receipt, Transaction
from videoplatform.application.ports.persistence import (
    AuditQuery,
    ListedVideo,
    OutboxMessage,
    VideoListQuery,
    VideoSort,
)
from videoplatform.application.ports.tracing import Tracer
from videoplatform.application.video_documents import document_json, listed_json
from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.audit import AuditEvent
from videoplatform.domain.captions import CaptionTrack
from videoplatform.domain.categories import Category
from videoplatform.domain.errors import NotFound
from videoplatform.domain.events import DomainEvent
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
from videoplatform.domain.users import ApiToken, Role, TokenKind, User
from videoplatform.domain.videos import Video, VideoStatus, Visibility

A = TypeVar("A", bound=Aggregate)


class Seen:
    """Aggregates a unit of work handed out or was given, and which rows it wrote.

    At commit only the events of aggregates whose row was added, saved or deleted are
    collected: changing a loaded copy without saving it publishes nothing.
    """

    def __init__(self) -> None:
        self.handed_out: list[tuple[str, Aggregate]] = []
        self.written: set[tuple[str, str]] = set()

    def persisted(self, table: str, obj: Aggregate) -> None:
        self.handed_out.append((table, obj))
        self.written.add((table, obj.identity))

    def drain_events(self) -> list[DomainEvent]:
        events: list[DomainEvent] = []
        for table, obj in self.handed_out:
            if (table, obj.identity) in self.written:
                events.extend(obj.pull_events())
            else:
                obj.pull_events()
        return events

    def discard_events(self) -> None:
        for _, obj in self.handed_out:
            obj.pull_events()


class _Repository(Generic[A]):
    table: str
    noun: str

    def __init__(self, tx: Transaction, seen: Seen) -> None:
        self._tx = tx
        self._seen = seen

    def _out(self, obj: Aggregate) -> A:
        clone = cast(A, copy.deepcopy(obj))
        clone.pull_events()
        self._seen.handed_out.append((self.table, clone))
        return clone

    def _many(self, rows: Iterable[A]) -> list[A]:
        return [self._out(r) for r in rows]

    def _all(self) -> list[A]:
        return [cast(A, r) for r in self._tx.rows(self.table)]

    def _get(self, row_id: str) -> A:
        row = self._tx.row(self.table, row_id)
        if row is None:
            raise NotFound(f"{self.noun} not found")
        return self._out(row)

    def add(self, obj: A) -> None:
        self._tx.insert(self.table, obj)
        self._seen.persisted(self.table, obj)

    def save(self, obj: A) -> None:
        self._tx.update(self.table, obj)
        self._seen.persisted(self.table, obj)

    def _delete(self, row_id: str) -> None:
        self._tx.delete(self.table, row_id)
        self._seen.written.add((self.table, row_id))


class MemoryUserRepository(_Repository[User]):
    table, noun = "users", "user"

    def get(self, user_id: UserId) -> User:
        return self._get(user_id)

    def lock(self, user_id: UserId) -> None:
        self._tx.lock(f"users:{user_id}")

    def find_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        for user in self._all():
            if user.email.value == wanted:
                return self._out(user)
        return None

    def list_page(self, after: tuple[object, str] | None, limit: int) -> list[User]:
        rows = sorted(self._all(), key=lambda u: (u.created_at, u.id))
        if after is not None:
            rows = [u for u in rows if (u.created_at, u.id) > after]
        return self._many(rows[:limit])

    def delete(self, user_id: UserId) -> None:
        self._delete(user_id)
        tokens = [cast(ApiToken, t) for t in self._tx.rows("tokens")]
        for token in [t for t in tokens if t.user_id == user_id]:
            self._tx.delete("tokens", token.identity)

    def list_active_with_role(self, role: str) -> list[User]:
        wanted = Role(role)
        rows = [u for u in self._all() if u.is_active and wanted in u.roles]
        return self._many(sorted(rows, key=lambda u: (u.created_at, u.id)))

    def search(self, text: str, limit: int) -> list[User]:
        wanted = text.lower()
        rows = [
            u
            for u in self._all()
            if wanted in u.email.value.lower() or wanted in u.display_name.lower()
        ]
        rows.sort(key=lambda u: (u.created_at, u.id), reverse=True)
        return self._many(rows[:limit])


class MemoryTokenRepository(_Repository[ApiToken]):
    table, noun = "tokens", "token"

    def get(self, token_id: TokenId) -> ApiToken:
        return self._get(token_id)

    def find_by_hash(self, token_hash: str) -> ApiToken | None:
        for token in self._all():
            if token.token_hash == token_hash:
                return self._out(token)
        return None

    def find_with_user(self, token_hash: str) -> tuple[ApiToken, User] | None:
        token = self.find_by_hash(token_hash)
        users = MemoryUserRepository(self._tx, self._seen)
        if token is None or self._tx.row(users.table, token.user_id) is None:
            return None
        return token, users.get(token.user_id)

    def list_for_user(self, user_id: UserId) -> list[ApiToken]:
        rows = [t for t in self._all() if t.user_id == user_id]
        rows.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return self._many(rows)

    def list_expired(self, kind: TokenKind, now: datetime, limit: int) -> list[ApiToken]:
        rows = [
            t
            for t in self._all()
            if t.kind is kind
            and t.revoked_at is None
            and t.expires_at is not None
            and t.expires_at <= now
        ]
        rows.sort(key=lambda t: (t.expires_at or now, t.id))
        return self._many(rows[:limit])


def _video_matches(video: Video, query: VideoListQuery) -> bool:
    if not query.see_all and not (
        (
            video.visibility is Visibility.PUBLIC
            and video.status is VideoStatus.READY
            and not video.owner_disabled
        )
        or (query.viewer_id is not None and video.owner_id == query.viewer_id)
    ):
        return False
    checks: list[tuple[object, Callable[[], object]]] = [
        (query.owner_id, lambda: video.owner_id),
        (query.category_id, lambda: video.category_id),
        (query.visibility, lambda: video.visibility),
        (query.status, lambda: video.status),
        (query.reprocessing, lambda: video.reprocessing),
    ]
    if any(wanted is not None and actual() != wanted for wanted, actual in checks):
        return False
    return query.tag is None or query.tag in video.tags


class MemoryVideoRepository(_Repository[Video]):
    table, noun = "videos", "video"

    def get(self, video_id: VideoId) -> Video:
        return self._get(video_id)

    def delete(self, video_id: VideoId) -> None:
        self._delete(video_id)
        # As the SQL foreign key cascades: the video's caption tracks go with it.
        MemoryCaptionRepository(self._tx, self._seen).delete_for_video(video_id)

    def increment_views(self, video_id: VideoId, by: int = 1) -> None:
        self._tx.increment(self.table, video_id, "view_count", by)

    def count_by_status(self) -> dict[VideoStatus, int]:
        counts: dict[VideoStatus, int] = {}
        for video in self._all():
            counts[video.status] = counts.get(video.status, 0) + 1
        return counts

    def set_owner_disabled(self, owner_id: UserId, disabled: bool) -> None:
        self._tx.set_owner_disabled(owner_id, disabled)

    def list_page(self, query: VideoListQuery, limit: int) -> list[Video]:
        def key(v: Video) -> tuple[object, str]:
            return (v.view_count if query.sort is VideoSort.MOST_VIEWED else v.created_at, v.id)

        rows = sorted((v for v in self._all() if _video_matches(v, query)), key=key, reverse=True)
        if query.after is not None:
            after = query.after
            rows = [v for v in rows if key(v) < after]
        return self._many(rows[:limit])

    def list_documents(self, query: VideoListQuery, limit: int) -> list[ListedVideo]:
        # Kept with the videos themselves here: each document is built as it is read.
        return [
            ListedVideo(
                v.id, v.created_at, v.view_count, listed_json(document_json(v), v.view_count)
            )
            for v in self.list_page(query, limit)
        ]

    def list_by_category(self, category_id: CategoryId) -> list[VideoId]:
        return sorted(v.id for v in self._all() if v.category_id == category_id)

    def page_by_id(self, after: VideoId | None, limit: int) -> list[Video]:
        rows = sorted((v for v in self._all() if after is None or v.id > after), key=lambda v: v.id)
        return self._many(rows[:limit])

    def all_ids(self) -> list[VideoId]:
        return sorted(VideoId(v.id) for v in self._all())

    def listed(self, query: VideoListQuery, ids: Iterable[str]) -> list[Video]:
        """Those of the videos ``ids`` that ``query`` lets into a list (its visibility
        and filters; not its order or bound), in the order of ``ids``."""
        found = []
        for video_id in ids:
            video = self._tx.row(self.table, video_id)
            if isinstance(video, Video) and _video_matches(video, query):
                found.append(video)
        return self._many(found)

    def usage(self, owner_id: UserId) -> tuple[int, int]:
        mine = [v for v in self._all() if v.owner_id == owner_id]
        return len(mine), sum(v.source_size for v in mine)


class MemoryFileRepository(_Repository[StoredFile]):
    table, noun = "files", "file"

    def get(self, file_id: FileId) -> StoredFile:
        return self._get(file_id)

    def delete(self, file_id: FileId) -> None:
        self._delete(file_id)

    def list_folder(
        self, owner_id: UserId, folder: FolderPath, after: tuple[str, str] | None, limit: int
    ) -> list[StoredFile]:
        rows = sorted(
            (f for f in self._all() if f.owner_id == owner_id and f.folder == folder),
            key=lambda f: (f.name, f.id),
        )
        if after is not None:
            rows = [f for f in rows if (f.name, f.id) > after]
        return self._many(rows[:limit])

    def names(self, owner_id: UserId, limit: int) -> list[tuple[FileId, str, str]]:
        mine = sorted((f.folder.value, f.name, f.id) for f in self._all() if f.owner_id == owner_id)
        return [(FileId(i), folder, name) for folder, name, i in mine[:limit]]

    def subfolders(self, owner_id: UserId, folder: FolderPath) -> list[str]:
        names = {
            child
            for f in self._all()
            if f.owner_id == owner_id and (child := f.folder.child_of(folder)) is not None
        }
        return sorted(names)

    def usage(self, owner_id: UserId) -> tuple[int, int]:
        mine = [f for f in self._all() if f.owner_id == owner_id]
        return len(mine), sum(f.size for f in mine)

    def list_for_owner(self, owner_id: UserId, limit: int) -> list[StoredFile]:
        mine = sorted((f for f in self._all() if f.owner_id == owner_id), key=lambda f: f.id)
        return self._many(mine[:limit])


class MemoryCaptionRepository(_Repository[CaptionTrack]):
    table, noun = "captions", "caption track"

    def get(self, track_id: CaptionId) -> CaptionTrack:
        return self._get(track_id)

    def _of_video(self, video_id: VideoId) -> list[CaptionTrack]:
        rows: list[CaptionTrack] = self._all()
        return [t for t in rows if t.video_id == video_id]

    def find(self, video_id: VideoId, language: str) -> CaptionTrack | None:
        for track in self._of_video(video_id):
            if track.language == language:
                return self._out(track)
        return None

    def list_for_video(self, video_id: VideoId) -> list[CaptionTrack]:
        rows = sorted(self._of_video(video_id), key=lambda t: (t.language, t.id))
        return self._many(rows)

    def delete(self, track_id: CaptionId) -> None:
        self._delete(track_id)

    def delete_for_video(self, video_id: VideoId) -> None:
        for track in self._of_video(video_id):  # a list: deleting changes the rows
            self._delete(track.id)


class MemoryUploadRepository(_Repository[ResumableUpload]):
    table, noun = "uploads", "upload"

    def get(self, upload_id: UploadId) -> ResumableUpload:
        return self._get(upload_id)

    def delete(self, upload_id: UploadId) -> None:
        self._delete(upload_id)

    def list_expired(self, now: datetime, limit: int) -> list[ResumableUpload]:
        rows = sorted(
            (u for u in self._all() if u.expires_at <= now), key=lambda u: (u.expires_at, u.id)
        )
        return self._many(rows[:limit])

    def pending(self, owner_id: UserId, now: datetime) -> tuple[int, int]:
        open_ = [
            u
            for u in self._all()
            if u.owner_id == owner_id and u.result is None and u.expires_at > now
        ]
        return len(open_), sum(u.length for u in open_)

    def list_for_owner(self, owner_id: UserId) -> list[ResumableUpload]:
        return self._many(
            sorted((u for u in self._all() if u.owner_id == owner_id), key=lambda u: u.id)
        )


class MemoryShareRepository(_Repository[Share]):
    table, noun = "shares", "share"

    def get(self, share_id: ShareId) -> Share:
        return self._get(share_id)

    def find_by_token_hash(self, token_hash: str) -> Share | None:
        for share in self._all():
            if share.token_hash == token_hash:
                return self._out(share)
        return None

    def list_for_owner(
        self, owner_id: UserId, after: tuple[object, str] | None, limit: int
    ) -> list[Share]:
        rows = sorted(
            (s for s in self._all() if s.owner_id == owner_id),
            key=lambda s: (s.created_at, s.id),
            reverse=True,
        )
        if after is not None:
            rows = [s for s in rows if (s.created_at, s.id) < after]
        return self._many(rows[:limit])

    def list_for_target(self, target: ShareTarget) -> list[Share]:
        rows = sorted(
            (s for s in self._all() if s.target == target), key=lambda s: (s.created_at, s.id)
        )
        return self._many(rows)

    def delete(self, share_id: ShareId) -> None:
        self._delete(share_id)


class MemoryCategoryRepository(_Repository[Category]):
    table, noun = "categories", "category"

    def get(self, category_id: CategoryId) -> Category:
        return self._get(category_id)

    def delete(self, category_id: CategoryId) -> None:
        self._delete(category_id)

    def list_all(self) -> list[Category]:
        rows: list[Category] = self._all()
        return self._many(sorted(rows, key=lambda c: (c.slug, c.id)))


class MemoryAuditLog:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def append(self, event: AuditEvent) -> None:
        self._tx.audit.append(event)

    def search(self, query: AuditQuery, limit: int) -> list[AuditEvent]:
        with self._tx.db.lock:
            events = [*self._tx.db.audit, *self._tx.audit]

        def keep(e: AuditEvent) -> bool:
            return (
                (query.actor_id is None or e.actor_id == query.actor_id)
                and (query.action is None or e.action is query.action)
                and (query.resource_type is None or e.resource_type == query.resource_type)
                and (query.resource_id is None or e.resource_id == query.resource_id)
                and (query.result is None or e.result is query.result)
                and (query.since is None or e.occurred_at >= query.since)
                and (query.until is None or e.occurred_at < query.until)
                and (query.after is None or (e.occurred_at, e.id) < query.after)
            )

        found = sorted(filter(keep, events), key=lambda e: (e.occurred_at, e.id), reverse=True)
        return found[:limit]


class MemoryOutbox:
    def __init__(self, tx: Transaction, tracer: Tracer | None = None) -> None:
        self._tx = tx
        self._tracer = tracer

    def add(self, message: OutboxMessage) -> None:
        if not message.trace and self._tracer is not None:
            message = attrs.evolve(message, trace=self._tracer.carrier())
        self._tx.outbox.append(message)

    def _unsent(self) -> list[OutboxMessage]:
        with self._tx.db.lock:
            committed = list(self._tx.db.outbox.values())
            sent = self._tx.db.sent | self._tx.sent
        # Committed rows in commit order, then this transaction's own (no seq yet).
        return [m for m in [*committed, *self._tx.outbox] if m.id not in sent]

    def pending(self, limit: int) -> list[OutboxMessage]:
        return self._unsent()[:limit]

    def backlog(self) -> tuple[int, datetime | None]:
        unsent = self._unsent()
        return len(unsent), min((m.created_at for m in unsent), default=None)

    def claim(self, limit: int, now: datetime, lease: timedelta) -> list[OutboxMessage]:
        tx = self._tx
        with tx.db.lock:
            held = dict(tx.db.claimed_until)
        held.update({i: until for i, (_, until) in tx.claims.items()})
        held.update(tx.releases)
        claimed: list[OutboxMessage] = []
        waiting: set[str] = set()  # keys with an earlier message that someone holds
        for message in self._unsent():
            until = held.get(message.id)
            if until is not None and until > now:
                if message.key is not None:
                    waiting.add(message.key)
            elif message.key is None or message.key not in waiting:
                claimed.append(message)
        claimed = claimed[:limit]
        for message in claimed:
            tx.claims[message.id] = (now, now + lease)
        return claimed

    def release(self, ids: Sequence[str], retry_at: datetime) -> None:
        for message_id in ids:
            self._tx.releases[message_id] = retry_at

    def mark_sent(self, ids: Sequence[str]) -> None:
        self._tx.sent.update(ids)

    def prune(self, sent_before: datetime, limit: int) -> int:
        with self._tx.db.lock:
            sent = [(at, i) for i, at in self._tx.db.sent_at.items() if at < sent_before]
        old = [i for _, i in sorted(sent) if i not in self._tx.pruned][:limit]
        self._tx.pruned.update(old)
        return len(old)


class MemoryEventReceipts:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def _visible(self) -> dict[tuple[str, str], Receipt]:
        with self._tx.db.lock:
            rows: dict[tuple[str, str], Receipt | None] = dict(self._tx.db.receipts)
        rows.update(self._tx.receipts)
        return {k: v for k, v in rows.items() if v is not None}

    def handled(self, subscription: str, event_id: str) -> bool:
        receipt = self._visible().get((subscription, event_id))
        return receipt is not None and receipt.state == "done"

    def held_before(self, subscription: str, key: str, seq: int, since: datetime) -> bool:
        return any(
            sub == subscription
            and r.key == key
            and r.state == "held"
            and r.seq < seq
            and r.at >= since
            for (sub, _), r in self._visible().items()
        )

    def hold(self, subscription: str, event_id: str, key: str, seq: int, at: datetime) -> None:
        self._tx.receipts[(subscription, event_id)] = Receipt(key, seq, "held", at)

    def done(self, subscription: str, event_id: str, key: str, seq: int, at: datetime) -> None:
        self._tx.receipts[(subscription, event_id)] = Receipt(key, seq, "done", at)

    def give_up(self, subscription: str, event_id: str) -> None:
        receipt = self._visible().get((subscription, event_id))
        if receipt is not None and receipt.state == "held":
            self._tx.receipts[(subscription, event_id)] = None

    def prune(self, before: datetime) -> int:
        old = [k for k, r in self._visible().items() if r.at < before]
        for receipt_key in old:
            self._tx.receipts[receipt_key] = None
        return len(old)
