"""Who may see a video (`can_be_seen_by`) and who may change it (`is_managed_by`)."""

from __future__ import annotations

import pytest

from tests.unit.domain.builders import OWNER_ID, make_user, make_video
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import Role, User, UserStatus
from videoplatform.domain.videos import VideoStatus, Visibility

PUBLIC = Visibility.PUBLIC
UNLISTED = Visibility.UNLISTED
PRIVATE = Visibility.PRIVATE

NOT_READY = (VideoStatus.UPLOADED, VideoStatus.PROCESSING, VideoStatus.FAILED)

WHO = ("owner", "other_creator", "moderator", "admin", "viewer", "anonymous")


def _who(name: str) -> User | None:
    if name == "owner":
        return make_user([Role.CREATOR], user_id=OWNER_ID)
    if name == "other_creator":
        return make_user([Role.CREATOR], user_id="user-other")
    if name == "moderator":
        return make_user([Role.MODERATOR], user_id="user-mod")
    if name == "admin":
        return make_user([Role.ADMIN], user_id="user-admin")
    if name == "viewer":
        return make_user([Role.VIEWER], user_id="user-viewer")
    assert name == "anonymous"
    return None


# Without a share link. Columns follow WHO.
# fmt: off
SEEN: tuple[tuple[Visibility, bool, tuple[bool, ...]], ...] = (
    #                   owner  other  mod   admin  viewer anon
    (PUBLIC,   True,  (True,  True,  True, True,  True,  True)),
    (PUBLIC,   False, (True,  False, True, True,  False, False)),
    (UNLISTED, True,  (True,  True,  True, True,  True,  True)),
    (UNLISTED, False, (True,  False, True, True,  False, False)),
    (PRIVATE,  True,  (True,  False, True, True,  False, False)),
    (PRIVATE,  False, (True,  False, True, True,  False, False)),
)

# Holding a share link: the owner chose to share, so anyone holding it sees the video,
# whatever its visibility and its processing state (a recipient who opens the link early
# sees that it is still processing rather than a "not found").
SEEN_VIA_SHARE: tuple[tuple[Visibility, bool, tuple[bool, ...]], ...] = (
    #                   owner  other  mod   admin  viewer anon
    (PUBLIC,   True,  (True,  True,  True, True,  True,  True)),
    (PUBLIC,   False, (True,  True,  True, True,  True,  True)),
    (UNLISTED, True,  (True,  True,  True, True,  True,  True)),
    (UNLISTED, False, (True,  True,  True, True,  True,  True)),
    (PRIVATE,  True,  (True,  True,  True, True,  True,  True)),
    (PRIVATE,  False, (True,  True,  True, True,  True,  True)),
)
# fmt: on


def _cases(
    table: tuple[tuple[Visibility, bool, tuple[bool, ...]], ...],
) -> list[object]:
    cases: list[object] = []
    for visibility, ready, row in table:
        statuses = (VideoStatus.READY,) if ready else NOT_READY
        for status in statuses:
            for who, expected in zip(WHO, row, strict=True):
                cases.append(
                    pytest.param(
                        visibility,
                        status,
                        who,
                        expected,
                        id=f"{visibility.value}-{status.value}-{who}",
                    )
                )
    return cases


@pytest.mark.parametrize(("visibility", "status", "who", "expected"), _cases(SEEN))
def test_who_can_see_a_video_without_a_share(
    visibility: Visibility, status: VideoStatus, who: str, expected: bool
) -> None:
    video = make_video(status, visibility=visibility)
    assert video.can_be_seen_by(_who(who)) is expected


@pytest.mark.parametrize(("visibility", "status", "who", "expected"), _cases(SEEN_VIA_SHARE))
def test_who_can_see_a_video_through_a_share(
    visibility: Visibility, status: VideoStatus, who: str, expected: bool
) -> None:
    video = make_video(status, visibility=visibility)
    assert video.can_be_seen_by(_who(who), via_share=True) is expected


def test_anonymous_visitor_sees_a_ready_public_video() -> None:
    assert make_video(VideoStatus.READY, visibility=PUBLIC).can_be_seen_by(None)


