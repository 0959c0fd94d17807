"""Repositories and the unit of work (the outbox and the receipts of handled events are
in :mod:`.outbox`).

Shared contract of every repository:
- ``get`` raises :class:`domain.errors.NotFound`; ``find_*`` return ``None`` instead.
- Returned aggregates are the caller's own copies; changing one changes nothing until it
  is passed to ``save`` and the unit of work commits.
- ``add`` and ``save`` raise :class:`domain.errors.Conflict` for a broken uniqueness rule,
  and ``save`` for a stale ``version`` (someone else saved first; its code is
  :data:`STALE_VERSION`) — at the latest when the unit of work commits. After a
  successful commit the saved aggregate's version is bumped.
- Lists are ordered totally (ties broken by id) and take keyset bounds, never offsets.
"""

from __future__ import annotations

import enum
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from attrs import frozen

from videoplatform.application.ports.outbox import CommitHooks as CommitHooks
from videoplatform.application.ports.outbox import EventReceipts as EventReceipts
from videoplatform.application.ports.outbox import Outbox as Outbox
from videoplatform.application.ports.outbox import OutboxMessage as OutboxMessage
from videoplatform.application.ports.search import SearchIndex, SearchLog
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.captions import CaptionTrack
from videoplatform.domain.categories import Category
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
from videoplatform.domain.users import ApiToken, TokenKind, User
from videoplatform.domain.videos import Video, VideoStatus, Visibility

STALE_VERSION = "stale_version"
"""The ``Conflict.code`` of a save that lost an optimistic-concurrency race."""


class SchemaState(Protocol):
    """Whether the database is ready for this release, as far as its tables go."""

    def is_current(self) -> bool:
        """Whether every migration this release ships has been applied to the database,
        and none it does not know. Raises (``Unavailable`` or the driver's error) when
        the database cannot be asked."""
        ...


class UserRepository(Protocol):
    def add(self, user: User) -> None:
        """Insert a new user; Conflict(code="email_taken") if the email is in use."""
        ...

    def get(self, user_id: UserId) -> User: ...

    def lock(self, user_id: UserId) -> None:
        """Hold the user until this unit of work ends: another unit of work locking the
        same user waits for it (how parallel uploads of one owner take turns to check
        and use the quota, instead of colliding)."""
        ...

    def find_by_email(self, email: str) -> User | None:
        """Look up by normalized email."""
        ...

    def save(self, user: User) -> None: ...

    def list_page(self, after: tuple[datetime, str] | None, limit: int) -> list[User]:
        """Users ordered by (created_at, id) ascending, strictly after ``after``."""
        ...

    def delete(self, user_id: UserId) -> None:
        """Remove the account's row (its tokens go with it); NotFound if absent. Its
        videos, files, shares and uploads must be gone first."""
        ...

    def list_active_with_role(self, role: str) -> list[User]:
        """Active users holding ``role``, ordered by (created_at, id)."""
        ...

    def search(self, text: str, limit: int) -> list[User]:
        """At most ``limit`` users whose email or display name holds ``text`` (case
        aside: ASCII letters everywhere, others as the database folds them), newest
        first."""
        ...


class TokenRepository(Protocol):
    def add(self, token: ApiToken) -> None: ...

    def get(self, token_id: TokenId) -> ApiToken: ...

    def find_by_hash(self, token_hash: str) -> ApiToken | None: ...

    def find_with_user(self, token_hash: str) -> tuple[ApiToken, User] | None:
        """The token of ``token_hash`` and the account it belongs to, read together (one
        statement where the database allows): what every authenticated request needs.
        Both are handed out as if read through their own repositories."""
        ...

    def save(self, token: ApiToken) -> None: ...

    def list_for_user(self, user_id: UserId) -> list[ApiToken]:
        """Every token of the user, newest first (created_at, id descending)."""
        ...

    def list_expired(self, kind: TokenKind, now: datetime, limit: int) -> list[ApiToken]:
        """At most ``limit`` tokens of ``kind`` expired at ``now`` and not revoked,
        oldest expiry first (then by id)."""
        ...


class VideoSort(enum.Enum):
    NEWEST = "newest"
    MOST_VIEWED = "most_viewed"


@frozen
class VideoListQuery:
    """What a list of videos may contain and how it is ordered.

    Visibility is part of the query, not a post-filter, so pages are always full:
    unless ``see_all``, a video is included only if it is public, ready and its owner is
    not disabled, or owned by ``viewer_id``.
    """

    viewer_id: UserId | None
    see_all: bool = False
    owner_id: UserId | None = None
    category_id: CategoryId | None = None
    tag: str | None = None
    visibility: Visibility | None = None
    status: VideoStatus | None = None
    reprocessing: bool | None = None
    sort: VideoSort = VideoSort.NEWEST
    # Keyset bound: (sort value, id) of the last item already seen; lists run descending.
    after: tuple[datetime | int, str] | None = None


