"""Share links: create, redeem (uses, expiry, password, revocation), list, revoke."""

from __future__ import annotations

import io
import string
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import attrs
import pytest

from tests.unit.application.conftest import Studio, Trail, only_event
from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.pagination import encode_cursor
from videoplatform.application.shares import CreateShare
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.credentials import digest_token
from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ShareRefused,
    ValidationError,
)
from videoplatform.domain.ids import FileId, ShareId, VideoId
from videoplatform.domain.shares import ShareTargetKind
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform

URLSAFE = set(string.ascii_letters + string.digits + "-_")


def a_file(platform: Platform, owner: Caller, name: str = "doc.txt") -> FileId:
    return platform.files.store(owner, StoreFile(name=name, content=io.BytesIO(b"doc"))).id


def redeem_failures(trail: Trail) -> list[str]:
    events = trail(AuditFilter(action=AuditAction.SHARE_REDEEM, result=AuditResult.FAILURE))
    return [e.metadata["reason"] for e in events]


# -- create ------------------------------------------------------------------------------


def test_share_of_my_video_stores_only_the_token_digest(
    platform: Platform,
    make_user: MakeUser,
    studio: Studio,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
    trail: Trail,
) -> None:
    owner = make_user()
    video = studio.upload(owner, visibility=Visibility.PRIVATE)

    created = platform.shares.create(
        owner,
        CreateShare(video_id=video.id, expires_in=timedelta(days=1), password="pw", max_uses=3),
    )

    assert len(created.token) >= 22
    assert set(created.token) <= URLSAFE
    share = created.share
    assert share.owner_id == owner.user_id
    assert (share.target.kind, share.target.id) == (ShareTargetKind.VIDEO, video.id)
    assert share.expires_at == clock.now() + timedelta(days=1)
    assert share.max_uses == 3
    assert share.requires_password
    with uow_factory() as uow:
        stored = uow.shares.get(share.id)
    assert stored.token_hash == digest_token(created.token)
    dump = repr(attrs.asdict(stored, recurse=True))
    assert created.token not in dump
    assert stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")
    event = only_event(trail, AuditAction.SHARE_CREATE, AuditResult.SUCCESS, share.id)
    assert event.actor_id == owner.user_id
    assert event.metadata["target"] == f"video:{video.id}"
    assert event.metadata["password"] == "yes"
    assert event.metadata["max_uses"] == "3"
    assert created.token not in repr(dict(event.metadata))