def test_private_video_is_hidden_from_other_creators() -> None:
    video = make_video(VideoStatus.READY, visibility=PRIVATE)
    assert not video.can_be_seen_by(make_user([Role.CREATOR], user_id="user-other"))


def test_share_link_to_a_video_still_processing_shows_it_to_strangers() -> None:
    video = make_video(VideoStatus.PROCESSING, visibility=PRIVATE)
    assert video.can_be_seen_by(None, via_share=True)
    assert not video.can_be_seen_by(None)


@pytest.mark.parametrize("status", [UserStatus.DISABLED, UserStatus.PENDING], ids=lambda s: s.value)
@pytest.mark.parametrize("via_share", [False, True], ids=["direct", "via_share"])
def test_user_who_is_not_active_sees_nothing_not_even_their_own_public_video(
    status: UserStatus, via_share: bool
) -> None:
    video = make_video(VideoStatus.READY, visibility=PUBLIC)
    owner = make_user([Role.CREATOR], user_id=OWNER_ID, status=status)
    admin = make_user([Role.ADMIN], user_id="user-admin", status=status)
    assert not video.can_be_seen_by(owner, via_share=via_share)
    assert not video.can_be_seen_by(admin, via_share=via_share)


# A disabled owner's video: whatever its visibility and however it is reached, only the
# moderators (admins among them) still see it. Columns follow WHO.
HIDDEN_OWNER_SEEN = (False, False, True, True, False, False)


@pytest.mark.parametrize("visibility", list(Visibility), ids=lambda v: v.value)
@pytest.mark.parametrize("via_share", [False, True], ids=["direct", "via_share"])
def test_a_disabled_owner_s_video_is_seen_by_moderators_only(
    visibility: Visibility, via_share: bool
) -> None:
    video = make_video(VideoStatus.READY, visibility=visibility)
    video.owner_disabled = True
    seen = tuple(video.can_be_seen_by(_who(who), via_share=via_share) for who in WHO)
    assert seen == HIDDEN_OWNER_SEEN


# -- management --------------------------------------------------------------------------

# fmt: off
MANAGED: tuple[tuple[str, User | None, bool], ...] = (
    ("owner_creator",         make_user([Role.CREATOR], user_id=OWNER_ID),                 True),
    ("owner_moderator",       make_user([Role.MODERATOR], user_id=OWNER_ID),               True),
    ("other_creator",         make_user([Role.CREATOR], user_id="user-other"),             False),
    ("moderator",             make_user([Role.MODERATOR], user_id="user-mod"),             True),
    ("admin",                 make_user([Role.ADMIN], user_id="user-admin"),               True),
    ("viewer",                make_user([Role.VIEWER], user_id="user-viewer"),             False),
    ("anonymous",             None,                                                        False),
    ("disabled_owner",        make_user([Role.CREATOR], user_id=OWNER_ID,
                                        status=UserStatus.DISABLED),                      False),
    ("pending_owner",         make_user([Role.CREATOR], user_id=OWNER_ID,
                                        status=UserStatus.PENDING),                       False),
    ("disabled_moderator",    make_user([Role.MODERATOR], user_id="user-mod",
                                        status=UserStatus.DISABLED),                      False),
    # The docstring: "Owner (while still allowed to upload)". An owner demoted to viewer
    # has lost video:upload and so may no longer change the video.
    ("owner_demoted_to_viewer", make_user([Role.VIEWER], user_id=OWNER_ID),                False),
)
# fmt: on


@pytest.mark.parametrize(
    ("user", "expected"),
    [pytest.param(user, expected, id=name) for name, user, expected in MANAGED],
)
@pytest.mark.parametrize("status", list(VideoStatus), ids=lambda s: s.value)
def test_who_manages_a_video(user: User | None, expected: bool, status: VideoStatus) -> None:
    video = make_video(status, visibility=PRIVATE)
    assert video.is_managed_by(user) is expected


def test_management_follows_the_user_id_not_the_user_object() -> None:
    video = make_video(owner_id=UserId("user-42"))
    assert video.is_managed_by(make_user([Role.CREATOR], user_id="user-42"))
    assert not video.is_managed_by(make_user([Role.CREATOR], user_id="user-43"))