@frozen
class ListedVideo:
    """A video of a list as the API writes it, with the keys that bound the next page."""

    id: VideoId
    created_at: datetime
    view_count: int
    json: str
    """The video's stored document with its view count (``application.video_documents``):
    one JSON object."""


class VideoRepository(Protocol):
    def add(self, video: Video) -> None: ...

    def get(self, video_id: VideoId) -> Video: ...

    def save(self, video: Video) -> None:
        """Persist everything but ``view_count``, which only ``increment_views`` changes,
        and ``owner_disabled``, which only ``set_owner_disabled`` changes."""
        ...

    def delete(self, video_id: VideoId) -> None:
        """Remove the video; NotFound if absent."""
        ...

    def increment_views(self, video_id: VideoId, by: int = 1) -> None:
        """Add to the view count atomically (no read-modify-write); NotFound if absent.
        Does not bump the version: views never conflict with edits."""
        ...

    def set_owner_disabled(self, owner_id: UserId, disabled: bool) -> None:
        """Set ``owner_disabled`` on every video of ``owner_id``, in this transaction, in
        one statement (no read, no version bump: it never conflicts with edits, and
        ``save`` never overwrites it)."""
        ...

    def list_page(self, query: VideoListQuery, limit: int) -> list[Video]:
        """Videos matching ``query``, descending by the sort value then id. Unless
        ``see_all``, videos of a disabled owner are left out."""
        ...

    def list_documents(self, query: VideoListQuery, limit: int) -> list[ListedVideo]:
        """The videos :meth:`list_page` would return, in its order, each as its stored
        document (one built from the video where none is stored under the current
        ``SHAPE``)."""
        ...

    def list_by_category(self, category_id: CategoryId) -> list[VideoId]: ...

    def page_by_id(self, after: VideoId | None, limit: int) -> list[Video]:
        """At most ``limit`` videos in id order, those whose id comes after ``after``
        (from the first when None): for going through every video in batches."""
        ...

    def all_ids(self) -> list[VideoId]:
        """The id of every video, in id order."""
        ...

    def count_by_status(self) -> dict[VideoStatus, int]:
        """How many videos are in each state (those with none are left out)."""
        ...

    def usage(self, owner_id: UserId) -> tuple[int, int]:
        """(number of videos, total bytes of their sources) the owner has stored."""
        ...


class FileRepository(Protocol):
    def add(self, stored: StoredFile) -> None:
        """Conflict(code="file_exists") if the owner has a file of that name in that folder."""
        ...

    def get(self, file_id: FileId) -> StoredFile: ...

    def save(self, stored: StoredFile) -> None:
        """Conflict(code="file_exists") if a move lands on an existing name."""
        ...

    def delete(self, file_id: FileId) -> None: ...

    def list_folder(
        self, owner_id: UserId, folder: FolderPath, after: tuple[str, str] | None, limit: int
    ) -> list[StoredFile]:
        """Files directly in ``folder``, ordered by (name, id) ascending."""
        ...

    def names(self, owner_id: UserId, limit: int) -> list[tuple[FileId, str, str]]:
        """(id, folder, name) of at most ``limit`` of the owner's files, by folder and
        name: what a search of them reads."""
        ...

    def subfolders(self, owner_id: UserId, folder: FolderPath) -> list[str]:
        """Names of the immediate subfolders of ``folder`` that hold files, sorted."""
        ...

    def usage(self, owner_id: UserId) -> tuple[int, int]:
        """(number of files, total bytes) the owner has stored."""
        ...

    def list_for_owner(self, owner_id: UserId, limit: int) -> list[StoredFile]:
        """At most ``limit`` of the owner's files, in any folder, by id."""
        ...


class ShareRepository(Protocol):
    def add(self, share: Share) -> None: ...

    def get(self, share_id: ShareId) -> Share: ...

    def find_by_token_hash(self, token_hash: str) -> Share | None: ...

    def save(self, share: Share) -> None: ...

    def list_for_owner(
        self, owner_id: UserId, after: tuple[datetime, str] | None, limit: int
    ) -> list[Share]:
        """The owner's shares, newest first by (created_at, id)."""
        ...

    def list_for_target(self, target: ShareTarget) -> list[Share]: ...

    def delete(self, share_id: ShareId) -> None:
        """Remove the share; NotFound if absent."""
        ...


