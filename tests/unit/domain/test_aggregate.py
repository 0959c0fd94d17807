"""Aggregates are entities: equal and hashed by type and id, never by field values."""

from __future__ import annotations

from tests.unit.domain.builders import LATER, NOW, make_user, make_video
from videoplatform.domain.categories import Category
from videoplatform.domain.events import VideoDeleted, VideoReady
from videoplatform.domain.ids import CategoryId, VideoId
from videoplatform.domain.users import Role, UserStatus
from videoplatform.domain.videos import VideoStatus, Visibility


def test_same_id_with_different_fields_is_the_same_entity() -> None:
    a = make_user([Role.VIEWER], user_id="user-1")
    b = make_user([Role.ADMIN], user_id="user-1", status=UserStatus.DISABLED)
    b.display_name = "Someone Else"
    assert a == b
    assert hash(a) == hash(b)


def test_different_ids_with_identical_fields_are_different_entities() -> None:
    a = make_video(VideoStatus.READY, visibility=Visibility.PUBLIC)
    b = make_video(VideoStatus.READY, visibility=Visibility.PUBLIC)
    b.id = VideoId("video-2")
    assert a != b


def test_entity_stays_equal_to_itself_after_changing_state() -> None:
    video = make_video(VideoStatus.UPLOADED)
    snapshot_hash = hash(video)
    twin = make_video(VideoStatus.UPLOADED)
    video.start_processing(LATER)
    video.title = "Changed"
    assert video == twin
    assert hash(video) == snapshot_hash


def test_aggregates_of_different_types_with_the_same_id_are_not_equal() -> None:
    category = Category.create(id=CategoryId("shared-id"), name="Music", now=NOW)
    user = make_user(user_id="shared-id")
    assert category.identity == user.identity == "shared-id"
    assert category != user
    assert user != category
    assert len({category, user}) == 2


def test_aggregate_is_never_equal_to_its_bare_id() -> None:
    user = make_user(user_id="user-1")
    assert user != "user-1"
    assert user != None  # noqa: E711 - the equality operator itself is under test


def test_a_set_keeps_one_entry_per_identity() -> None:
    users = {
        make_user([Role.VIEWER], user_id="user-1"),
        make_user([Role.ADMIN], user_id="user-1"),
        make_user([Role.VIEWER], user_id="user-2"),
    }
    assert sorted(u.identity for u in users) == ["user-1", "user-2"]


def test_identity_is_the_id_as_text() -> None:
    assert make_video().identity == "video-1"


def test_new_aggregate_starts_at_version_zero_with_no_events() -> None:
    video = make_video()
    assert video.version == 0
    assert video.pull_events() == []


def test_recorded_events_come_back_in_order_and_only_once() -> None:
    video = make_video()
    first = VideoReady(occurred_at=NOW, video_id=video.id)
    second = VideoDeleted(occurred_at=LATER, video_id=video.id)
    video.record(first)
    video.record(second)
    assert video.pull_events() == [first, second]
    assert video.pull_events() == []


def test_events_are_not_shared_between_aggregates() -> None:
    a = make_video()
    b = make_video()
    a.record(VideoReady(occurred_at=NOW, video_id=a.id))
    assert b.pull_events() == []


def test_event_name_is_its_class_name() -> None:
    assert VideoReady(occurred_at=NOW, video_id=VideoId("v")).name == "VideoReady"
