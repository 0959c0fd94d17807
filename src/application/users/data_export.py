"""An archive of an account's data: its profile, its videos' metadata, its files (names,
folders, sizes), its share links and its activity (its own audit events), as one JSON
document. Asked for by the owner, prepared by a durable handler after the request
commits (:class:`ExportBuilder`), and downloaded once through an unguessable URL that
expires (the secret in it is kept as a digest, like every token)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

from attrs import frozen

from videoplatform.application.context import Caller, require_user
from videoplatform.application.events.consumer import DurableHandler
from videoplatform.application.ports.persistence import (
    AuditQuery,
    UnitOfWork,
    UnitOfWorkFactory,
    VideoListQuery,
)
from videoplatform.application.ports.queue import Subscription
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.users.base import UserServiceBase
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.credentials import digest_token
from videoplatform.domain.errors import Conflict, NotFound
from videoplatform.domain.events import DataExportRequested, DomainEvent
from videoplatform.domain.ids import TokenId, UserId
from videoplatform.domain.users import ApiToken, TokenKind, User

EXPORT_TTL = timedelta(days=7)
"""How long an archive waits to be downloaded."""
ACTIVITY_KEPT = 10_000
"""The most recent audit events of the account an archive holds."""
BATCH = 500

DATA_EXPORT = Subscription("account.export", ("DataExportRequested",))


def export_key(user_id: UserId, export_id: str) -> str:
    """Where an archive lives in storage (keys never come from user input)."""
    return f"exports/{user_id}/{export_id}.json"


@frozen
class ExportTicket:
    """An archive asked for: its id, and the secret of its one download (shown once)."""

    export_id: str
    secret: str
    expires_at: datetime


@frozen
class ExportState:
    export_id: str
    state: Literal["preparing", "ready", "downloaded", "expired"]
    requested_at: datetime
    expires_at: datetime


@frozen
class ExportDownload:
    size: int
    chunks: Iterator[bytes]


class DataExport(UserServiceBase):
    def request_export(self, caller: Caller) -> ExportTicket:
        """Ask for an archive of the caller's data: prepared after this returns, then
        downloadable once with the ticket's secret until it expires. Throttled like the
        requests that mail (TooManyAttempts)."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_EXPORT, "user", caller.user_id),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            self._throttle.requested("export", user.id, caller.ip)
            export_id = self._ids.new_id()
            secret = self._tokens.new_token()
            uow.tokens.add(
                ApiToken(
                    id=TokenId(self._ids.new_id()),
                    user_id=user.id,
                    kind=TokenKind.DATA_EXPORT,
                    name=export_id,
                    token_hash=digest_token(secret),
                    created_at=now,
                    expires_at=now + EXPORT_TTL,
                )
            )
            user.request_export(export_id, now)
            uow.users.save(user)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_EXPORT,
                "user",
                user.id,
                metadata={"export": export_id},
            )
            uow.commit()
        return ExportTicket(export_id, secret, now + EXPORT_TTL)

    def export_state(self, caller: Caller, export_id: str) -> ExportState:
        """Where the caller's archive stands; NotFound for one that is not theirs."""
        now = self._clock.now()
        with self._uow() as uow:
            user = require_user(uow, caller)
            record = _export_token(uow, user.id, export_id)
        expires_at = record.expires_at or record.created_at + EXPORT_TTL
        state: Literal["preparing", "ready", "downloaded", "expired"]
        if record.revoked_at is not None:
            state = "downloaded"
        elif not record.is_usable(now):
            state = "expired"
        elif self._storage.exists(export_key(user.id, export_id)):
            state = "ready"
        else:
            state = "preparing"
        return ExportState(export_id, state, record.created_at, expires_at)

    def download_export(
        self, export_id: str, secret: str, caller: Caller | None = None
    ) -> ExportDownload:
        """The archive, once: NotFound for a secret that is wrong, used or expired;
        Conflict while it is being prepared. The archive is deleted once sent."""
        caller = caller or Caller()
        now = self._clock.now()
        with self._uow() as uow:
            record = uow.tokens.find_by_hash(digest_token(secret))
            if (
                record is None
                or record.kind is not TokenKind.DATA_EXPORT
                or record.name != export_id
                or not record.is_usable(now)
            ):
                raise NotFound("no such archive (or it was downloaded already)")
            key = export_key(record.user_id, export_id)
            if not self._storage.exists(key):
                raise Conflict("the archive is still being prepared: try again in a moment")
            size = self._storage.stat(key).size
            record.revoke(now)
            uow.tokens.save(record)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_EXPORT_DOWNLOAD,
                "user",
                record.user_id,
                metadata={"export": export_id},
                actor_id=record.user_id,
            )
            uow.commit()
        return ExportDownload(size, self._sent_once(key))

    def sweep_exports(self, now: datetime | None = None) -> int:
        """Delete the archives left undownloaded past their expiry (their secrets are
        revoked with them); how many went."""
        moment = now or self._clock.now()
        removed = 0
        while True:
            with self._uow() as uow:
                expired = uow.tokens.list_expired(TokenKind.DATA_EXPORT, moment, BATCH)
                for record in expired:
                    record.revoke(moment)
                    uow.tokens.save(record)
                uow.commit()
            for record in expired:
                self._storage.delete(export_key(record.user_id, record.name))
            removed += len(expired)
            if len(expired) < BATCH:
                return removed

    def _sent_once(self, key: str) -> Iterator[bytes]:
        try:
            yield from self._storage.get(key)
        finally:
            self._storage.delete(key)