class CaptionRepository(Protocol):
    """A video's caption tracks, one per language. Languages are compared exactly: the
    domain normalises tags (:func:`domain.captions.normalize_language`) before they get
    here."""

    def add(self, track: CaptionTrack) -> None:
        """Conflict(code="caption_exists") when the video already has a track in that
        language."""
        ...

    def get(self, track_id: CaptionId) -> CaptionTrack: ...

    def find(self, video_id: VideoId, language: str) -> CaptionTrack | None:
        """The video's track in ``language``, or None."""
        ...

    def list_for_video(self, video_id: VideoId) -> list[CaptionTrack]:
        """Every track of the video, ordered by language (code point)."""
        ...

    def save(self, track: CaptionTrack) -> None:
        """Conflict(code=STALE_VERSION) if the track changed since it was read."""
        ...

    def delete(self, track_id: CaptionId) -> None:
        """Remove the track; NotFound if absent."""
        ...

    def delete_for_video(self, video_id: VideoId) -> None:
        """Remove every track of the video (its video is being deleted); none is fine."""
        ...


class UploadRepository(Protocol):
    """Resumable uploads in progress (and completed ones until they expire)."""

    def add(self, upload: ResumableUpload) -> None: ...

    def get(self, upload_id: UploadId) -> ResumableUpload: ...

    def save(self, upload: ResumableUpload) -> None:
        """Conflict(code=STALE_VERSION) if another chunk was committed first."""
        ...

    def delete(self, upload_id: UploadId) -> None:
        """Remove the upload; NotFound if absent."""
        ...

    def list_expired(self, now: datetime, limit: int) -> list[ResumableUpload]:
        """Uploads whose ``expires_at`` is at or before ``now``, oldest expiry first
        (then by id)."""
        ...

    def pending(self, owner_id: UserId, now: datetime) -> tuple[int, int]:
        """(count, declared bytes) of the owner's open uploads: not expired at ``now``
        and without a result yet (completing ones included)."""
        ...

    def list_for_owner(self, owner_id: UserId) -> list[ResumableUpload]:
        """Every upload of the owner, expired or not, by id."""
        ...


class CategoryRepository(Protocol):
    def add(self, category: Category) -> None:
        """Conflict(code="category_exists") if the slug is taken."""
        ...

    def get(self, category_id: CategoryId) -> Category: ...

    def save(self, category: Category) -> None: ...

    def delete(self, category_id: CategoryId) -> None: ...

    def list_all(self) -> list[Category]:
        """Every category ordered by slug, then id."""
        ...


@frozen
class AuditFilter:
    """Which audit events to read: every field given must match."""

    actor_id: UserId | None = None
    action: AuditAction | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    result: AuditResult | None = None
    since: datetime | None = None
    until: datetime | None = None


@frozen
class AuditQuery(AuditFilter):
    # Keyset bound (occurred_at, id) of the last event seen; results run newest first.
    after: tuple[datetime, str] | None = None


class AuditLog(Protocol):
    def append(self, event: AuditEvent) -> None:
        """Add an event. Events are never updated or deleted through this port."""
        ...

    def search(self, query: AuditQuery, limit: int) -> list[AuditEvent]:
        """Matching events, newest first by (occurred_at, id); ``since`` inclusive,
        ``until`` exclusive."""
        ...


class UnitOfWork(Protocol):
    """One atomic transaction over every repository.

    Used as a context manager; leaving the block without ``commit()`` rolls back.
    Adapters take :class:`CommitHooks`: the domain events of the aggregates a commit
    persists go to the outbox in the same transaction, then to in-process listeners.
    ``collect_events()`` returns (and forgets) the events of the commits so far.
    """

    @property
    def users(self) -> UserRepository: ...

    @property
    def tokens(self) -> TokenRepository: ...

    @property
    def videos(self) -> VideoRepository: ...

    @property
    def files(self) -> FileRepository: ...

    @property
    def shares(self) -> ShareRepository: ...

    @property
    def captions(self) -> CaptionRepository: ...

    @property
    def categories(self) -> CategoryRepository: ...

    @property
    def uploads(self) -> UploadRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def receipts(self) -> EventReceipts: ...

    @property
    def search(self) -> SearchIndex: ...

    @property
    def search_log(self) -> SearchLog: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make every change visible at once, or raise (Conflict...) and change nothing."""
        ...

    def rollback(self) -> None: ...

    def collect_events(self) -> list[DomainEvent]: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
