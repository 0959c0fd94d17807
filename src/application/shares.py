"""Share links: create, list, revoke, redeem, download a shared file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from attrs import frozen

from videoplatform.application.concurrency import retry_stale
from videoplatform.application.context import (
    Caller,
    Hidden,
    current_user,
    require_owner,
    require_permission,
    require_user,
)
from videoplatform.application.essentials import Essentials, UseCases
from videoplatform.application.pagination import Page, clamp_limit, time_cursor, time_keyset
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import (
    PasswordHasher,
    TokenGenerator,
)
from videoplatform.application.throttle import FailureThrottle
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.credentials import digest_token
from videoplatform.domain.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ShareRefused,
    TooManyAttempts,
    ValidationError,
)
from videoplatform.domain.files import StoredFile
from videoplatform.domain.ids import FileId, ShareId, VideoId
from videoplatform.domain.shares import Share, ShareRefusal, ShareTarget, ShareTargetKind
from videoplatform.domain.users import MAX_PASSWORD_LENGTH, Permission, User
from videoplatform.domain.videos import Video


@frozen
class CreateShare:
    """Share exactly one of a video or a file."""

    video_id: VideoId | None = None
    file_id: FileId | None = None
    expires_in: timedelta | None = None
    password: str | None = None
    max_uses: int | None = None

    def target(self) -> ShareTarget:
        if (self.video_id is None) == (self.file_id is None):
            raise ValidationError(
                "give exactly one of video_id and file_id",
                fields={
                    "video_id": "exactly one of video_id and file_id",
                    "file_id": "exactly one of video_id and file_id",
                },
            )
        if self.video_id is not None:
            return ShareTarget(ShareTargetKind.VIDEO, self.video_id)
        return ShareTarget(ShareTargetKind.FILE, str(self.file_id))


@frozen
class CreatedShare:
    """The new share and its link token, which is shown this once and never stored."""

    share: Share
    token: str


@frozen
class SharedItem:
    """What a redeemed link gives access to: exactly one of ``video`` and ``file``."""

    share: Share
    video: Video | None = None
    file: StoredFile | None = None


MAX_SHARE_TTL = timedelta(days=3650)
REDEEM_ATTEMPTS = 5
NOT_DOWNLOADABLE = "share_not_downloadable"
"""The ``Conflict.code`` of a download asked of a link that shares a video."""
NOT_PLAYABLE = "share_not_playable"
"""The ``Conflict.code`` of playback asked of a link that shares a file."""


class ShareService(UseCases):
    def __init__(
        self,
        essentials: Essentials,
        tokens: TokenGenerator,
        hasher: PasswordHasher,
        storage: ObjectStorage,
        throttle: FailureThrottle,
    ) -> None:
        super().__init__(essentials)
        self._throttle = throttle
        self._tokens = tokens
        self._hasher = hasher
        self._storage = storage

    def create(self, caller: Caller, command: CreateShare) -> CreatedShare:
        """Only the owner of a video or file may share it."""
        target = command.target()
        if (
            command.expires_in is not None
            and not timedelta(0) < command.expires_in <= MAX_SHARE_TTL
        ):
            raise ValidationError.field("expires_in", "must be positive and at most ten years")
        if command.password is not None and not 1 <= len(command.password) <= MAX_PASSWORD_LENGTH:
            raise ValidationError.field(
                "password", f"must be 1 to {MAX_PASSWORD_LENGTH} characters"
            )
        password_hash = self._hasher.hash(command.password) if command.password else None
        token = self._tokens.new_token()
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.SHARE_CREATE, target.kind.value, target.id),
            self._uow() as uow,
        ):
            user = require_permission(uow, caller, Permission.SHARE_CREATE)
            self._check_owner(uow, user, target)
            share = Share.create(
                id=ShareId(self._ids.new_id()),
                owner_id=user.id,
                target=target,
                token_hash=digest_token(token),
                now=now,
                expires_at=now + command.expires_in if command.expires_in else None,
                password_hash=password_hash,
                max_uses=command.max_uses,
            )
            uow.shares.add(share)
            self._audit.record(
                uow,
                caller,
                AuditAction.SHARE_CREATE,
                "share",
                share.id,
                metadata={
                    "target": f"{target.kind.value}:{target.id}",
                    "password": "yes" if password_hash else "no",
                    "expires_at": share.expires_at.isoformat() if share.expires_at else "",
                    "max_uses": str(command.max_uses or ""),
                },
            )
            uow.commit()
        return CreatedShare(share, token)

    @staticmethod
    def _check_owner(uow: UnitOfWork, user: User, target: ShareTarget) -> None:
        owner_id: str
        if target.kind is ShareTargetKind.VIDEO:
            video = uow.videos.get(VideoId(target.id))
            owner_id, visible = video.owner_id, video.can_be_seen_by(user)
        else:
            stored = uow.files.get(FileId(target.id))
            owner_id, visible = stored.owner_id, stored.is_accessible_to(user)
        if owner_id != user.id:
            if visible:
                raise PermissionDenied(f"only the owner may share this {target.kind.value}")
            raise Hidden(f"{target.kind.value} not found")

    def list_mine(
        self, caller: Caller, cursor: str | None = None, limit: int | None = None
    ) -> Page[Share]:
        size = clamp_limit(limit)
        after = time_keyset("shares", cursor) if cursor else None
        with self._uow() as uow:
            user = require_user(uow, caller)
            rows = uow.shares.list_for_owner(user.id, after, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        nxt = time_cursor("shares", rows[-1].created_at, rows[-1].id) if more else None
        return Page(tuple(rows), nxt)

    def revoke(self, caller: Caller, share_id: ShareId) -> Share:
        """The share's owner or an administrator may revoke it; revoking twice is a no-op."""
        with (
            self._audit.refusals(caller, AuditAction.SHARE_REVOKE, "share", share_id),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            share = uow.shares.get(share_id)
            require_owner(user, share.owner_id, "share")
            share.revoke(self._clock.now())
            uow.shares.save(share)
            self._audit.record(uow, caller, AuditAction.SHARE_REVOKE, "share", share_id)
            uow.commit()
        return share

    def redeem(
        self, token: str, password: str | None = None, caller: Caller | None = None
    ) -> SharedItem:
        """Use a link: NotFound for an unknown token, ShareRefused (with the reason) for
        a revoked, expired, exhausted or password-protected one. Each use is counted
        and audited, and so is each refusal. Concurrent uses of one link are serialized
        by the share's version: a use that loses the race is retried, so ``max_uses`` is
        never exceeded and no use is lost."""
        return self._redeem(token, password, caller or Caller(), None)

    def open_shared_file(
        self, token: str, password: str | None = None, caller: Caller | None = None
    ) -> tuple[StoredFile, Iterator[bytes]]:
        """Use a link to a file and open its bytes: a use like :meth:`redeem` (counted,
        audited, refused for the same reasons). A link to a video cannot be downloaded:
        Conflict(code=NOT_DOWNLOADABLE), decided only after the link itself was found
        usable (a dead link says it is dead, a protected one asks for its password first)
        and without counting a use."""
        item = self._redeem(token, password, caller or Caller(), ShareTargetKind.FILE)
        if item.file is None:  # pragma: no cover - _redeem guarantees the kind
            raise NotFound("share not found")
        return item.file, self._storage.get(item.file.storage_key)

    def redeem_video(
        self, token: str, password: str | None = None, caller: Caller | None = None
    ) -> SharedItem:
        """Use a link to a video (for playback): a use like :meth:`redeem`. A link to a
        file is Conflict(code=NOT_PLAYABLE), decided like a download's wrong kind: after
        the link was found usable, and without counting a use."""
        return self._redeem(token, password, caller or Caller(), ShareTargetKind.VIDEO)

    def _redeem(
        self, token: str, password: str | None, caller: Caller, kind: ShareTargetKind | None
    ) -> SharedItem:
        # Password guessing is throttled per link and per client address, like logins:
        # an attempt that brings a password is counted before it is checked (so that
        # parallel guesses cannot all slip under the limit) and a right one resets the
        # count. Links without a password are never throttled.
        link = digest_token(token)
        try:
            if password is not None:
                self._throttle.attempt("share", link, caller.ip)
        except TooManyAttempts:
            self._refused(caller, None, "too_many_attempts")
            raise
        try:
            item = retry_stale(
                REDEEM_ATTEMPTS, lambda: self._redeem_once(token, password, caller, kind)
            )
        except ShareRefused as refused:
            if refused.reason == ShareRefusal.PASSWORD_WRONG.value:
                self._throttle.failed("share", caller.ip)
            raise
        if password is not None:
            self._throttle.succeeded("share", link)
        return item

    def _redeem_once(
        self, token: str, password: str | None, caller: Caller, kind: ShareTargetKind | None
    ) -> SharedItem:
        now = self._clock.now()
        share: Share | None = None
        try:
            with self._uow() as uow:
                share = uow.shares.find_by_token_hash(digest_token(token))
                if share is None:
                    raise NotFound("share not found")
                share.redeem(now, password, self._hasher.verify)
                if kind is not None and share.target.kind is not kind:
                    # Raised inside the unit of work: the use just counted rolls back.
                    raise Conflict(
                        f"this link shares a {share.target.kind.value}, not a {kind.value}",
                        code=NOT_DOWNLOADABLE if kind is ShareTargetKind.FILE else NOT_PLAYABLE,
                    )
                item = self._resolve(uow, caller, share)
                uow.shares.save(share)
                self._audit.record(
                    uow,
                    caller,
                    AuditAction.SHARE_REDEEM,
                    "share",
                    share.id,
                    metadata={"use": str(share.use_count)},
                )
                uow.commit()
                return item
        except (NotFound, ShareRefused) as refused:
            self._refused(caller, share, refused.code)
            raise
        except Conflict as clash:
            if clash.code in (NOT_DOWNLOADABLE, NOT_PLAYABLE):
                self._refused(caller, share, clash.code)
            raise

    def _refused(self, caller: Caller, share: Share | None, reason: str) -> None:
        self._audit.record_alone(
            caller,
            AuditAction.SHARE_REDEEM,
            "share",
            share.id if share is not None else None,
            AuditResult.FAILURE,
            {"reason": reason},
        )

    @staticmethod
    def _resolve(uow: UnitOfWork, caller: Caller, share: Share) -> SharedItem:
        try:
            owner = uow.users.get(share.owner_id)
        except NotFound:
            owner = None
        if not share.is_backed_by(owner):
            raise ShareRefused("unavailable")
        # A deleted target makes the link revoked (a durable handler of the deletion
        # records that on the share shortly after).
        gone = ShareRefused(ShareRefusal.REVOKED.value)
        if share.target.kind is ShareTargetKind.VIDEO:
            try:
                video = uow.videos.get(VideoId(share.target.id))
            except NotFound:
                raise gone from None
            if not video.can_be_seen_by(current_user(uow, caller), via_share=True):
                raise NotFound("share not found")
            return SharedItem(share, video=video)
        try:
            return SharedItem(share, file=uow.files.get(FileId(share.target.id)))
        except NotFound:
            raise gone from None

    def details(self, caller: Caller, share_id: ShareId) -> Share:
        """A share its owner (or an administrator) reads; anyone else is refused as if it
        did not exist, and the refusal is audited."""
        with (
            self._audit.refusals(caller, AuditAction.SHARE_READ, "share", share_id),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            share = uow.shares.get(share_id)
            if share.owner_id != user.id and not user.can(Permission.USER_MANAGE):
                raise Hidden("share not found")
            return share
