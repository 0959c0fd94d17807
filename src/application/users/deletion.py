"""Deleting an account: by its owner (the password, and a code where two-factor login
is on) or by an administrator. Its videos, files, share links, uploads in progress and
tokens go with it, in one transaction, and their bytes after it commits; the audit
trail keeps its events, whose actor is then an id that names nobody."""

from __future__ import annotations

from datetime import datetime

from videoplatform.application.context import Caller, require_permission, require_user
from videoplatform.application.ports.persistence import UnitOfWork, VideoListQuery
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.resumable.commands import upload_prefix
from videoplatform.application.users.avatars import avatars_prefix
from videoplatform.application.users.base import UserServiceBase
from videoplatform.application.video_jobs import video_prefix
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import Conflict
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import Permission, User

BATCH = 500
"""Videos or files read at a time while an account is emptied."""


class AccountDeletion(UserServiceBase):
    def delete_account(self, caller: Caller, password: str, code: str = "") -> None:
        """The caller deletes their own account: the password again (ValidationError
        on ``password``) and, where two-factor login is on, a code (on ``code``).
        Conflict for the last active administrator."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_DELETE, "user", caller.user_id),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            self._check_code_length(code)
            self._check_password(caller, user, password)
            if user.two_factor_on:
                self._check_second_factor(caller, user, code, now)
            gone = self._erase(uow, user, now)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_DELETE,
                "user",
                user.id,
                metadata={"by": "owner", **gone.counts()},
                actor_id=user.id,
            )
            uow.commit()
        gone.drop_bytes(self._storage)

    def delete_user(self, caller: Caller, user_id: UserId) -> None:
        """An administrator deletes an account (not their own: that is
        :meth:`delete_account`); Conflict for the last active administrator."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_DELETE, "user", user_id),
            self._uow() as uow,
        ):
            admin = require_permission(uow, caller, Permission.USER_MANAGE)
            if admin.id == user_id:
                raise Conflict("delete your own account from your account's page")
            user = uow.users.get(user_id)
            gone = self._erase(uow, user, now)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_DELETE,
                "user",
                user_id,
                metadata={"by": "administrator", **gone.counts()},
            )
            uow.commit()
        gone.drop_bytes(self._storage)

    def _erase(self, uow: UnitOfWork, user: User, now: datetime) -> _Gone:
        """Delete the account's rows (its videos' and files' deletions are events that
        revoke their links and drop them from search); what to delete from storage."""
        self._keep_an_admin(uow, user, None, now, "the last active administrator cannot be deleted")
        gone = _Gone()
        while videos := uow.videos.list_page(
            VideoListQuery(None, see_all=True, owner_id=user.id), BATCH
        ):
            for video in videos:
                video.mark_deleted(now)
                uow.videos.delete(video.id)
                gone.prefixes.append(video_prefix(video.id))
            gone.videos += len(videos)
        while files := uow.files.list_for_owner(user.id, BATCH):
            for stored in files:
                stored.mark_deleted(now)
                uow.files.delete(stored.id)
                gone.keys.append(stored.storage_key)
            gone.files += len(files)
        while shares := uow.shares.list_for_owner(user.id, None, BATCH):
            for share in shares:
                uow.shares.delete(share.id)
            gone.shares += len(shares)
        for upload in uow.uploads.list_for_owner(user.id):
            uow.uploads.delete(upload.id)
            gone.prefixes.append(upload_prefix(upload.id))
        gone.prefixes.append(avatars_prefix(user.id))
        user.mark_deleted(now)
        uow.users.delete(user.id)
        return gone


class _Gone:
    """What an account's deletion removed: counts for the audit trail, and the bytes to
    delete once the rows are gone."""

    def __init__(self) -> None:
        self.videos = self.files = self.shares = 0
        self.prefixes: list[str] = []
        self.keys: list[str] = []

    def counts(self) -> dict[str, str]:
        return {"videos": str(self.videos), "files": str(self.files), "shares": str(self.shares)}

    def drop_bytes(self, storage: ObjectStorage) -> None:
        # After commit: a crash here leaves unreferenced bytes, never a row without them.
        for prefix in self.prefixes:
            storage.delete_prefix(prefix)
        for key in self.keys:
            storage.delete(key)
