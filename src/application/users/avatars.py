"""Avatars: an uploaded picture, its type sniffed from its bytes (PNG, JPEG or WebP),
made into square pictures of :data:`AVATAR_SIZES` by ffmpeg (JPEGs) without any of its metadata,
kept in storage under a new version each time (so they can be cached for long), and
shown to anyone beside an active account's channel."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from attrs import frozen

from videoplatform.application.context import Caller, require_user
from videoplatform.application.ports.media import AVATAR_SIZES, MediaRejected
from videoplatform.application.ports.storage import ReadableStream
from videoplatform.application.users.base import UserServiceBase
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import NotFound, QuotaExceeded
from videoplatform.domain.ids import UserId
from videoplatform.domain.media_types import SNIFF_LENGTH, sniff
from videoplatform.domain.uploads import UnsupportedMedia
from videoplatform.domain.users import User

MAX_AVATAR_BYTES = 5 * 1024 * 1024
"""The largest picture taken as an avatar."""
AVATAR_TYPES = ("image/png", "image/jpeg", "image/webp")


def avatar_key(user_id: UserId, version: str, size: int) -> str:
    """Where an avatar picture lives in storage (keys never come from user input)."""
    return f"avatars/{user_id}/{version}/{size}"


def avatars_prefix(user_id: UserId) -> str:
    return f"avatars/{user_id}/"


@frozen
class AvatarPicture:
    version: str
    size: int
    content_type: str
    data: bytes


class Avatars(UserServiceBase):
    def set_avatar(self, caller: Caller, source: ReadableStream) -> User:
        """The caller's new avatar, from the picture ``source`` streams: QuotaExceeded
        past :data:`MAX_AVATAR_BYTES`, UnsupportedMedia for anything but a PNG, JPEG or
        WebP image (by its bytes) or one ffmpeg cannot read."""
        with self._uow() as uow:
            owner = require_user(uow, caller).id  # settled before the body is read
        folder = Path(tempfile.mkdtemp(prefix="avatar-"))
        try:
            original = folder / "original"
            with original.open("wb") as out:
                taken = 0
                while chunk := source.read(64 * 1024):
                    taken += len(chunk)
                    if taken > MAX_AVATAR_BYTES:
                        raise QuotaExceeded(
                            f"an avatar is at most {MAX_AVATAR_BYTES // (1024 * 1024)} MB"
                        )
                    out.write(chunk)
            with original.open("rb") as read_back:
                mime = sniff(read_back.read(SNIFF_LENGTH)).mime
            if mime not in AVATAR_TYPES:
                raise UnsupportedMedia("an avatar is a PNG, JPEG or WebP image")
            targets = [folder / f"{size}.jpg" for size in AVATAR_SIZES]
            try:
                self._avatar_maker.avatars(original, mime, targets)
            except MediaRejected as rejected:
                raise UnsupportedMedia(str(rejected)) from None
            version = self._ids.new_id()
            for size, target in zip(AVATAR_SIZES, targets, strict=True):
                with target.open("rb") as picture:
                    self._storage.put(avatar_key(owner, version, size), picture)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return self._show_avatar(caller, version)

    def remove_avatar(self, caller: Caller) -> User:
        """The caller shows no avatar any more (its pictures are deleted)."""
        return self._show_avatar(caller, None)

    def _show_avatar(self, caller: Caller, version: str | None) -> User:
        now = self._clock.now()
        with self._uow() as uow:
            user = require_user(uow, caller)
            old = user.change_avatar(version, now)
            uow.users.save(user)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_PROFILE_CHANGE,
                "user",
                user.id,
                metadata={"fields": "avatar"},
            )
            uow.commit()
        if old is not None and old != version:
            self._storage.delete_prefix(f"{avatars_prefix(user.id)}{old}/")
        return user

    def avatar(self, user_id: UserId, size: int) -> AvatarPicture:
        """An active account's avatar picture of ``size`` (one of :data:`AVATAR_SIZES`)
        for anyone; NotFound where there is none."""
        if size not in AVATAR_SIZES:
            raise NotFound("no such avatar size")
        with self._uow() as uow:
            try:
                user = uow.users.get(user_id)
            except NotFound:
                raise NotFound("no avatar") from None
        if not user.is_active or user.avatar is None:
            raise NotFound("no avatar")
        # A few kilobytes: read whole, its type sniffed from its bytes as it was made.
        data = b"".join(self._storage.get(avatar_key(user.id, user.avatar, size)))
        return AvatarPicture(user.avatar, size, sniff(data).mime, data)