def test_two_shares_get_different_tokens(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner = make_user()
    video = studio.upload(owner)

    first = platform.shares.create(owner, CreateShare(video_id=video.id))
    second = platform.shares.create(owner, CreateShare(video_id=video.id))

    assert first.token != second.token


def test_share_of_my_file(platform: Platform, make_user: MakeUser) -> None:
    owner = make_user()
    file_id = a_file(platform, owner)

    created = platform.shares.create(owner, CreateShare(file_id=file_id))

    assert (created.share.target.kind, created.share.target.id) == (ShareTargetKind.FILE, file_id)
    item = platform.shares.redeem(created.token)
    assert item.file is not None and item.file.id == file_id
    assert item.video is None


@pytest.mark.parametrize(
    "command",
    [CreateShare(), CreateShare(video_id=VideoId("v"), file_id=FileId("f"))],
)
def test_exactly_one_target_is_required(
    platform: Platform, make_user: MakeUser, command: CreateShare
) -> None:
    with pytest.raises(ValidationError) as refused:
        platform.shares.create(make_user(), command)
    assert set(refused.value.fields) == {"video_id", "file_id"}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (CreateShare(expires_in=timedelta(0)), "expires_in"),
        (CreateShare(expires_in=timedelta(days=3651)), "expires_in"),
        (CreateShare(max_uses=0), "max_uses"),
        (CreateShare(password=""), "password"),
    ],
)
def test_share_options_are_validated(
    platform: Platform, make_user: MakeUser, studio: Studio, options: CreateShare, field: str
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    command = attrs.evolve(options, video_id=video.id)

    with pytest.raises(ValidationError) as refused:
        platform.shares.create(owner, command)
    assert field in refused.value.fields


def test_sharing_someone_elses_visible_video_is_denied_and_audited(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner, other = make_user(), make_user()
    video = studio.publish(owner, visibility=Visibility.PUBLIC)

    with pytest.raises(PermissionDenied):
        platform.shares.create(other, CreateShare(video_id=video.id))

    event = only_event(trail, AuditAction.SHARE_CREATE, AuditResult.DENIED, video.id)
    assert event.actor_id == other.user_id
    assert event.resource_type == "video"
    assert event.metadata["reason"] == "permission_denied"
    assert platform.shares.list_mine(other).items == ()


def test_sharing_someone_elses_invisible_video_is_not_found(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner, other = make_user(), make_user()
    video = studio.publish(owner, visibility=Visibility.PRIVATE)

    with pytest.raises(NotFound) as hidden:
        platform.shares.create(other, CreateShare(video_id=video.id))
    with pytest.raises(NotFound) as missing:
        platform.shares.create(other, CreateShare(video_id=VideoId("01NOSUCHVIDEO000000000000")))

    assert str(hidden.value) == str(missing.value)
    event = only_event(trail, AuditAction.SHARE_CREATE, AuditResult.DENIED, video.id)
    assert event.metadata["reason"] == "not_found"


def test_sharing_someone_elses_file_is_not_found(platform: Platform, make_user: MakeUser) -> None:
    owner, other = make_user(), make_user()
    file_id = a_file(platform, owner)

    with pytest.raises(NotFound):
        platform.shares.create(other, CreateShare(file_id=file_id))


def test_even_an_admin_may_not_share_what_is_not_theirs(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    owner = make_user()
    file_id = a_file(platform, owner)

    with pytest.raises(PermissionDenied):
        platform.shares.create(admin, CreateShare(file_id=file_id))


def test_viewer_cannot_create_shares(
    platform: Platform, make_user: MakeUser, studio: Studio, admin: Caller
) -> None:
    owner = make_user()
    assert owner.user_id is not None
    video = studio.upload(owner)
    platform.users.change_roles(admin, owner.user_id, ["viewer"])

    with pytest.raises(PermissionDenied):
        platform.shares.create(owner, CreateShare(video_id=video.id))


# -- redeem ------------------------------------------------------------------------------


def test_redeeming_counts_each_use_and_is_audited(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner, visitor = make_user(), make_user(Role.VIEWER)
    video = studio.upload(owner, visibility=Visibility.PRIVATE)
    created = platform.shares.create(owner, CreateShare(video_id=video.id))

    first = platform.shares.redeem(created.token, caller=Caller.anonymous(ip="198.51.100.7"))
    second = platform.shares.redeem(created.token, caller=visitor)

    assert first.video is not None and first.video.id == video.id
    assert first.file is None
    assert (first.share.use_count, second.share.use_count) == (1, 2)
    assert platform.shares.details(owner, created.share.id).use_count == 2
    events = trail(AuditFilter(action=AuditAction.SHARE_REDEEM, result=AuditResult.SUCCESS))
    assert [(e.actor_id, e.metadata["use"]) for e in events] == [
        (visitor.user_id, "2"),
        (None, "1"),
    ]
    assert {e.resource_id for e in events} == {created.share.id}
    assert events[1].ip == "198.51.100.7"


def test_max_uses_exhausts_the_link(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    created = platform.shares.create(owner, CreateShare(video_id=video.id, max_uses=2))
    platform.shares.redeem(created.token)
    platform.shares.redeem(created.token)

    with pytest.raises(ShareRefused) as refused:
        platform.shares.redeem(created.token)

    assert refused.value.code == "share_exhausted"
    assert platform.shares.details(owner, created.share.id).use_count == 2
    event = only_event(trail, AuditAction.SHARE_REDEEM, AuditResult.FAILURE, created.share.id)
    assert event.metadata["reason"] == "share_exhausted"


def test_concurrent_redeems_never_exceed_max_uses(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    created = platform.shares.create(owner, CreateShare(video_id=video.id, max_uses=5))

    def try_redeem(_: int) -> bool:
        try:
            platform.shares.redeem(created.token)
        except (ShareRefused, Conflict):
            return False
        return True

    with ThreadPoolExecutor(max_workers=16) as pool:
        successes = sum(pool.map(try_redeem, range(40)))

    use_count = platform.shares.details(owner, created.share.id).use_count
    assert successes == use_count
    assert use_count <= 5


def test_expired_share_is_refused(
    platform: Platform, make_user: MakeUser, studio: Studio, clock: ManualClock, trail: Trail
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    created = platform.shares.create(
        owner, CreateShare(video_id=video.id, expires_in=timedelta(hours=1))
    )
    clock.advance(timedelta(minutes=59))
    platform.shares.redeem(created.token)
    clock.advance(timedelta(minutes=1))

    with pytest.raises(ShareRefused) as refused:
        platform.shares.redeem(created.token)

    assert refused.value.code == "share_expired"
    assert redeem_failures(trail) == ["share_expired"]


def test_password_protected_share(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    created = platform.shares.create(owner, CreateShare(video_id=video.id, password="open sesame"))

    with pytest.raises(ShareRefused) as missing:
        platform.shares.redeem(created.token)
    with pytest.raises(ShareRefused) as wrong:
        platform.shares.redeem(created.token, "open simsim")
    item = platform.shares.redeem(created.token, "open sesame")

    assert missing.value.code == "share_password_required"
    assert wrong.value.code == "share_password_wrong"
    assert item.share.use_count == 1
    assert redeem_failures(trail) == ["share_password_wrong", "share_password_required"]


def test_revoked_share_is_refused_before_its_password_is_checked(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    created = platform.shares.create(owner, CreateShare(video_id=video.id, password="pw"))
    platform.shares.revoke(owner, created.share.id)

    with pytest.raises(ShareRefused) as refused:
        platform.shares.redeem(created.token, "wrong")

    assert refused.value.code == "share_revoked"
    assert redeem_failures(trail) == ["share_revoked"]


def test_unknown_token_is_not_found_and_audited(platform: Platform, trail: Trail) -> None:
    with pytest.raises(NotFound):
        platform.shares.redeem("A" * 43, caller=Caller.anonymous(ip="192.0.2.1"))

    (event,) = trail(AuditFilter(action=AuditAction.SHARE_REDEEM))
    assert event.result is AuditResult.FAILURE
    assert event.resource_id is None
    assert event.metadata["reason"] == "not_found"
    assert event.ip == "192.0.2.1"


def test_share_of_a_deleted_file_no_longer_redeems(platform: Platform, make_user: MakeUser) -> None:
    owner = make_user()
    file_id = a_file(platform, owner)
    created = platform.shares.create(owner, CreateShare(file_id=file_id))
    platform.files.delete(owner, file_id)

    with pytest.raises(ShareRefused):
        platform.shares.redeem(created.token)


# -- list and revoke ---------------------------------------------------------------------


def test_list_mine_is_newest_first_and_paged(
    platform: Platform, make_user: MakeUser, studio: Studio, clock: ManualClock
) -> None:
    owner, other = make_user(), make_user()
    video = studio.upload(owner)
    made: list[ShareId] = []
    for _ in range(5):
        clock.advance(timedelta(seconds=1))
        made.append(platform.shares.create(owner, CreateShare(video_id=video.id)).share.id)
    platform.shares.create(other, CreateShare(file_id=a_file(platform, other)))

    first = platform.shares.list_mine(owner, limit=2)
    assert first.next_cursor is not None
    second = platform.shares.list_mine(owner, first.next_cursor, 2)
    assert second.next_cursor is not None
    third = platform.shares.list_mine(owner, second.next_cursor, 2)

    seen = [s.id for page in (first, second, third) for s in page.items]
    assert seen == list(reversed(made))
    assert third.next_cursor is None
    for page in (first, second, third):
        for share in page.items:
            assert share.owner_id == owner.user_id


def test_list_mine_refuses_foreign_and_malformed_cursors(
    platform: Platform, make_user: MakeUser
) -> None:
    owner = make_user()

    for cursor in (encode_cursor("audit", ["2026-01-01T00:00:00+00:00", "x"]), "%%%"):
        with pytest.raises(ValidationError):
            platform.shares.list_mine(owner, cursor)


def test_list_mine_needs_a_user(platform: Platform) -> None:
    with pytest.raises(AuthenticationFailed):
        platform.shares.list_mine(Caller.anonymous())


def test_owner_revokes_and_revoking_twice_is_harmless(
    platform: Platform, make_user: MakeUser, studio: Studio, clock: ManualClock, trail: Trail
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    created = platform.shares.create(owner, CreateShare(video_id=video.id))

    revoked = platform.shares.revoke(owner, created.share.id)
    clock.advance(timedelta(hours=1))
    again = platform.shares.revoke(owner, created.share.id)

    assert revoked.revoked_at is not None
    assert again.revoked_at == revoked.revoked_at
    events = trail(AuditFilter(action=AuditAction.SHARE_REVOKE, result=AuditResult.SUCCESS))
    assert {e.resource_id for e in events} == {created.share.id}
    assert {e.actor_id for e in events} == {owner.user_id}


def test_stranger_cannot_revoke_and_is_audited(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner, stranger = make_user(), make_user(Role.MODERATOR)
    video = studio.upload(owner)
    created = platform.shares.create(owner, CreateShare(video_id=video.id))

    with pytest.raises(NotFound) as hidden:
        platform.shares.revoke(stranger, created.share.id)
    with pytest.raises(NotFound) as missing:
        platform.shares.revoke(stranger, ShareId("01NOSUCHSHARE000000000000"))

    assert str(hidden.value) == str(missing.value)
    assert platform.shares.redeem(created.token).share.use_count == 1
    event = only_event(trail, AuditAction.SHARE_REVOKE, AuditResult.DENIED, created.share.id)
    assert event.actor_id == stranger.user_id
    assert event.metadata["reason"] == "not_found"


def test_admin_may_revoke_any_share(
    platform: Platform, make_user: MakeUser, studio: Studio, admin: Caller
) -> None:
    owner = make_user()
    video = studio.upload(owner)
    created = platform.shares.create(owner, CreateShare(video_id=video.id))

    platform.shares.revoke(admin, created.share.id)

    with pytest.raises(ShareRefused) as refused:
        platform.shares.redeem(created.token)
    assert refused.value.code == "share_revoked"


def test_details_are_for_the_owner_and_admins(
    platform: Platform, make_user: MakeUser, studio: Studio, admin: Caller
) -> None:
    owner, stranger = make_user(), make_user()
    video = studio.upload(owner)
    created = platform.shares.create(owner, CreateShare(video_id=video.id))

    assert platform.shares.details(admin, created.share.id).id == created.share.id
    with pytest.raises(NotFound):
        platform.shares.details(stranger, created.share.id)
