"""Downloading a shared file: a counted, audited use of the link that opens the bytes
through the object storage port; a link to a video cannot be downloaded."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from tests.unit.application.conftest import Studio, Trail, only_event
from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.shares import NOT_DOWNLOADABLE, CreateShare, ShareService
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import Conflict, NotFound, ShareRefused
from videoplatform.domain.files import StoredFile
from videoplatform.entrypoints.bootstrap import Platform

CONTENT = b"minutes of the meeting\n" * 10_000


def a_file(platform: Platform, owner: Caller) -> StoredFile:
    return platform.files.store(owner, StoreFile(name="minutes.txt", content=io.BytesIO(CONTENT)))


def test_a_file_link_opens_the_bytes_and_counts_one_use(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    owner = make_user()
    stored = a_file(platform, owner)
    created = platform.shares.create(owner, CreateShare(file_id=stored.id, password="pw"))
    visitor = Caller.anonymous(ip="198.51.100.4")

    opened, chunks = platform.shares.open_shared_file(created.token, "pw", visitor)

    assert (opened.id, opened.size, opened.name) == (stored.id, len(CONTENT), "minutes.txt")
    assert b"".join(chunks) == CONTENT
    assert platform.shares.details(owner, created.share.id).use_count == 1
    event = only_event(trail, AuditAction.SHARE_REDEEM, AuditResult.SUCCESS, created.share.id)
    assert (event.ip, event.metadata["use"]) == ("198.51.100.4", "1")


def test_the_bytes_come_through_the_configured_storage(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    # The platform fixture overrides ObjectStorage; punq injects that same adapter into
    # ShareService by its constructor annotation.
    assert platform.resolve(ShareService) is platform.shares
    owner = make_user()
    stored = a_file(platform, owner)
    storage.put(stored.storage_key, io.BytesIO(b"replaced in storage"))
    token = platform.shares.create(owner, CreateShare(file_id=stored.id)).token

    _, chunks = platform.shares.open_shared_file(token)

    assert b"".join(chunks) == b"replaced in storage"


def test_a_video_link_cannot_be_downloaded_and_costs_no_use(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    created = platform.shares.create(owner, CreateShare(video_id=video.id, max_uses=1))

    with pytest.raises(Conflict) as refused:
        platform.shares.open_shared_file(created.token)

    assert refused.value.code == NOT_DOWNLOADABLE
    assert platform.shares.details(owner, created.share.id).use_count == 0
    event = only_event(trail, AuditAction.SHARE_REDEEM, AuditResult.FAILURE, created.share.id)
    assert event.metadata["reason"] == NOT_DOWNLOADABLE
    # The one use it allows is still there for redeeming.
    assert platform.shares.redeem(created.token).video is not None


def test_a_dead_video_link_says_it_is_dead_before_it_says_it_is_a_video(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner = make_user()
    created = platform.shares.create(owner, CreateShare(video_id=studio.upload(owner).id))
    platform.shares.revoke(owner, created.share.id)

    with pytest.raises(ShareRefused) as refused:
        platform.shares.open_shared_file(created.token)

    assert refused.value.code == "share_revoked"


def test_a_protected_video_link_asks_for_its_password_first(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    token = platform.shares.create(owner, CreateShare(video_id=video.id, password="pw")).token

    with pytest.raises(ShareRefused) as refused:
        platform.shares.open_shared_file(token)

    assert refused.value.code == "share_password_required"


@pytest.mark.parametrize(
    ("password", "advance", "code"),
    [
        (None, timedelta(0), "share_password_required"),
        ("wrong", timedelta(0), "share_password_wrong"),
        ("pw", timedelta(hours=2), "share_expired"),
    ],
)
def test_a_download_is_refused_like_a_redeem_and_audited(
    platform: Platform,
    make_user: MakeUser,
    clock: ManualClock,
    trail: Trail,
    password: str | None,
    advance: timedelta,
    code: str,
) -> None:
    owner = make_user()
    stored = a_file(platform, owner)
    created = platform.shares.create(
        owner, CreateShare(file_id=stored.id, password="pw", expires_in=timedelta(hours=1))
    )
    clock.advance(advance)

    with pytest.raises(ShareRefused) as refused:
        platform.shares.open_shared_file(created.token, password)

    assert refused.value.code == code
    assert platform.shares.details(owner, created.share.id).use_count == 0
    event = only_event(trail, AuditAction.SHARE_REDEEM, AuditResult.FAILURE, created.share.id)
    assert event.metadata["reason"] == code


def test_the_last_use_downloads_and_the_next_is_refused(
    platform: Platform, make_user: MakeUser
) -> None:
    owner = make_user()
    token = platform.shares.create(
        owner, CreateShare(file_id=a_file(platform, owner).id, max_uses=1)
    ).token
    platform.shares.open_shared_file(token)

    with pytest.raises(ShareRefused) as refused:
        platform.shares.open_shared_file(token)

    assert refused.value.code == "share_exhausted"


def test_an_unknown_token_is_not_found_and_audited(platform: Platform, trail: Trail) -> None:
    with pytest.raises(NotFound):
        platform.shares.open_shared_file("never-issued")

    failures = trail(AuditFilter(action=AuditAction.SHARE_REDEEM, result=AuditResult.FAILURE))
    assert [(e.resource_id, e.metadata["reason"]) for e in failures] == [(None, "not_found")]


def test_a_deleted_file_no_longer_downloads(platform: Platform, make_user: MakeUser) -> None:
    owner = make_user()
    stored = a_file(platform, owner)
    token = platform.shares.create(owner, CreateShare(file_id=stored.id)).token
    platform.files.delete(owner, stored.id)

    with pytest.raises(ShareRefused) as refused:
        platform.shares.open_shared_file(token)

    assert refused.value.code == "share_revoked"
