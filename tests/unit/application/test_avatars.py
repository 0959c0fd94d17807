"""Avatars: a picture (its type read from its bytes) made into two square pictures, a
new version each time, shown to anyone for an active account."""

from __future__ import annotations

import io

import pytest

from tests.unit.conftest import PASSWORD, MakeUser
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.application.ports.media import AVATAR_SIZES
from videoplatform.application.users.avatars import MAX_AVATAR_BYTES
from videoplatform.domain.errors import NotFound, QuotaExceeded
from videoplatform.domain.uploads import UnsupportedMedia
from videoplatform.entrypoints.bootstrap import Platform

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def avatar_keys(storage: MemoryObjectStorage) -> list[str]:
    kept = storage.keys()
    return sorted(k for k in kept if k.startswith("avatars/"))


def test_a_picture_becomes_the_avatar_in_each_size_and_replaces_the_last(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    me = make_user()
    first = platform.users.set_avatar(me, io.BytesIO(PNG))
    assert first.avatar is not None
    assert len(avatar_keys(storage)) == len(AVATAR_SIZES)
    picture = platform.users.avatar(first.id, AVATAR_SIZES[1])
    assert picture.content_type == "image/png" and picture.data.startswith(b"\x89PNG")

    second = platform.users.set_avatar(me, io.BytesIO(PNG))

    assert second.avatar is not None and second.avatar != first.avatar
    assert all(second.avatar in key for key in avatar_keys(storage))  # the old ones went
    platform.users.remove_avatar(me)
    assert avatar_keys(storage) == []
    with pytest.raises(NotFound):
        platform.users.avatar(second.id, AVATAR_SIZES[0])


def test_anything_but_a_picture_or_too_large_is_refused(
    platform: Platform, make_user: MakeUser
) -> None:
    me = make_user()
    with pytest.raises(UnsupportedMedia):
        platform.users.set_avatar(me, io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>"))
    with pytest.raises(QuotaExceeded):
        platform.users.set_avatar(me, io.BytesIO(PNG + b"\x00" * MAX_AVATAR_BYTES))
    assert platform.users.me(me).avatar is None


def test_a_deleted_account_takes_its_avatar_along(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    me = make_user()
    platform.users.set_avatar(me, io.BytesIO(PNG))
    platform.users.delete_account(me, PASSWORD)
    assert avatar_keys(storage) == []
