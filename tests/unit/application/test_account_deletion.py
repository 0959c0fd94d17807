"""Deleting an account: the owner (password, and a code with two-factor login) or an
administrator; its videos, files, links, uploads and tokens go, and their bytes; the
audit trail keeps its events."""

from __future__ import annotations

import io

import pyotp
import pytest

from tests.unit.application.conftest import Studio, Trail, only_event
from tests.unit.conftest import PASSWORD, MakeUser
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.shares import CreateShare
from videoplatform.application.users import Login, RegisterUser
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from videoplatform.domain.ids import FileId, VideoId
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.worker import settle_events


def fill(platform: Platform, studio: Studio, me: Caller) -> tuple[VideoId, FileId]:
    """A ready video and a file of ``me``, each shared; their ids."""
    video = studio.publish(me, title="Holiday")
    stored = platform.files.store(me, StoreFile(name="notes.txt", content=io.BytesIO(b"hi")))
    platform.shares.create(me, CreateShare(video_id=video.id))
    platform.shares.create(me, CreateShare(file_id=stored.id))
    return video.id, stored.id


def test_the_owner_deletes_the_account_and_everything_in_it(
    platform: Platform,
    studio: Studio,
    make_user: MakeUser,
    storage: MemoryObjectStorage,
    trail: Trail,
) -> None:
    me, other = make_user(), make_user()
    email = platform.users.me(me).email.value
    user_id = platform.users.me(me).id
    video_id, file_id = fill(platform, studio, me)
    kept = fill(platform, studio, other)
    token = platform.users.create_api_token(me, "script")
    before = set(storage.keys())

    platform.users.delete_account(me, PASSWORD)
    settle_events(platform)

    with pytest.raises(AuthenticationFailed):
        platform.users.login(Login(email, PASSWORD))
    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(token.token)
    with pytest.raises(NotFound):
        platform.videos.get(other, video_id)
    with pytest.raises(NotFound):
        platform.files.get(other, file_id)
    assert platform.videos.get(other, kept[0]).id == kept[0]
    left = set(storage.keys())
    assert not any(video_id in key or file_id in key for key in left)
    assert before - left  # their bytes went
    deleted = only_event(trail, AuditAction.USER_DELETE, AuditResult.SUCCESS, user_id)
    assert deleted.actor_id == user_id  # an id that names nobody now
    assert (deleted.metadata["videos"], deleted.metadata["files"], deleted.metadata["shares"]) == (
        "1",
        "1",
        "2",
    )
    # The address may make a new account.
    assert platform.users.register(RegisterUser(email, PASSWORD, "Again")).email.value == email


def test_the_password_is_asked_again(platform: Platform, make_user: MakeUser) -> None:
    me = make_user()
    with pytest.raises(ValidationError) as wrong:
        platform.users.delete_account(me, "not the password")
    assert "password" in wrong.value.fields
    assert platform.users.me(me).is_active


def test_with_two_factor_login_a_code_is_asked_too(
    platform: Platform, make_user: MakeUser, clock: ManualClock
) -> None:
    me = make_user()
    enrolment = platform.users.begin_two_factor(me, PASSWORD)
    codes = platform.users.confirm_two_factor(me, pyotp.TOTP(enrolment.secret).at(clock.now()))

    with pytest.raises(ValidationError) as no_code:
        platform.users.delete_account(me, PASSWORD)
    assert "code" in no_code.value.fields
    platform.users.delete_account(me, PASSWORD, codes[0])
    with pytest.raises(AuthenticationFailed):
        platform.users.me(me)


def test_an_administrator_deletes_someone_else_but_not_the_last_administrator(
    platform: Platform, studio: Studio, make_user: MakeUser, admin: Caller, trail: Trail
) -> None:
    me, other = make_user(), make_user()
    fill(platform, studio, me)
    user_id = platform.users.me(me).id

    with pytest.raises(PermissionDenied):
        platform.users.delete_user(other, user_id)
    platform.users.delete_user(admin, user_id)

    with pytest.raises(AuthenticationFailed):
        platform.users.me(me)
    event = only_event(trail, AuditAction.USER_DELETE, AuditResult.SUCCESS, user_id)
    assert event.metadata["by"] == "administrator"
    with pytest.raises(Conflict):
        platform.users.delete_user(admin, platform.users.me(admin).id)


def test_the_last_active_administrator_cannot_delete_their_account(
    platform: Platform, make_user: MakeUser
) -> None:
    only = make_user(Role.ADMIN)
    # make_user's first call makes a root administrator too: remove it first.
    root = [u for u in platform.users.list(only, None, 10).items if u.id != only.user_id]
    for other in root:
        if Role.ADMIN in other.roles:
            platform.users.delete_user(only, other.id)

    with pytest.raises(Conflict):
        platform.users.delete_account(only, PASSWORD)