def _export_token(uow: UnitOfWork, user_id: UserId, export_id: str) -> ApiToken:
    for record in uow.tokens.list_for_user(user_id):
        if record.kind is TokenKind.DATA_EXPORT and record.name == export_id:
            return record
    raise NotFound("no such archive")


@frozen
class ExportBuilder:
    """The ``account.export`` handler: writes the archive an owner asked for (again,
    if the event comes twice, until it is downloaded)."""

    uow: UnitOfWorkFactory
    storage: ObjectStorage

    def __call__(self, event: DomainEvent) -> None:
        if not isinstance(event, DataExportRequested):
            return
        with self.uow() as uow:
            try:
                user = uow.users.get(event.user_id)
                record = _export_token(uow, user.id, event.export_id)
            except NotFound:
                return  # the account, or the request, is gone
            if record.revoked_at is not None:
                return
            archive = _archive(uow, user, event.occurred_at)
        data = json.dumps(archive, indent=1, ensure_ascii=False, default=str).encode()
        self.storage.put(export_key(user.id, event.export_id), io.BytesIO(data))


def _archive(uow: UnitOfWork, user: User, asked_at: datetime) -> dict[str, Any]:
    videos: list[dict[str, Any]] = []
    after: tuple[datetime | int, str] | None = None
    while page := uow.videos.list_page(
        VideoListQuery(None, see_all=True, owner_id=user.id, after=after), BATCH
    ):
        for video in page:
            videos.append(
                {
                    "id": video.id,
                    "title": video.title,
                    "description": video.description,
                    "tags": list(video.tags),
                    "category_id": video.category_id,
                    "visibility": video.visibility.value,
                    "status": video.status.value,
                    "views": video.view_count,
                    "duration_seconds": video.media_info.duration_seconds
                    if video.media_info
                    else None,
                    "uploaded_at": video.created_at,
                }
            )
        after = (page[-1].created_at, page[-1].id)
        if len(page) < BATCH:
            break
    files = [
        {
            "id": f.id,
            "folder": f.folder,
            "name": f.name,
            "size": f.size,
            "content_type": f.content_type,
            "sha256": f.sha256,
            "uploaded_at": f.created_at,
        }
        for f in uow.files.list_for_owner(user.id, 1_000_000)
    ]
    shares: list[dict[str, Any]] = []
    share_after: tuple[datetime, str] | None = None
    while share_page := uow.shares.list_for_owner(user.id, share_after, BATCH):
        shares += [
            {
                "id": s.id,
                "shares": {"kind": s.target.kind.value, "id": s.target.id},
                "created_at": s.created_at,
                "expires_at": s.expires_at,
                "max_uses": s.max_uses,
                "uses": s.use_count,
                "password": s.password_hash is not None,
                "revoked_at": s.revoked_at,
            }
            for s in share_page
        ]
        share_after = (share_page[-1].created_at, share_page[-1].id)
        if len(share_page) < BATCH:
            break
    activity = [
        {
            "at": e.occurred_at,
            "action": e.action.value,
            "result": e.result.value,
            "resource": {"type": e.resource_type, "id": e.resource_id},
            "from": e.ip,
        }
        for e in uow.audit.search(AuditQuery(actor_id=user.id), ACTIVITY_KEPT)
    ]
    return {
        "format": "videoplatform account archive, version 1",
        "prepared_for": asked_at,
        "profile": {
            "id": user.id,
            "email": user.email.value,
            "display_name": user.display_name,
            "roles": sorted(r.value for r in user.roles),
            "status": user.status.value,
            "default_visibility": user.default_visibility.value,
            "two_factor_login": user.two_factor_on,
            "created_at": user.created_at,
        },
        "videos": videos,
        "files": files,
        "shares": shares,
        "activity": activity,
    }


def data_exports(uow: UnitOfWorkFactory, storage: ObjectStorage) -> DurableHandler:
    return DurableHandler(DATA_EXPORT, ExportBuilder(uow, storage))
