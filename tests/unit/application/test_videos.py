"""Videos: upload, visibility-checked reads and lists, updates, deletion, views."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import attrs
import pytest

from tests.unit.application.conftest import Studio, Trail, only_event
from tests.unit.conftest import CHEAP_ARGON2, MP4_HEAD, MakeUser
from videoplatform.adapters.memory.media import synthetic_clip
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.events.codec import is_event_topic
from videoplatform.application.pagination import encode_cursor
from videoplatform.application.ports.persistence import VideoSort
from videoplatform.application.shares import CreateShare
from videoplatform.application.video_commands import UpdateVideo, UploadVideo, VideoFilter
from videoplatform.application.video_jobs import PROCESS_VIDEO
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ShareRefused,
    ValidationError,
)
from videoplatform.domain.ids import CategoryId, VideoId
from videoplatform.domain.uploads import UnsupportedMedia
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Video, VideoStatus, Visibility
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import settle_events

MISSING = VideoId("01NOSUCHVIDEO000000000000")


class CountingSource:
    """A readable stream that records how many bytes were taken from it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.taken = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._data.read(size)
        self.taken += len(chunk)
        return chunk


def pending_topics(uow_factory: MemoryUnitOfWorkFactory) -> list[tuple[str, str]]:
    """The jobs waiting in the outbox (not the domain events beside them)."""
    with uow_factory() as uow:
        messages = uow.outbox.pending(100)
    return [(m.topic, m.payload["video_id"]) for m in messages if not is_event_topic(m.topic)]


def ids(videos: tuple[Video, ...] | list[Video]) -> list[VideoId]:
    return [v.id for v in videos]


def view_count(uow_factory: MemoryUnitOfWorkFactory, video_id: VideoId) -> int:
    with uow_factory() as uow:
        return uow.videos.get(video_id).view_count


# -- upload ------------------------------------------------------------------------------


def test_upload_stores_bytes_under_an_internal_key_and_queues_processing(
    platform: Platform,
    make_user: MakeUser,
    storage: MemoryObjectStorage,
    uow_factory: MemoryUnitOfWorkFactory,
    trail: Trail,
) -> None:
    creator = make_user()
    data = MP4_HEAD + b"an mp4 to the sniffer, bytes all the same" * 100
    title = "../../etc/passwd holiday"

    video = platform.videos.upload(
        creator,
        UploadVideo(title=title, source=io.BytesIO(data), tags=["Beach", "beach", " Sun "]),
    )

    assert video.owner_id == creator.user_id
    assert video.status is VideoStatus.UPLOADED
    assert video.visibility is Visibility.PRIVATE
    assert video.tags == ("beach", "sun")
    assert video.source_size == len(data)
    assert video.source_sha256 == hashlib.sha256(data).hexdigest()
    assert storage.keys() == [video.source_key]
    assert video.source_key == f"videos/{video.id}/source"
    assert "passwd" not in video.source_key
    assert ".." not in video.source_key
    assert b"".join(storage.get(video.source_key)) == data
    assert pending_topics(uow_factory) == [(PROCESS_VIDEO, video.id)]
    event = only_event(trail, AuditAction.VIDEO_UPLOAD, AuditResult.SUCCESS, video.id)
    assert event.actor_id == creator.user_id
    assert event.metadata["size"] == str(len(data))
    assert event.metadata["sha256"] == video.source_sha256


def test_viewer_cannot_upload_and_nothing_is_read_or_stored(
    platform: Platform,
    make_user: MakeUser,
    storage: MemoryObjectStorage,
    uow_factory: MemoryUnitOfWorkFactory,
    trail: Trail,
) -> None:
    viewer = make_user(Role.VIEWER)
    source = CountingSource(b"x" * 1000)

    with pytest.raises(PermissionDenied):
        platform.videos.upload(viewer, UploadVideo(title="Nope", source=source))

    assert source.taken == 0
    assert storage.keys() == []
    assert pending_topics(uow_factory) == []
    event = only_event(trail, AuditAction.VIDEO_UPLOAD, AuditResult.DENIED)
    assert event.actor_id == viewer.user_id
    assert event.metadata["reason"] == "permission_denied"


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n" + bytes(100), b"plain words, not a movie\n", bytes(range(256)) * 8],
    ids=["pdf", "text", "random bytes"],
)
def test_an_upload_that_is_not_a_video_is_refused_before_anything_is_stored(
    platform: Platform,
    make_user: MakeUser,
    storage: MemoryObjectStorage,
    uow_factory: MemoryUnitOfWorkFactory,
    data: bytes,
) -> None:
    creator = make_user()
    with pytest.raises(UnsupportedMedia) as refused:
        platform.videos.upload(creator, UploadVideo(title="Not a clip", source=io.BytesIO(data)))
    assert refused.value.code == "unsupported_media_type"
    assert storage.keys() == []
    assert pending_topics(uow_factory) == []


def test_permission_is_decided_before_the_bytes_are_judged(
    platform: Platform, make_user: MakeUser
) -> None:
    viewer = make_user(Role.VIEWER)
    pdf = CountingSource(b"%PDF-1.7\n" + bytes(100))
    with pytest.raises(PermissionDenied):
        platform.videos.upload(viewer, UploadVideo(title="Nope", source=pdf))
    assert pdf.taken == 0


def test_a_synthetic_clip_is_a_video_on_synthetic_media(
    platform: Platform, make_user: MakeUser
) -> None:
    clip = synthetic_clip(duration=2.0)
    video = platform.videos.upload(make_user(), UploadVideo("Synthetic", io.BytesIO(clip)))
    assert video.source_size == len(clip)


def test_anonymous_upload_is_refused_and_audited(
    platform: Platform, storage: MemoryObjectStorage, trail: Trail
) -> None:
    with pytest.raises(AuthenticationFailed):
        platform.videos.upload(
            Caller.anonymous(), UploadVideo(title="Nope", source=io.BytesIO(b"x"))
        )

    assert storage.keys() == []
    event = only_event(trail, AuditAction.VIDEO_UPLOAD, AuditResult.DENIED)
    assert event.actor_id is None


def test_empty_upload_is_refused_and_leaves_nothing(
    platform: Platform,
    make_user: MakeUser,
    storage: MemoryObjectStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    creator = make_user()

    with pytest.raises(ValidationError) as refused:
        platform.videos.upload(creator, UploadVideo(title="Empty", source=io.BytesIO(b"")))

    assert "source" in refused.value.fields
    assert storage.keys() == []
    assert pending_topics(uow_factory) == []
    assert platform.videos.list(creator).items == ()


class TestUploadLimit:
    @pytest.fixture
    def settings(self) -> Settings:
        return attrs.evolve(CHEAP_ARGON2, max_upload_bytes=64)

    def test_upload_over_the_limit_is_refused_and_leaves_nothing(
        self,
        platform: Platform,
        make_user: MakeUser,
        storage: MemoryObjectStorage,
        uow_factory: MemoryUnitOfWorkFactory,
    ) -> None:
        creator = make_user()
        source = CountingSource(MP4_HEAD + b"y" * 10_000)

        with pytest.raises(QuotaExceeded):
            platform.videos.upload(creator, UploadVideo(title="Big", source=source))

        assert source.taken <= 65
        assert storage.keys() == []
        assert pending_topics(uow_factory) == []
        assert platform.videos.list(creator).items == ()

    def test_an_upload_over_the_room_is_too_big_before_it_is_judged_a_video(
        self, platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
    ) -> None:
        # The room (64 bytes) is less than a sniffer may need to recognise some
        # containers: what is over the room is refused for its size, not its type.
        source = CountingSource(bytes(range(256)) * 40)

        with pytest.raises(QuotaExceeded):
            platform.videos.upload(make_user(), UploadVideo(title="Big", source=source))

        assert source.taken <= 65
        assert storage.keys() == []

    def test_upload_of_exactly_the_limit_is_accepted(
        self, platform: Platform, make_user: MakeUser
    ) -> None:
        creator = make_user()

        video = platform.videos.upload(
            creator, UploadVideo(title="Fits", source=io.BytesIO(MP4_HEAD.ljust(64, b"z")))
        )
        assert video.source_size == 64


def test_upload_into_an_unknown_category_is_not_found(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    creator = make_user()
    source = CountingSource(b"data")

    with pytest.raises(NotFound):
        platform.videos.upload(
            creator,
            UploadVideo(
                title="T", source=source, category_id=CategoryId("01NOSUCHCATEGORY0000000")
            ),
        )

    assert source.taken == 0
    assert storage.keys() == []


def test_upload_into_a_category(platform: Platform, make_user: MakeUser, admin: Caller) -> None:
    creator = make_user()
    music = platform.categories.create(admin, "Music")

    video = platform.videos.upload(
        creator,
        UploadVideo(title="Song", source=io.BytesIO(MP4_HEAD + b"la"), category_id=music.id),
    )
    assert video.category_id == music.id


def test_metadata_refused_after_streaming_removes_the_bytes(
    platform: Platform,
    make_user: MakeUser,
    storage: MemoryObjectStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    creator = make_user()

    with pytest.raises(ValidationError) as refused:
        platform.videos.upload(creator, UploadVideo(title="   ", source=io.BytesIO(b"bytes")))

    assert "title" in refused.value.fields
    assert storage.keys() == []
    assert pending_topics(uow_factory) == []


# -- get ---------------------------------------------------------------------------------


def test_private_video_of_another_user_looks_missing_and_is_audited(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner, other = make_user(), make_user()
    video = studio.publish(owner, visibility=Visibility.PRIVATE)

    with pytest.raises(NotFound) as hidden:
        platform.videos.get(other, video.id)
    with pytest.raises(NotFound) as missing:
        platform.videos.get(other, MISSING)

    assert str(hidden.value) == str(missing.value)
    assert hidden.value.code == missing.value.code
    event = only_event(trail, AuditAction.VIDEO_READ, AuditResult.DENIED, video.id)
    assert event.actor_id == other.user_id
    assert event.resource_type == "video"
    assert event.metadata["reason"] == "not_found"


def test_owner_and_moderator_see_a_private_unprocessed_video(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner, moderator = make_user(), make_user(Role.MODERATOR)
    video = studio.upload(owner, visibility=Visibility.PRIVATE)

    assert platform.videos.get(owner, video.id).id == video.id
    assert platform.videos.get(moderator, video.id).id == video.id


def test_unlisted_video_is_reachable_by_id_once_ready(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner, other = make_user(), make_user(Role.VIEWER)
    video = studio.upload(owner, visibility=Visibility.UNLISTED)

    with pytest.raises(NotFound):
        platform.videos.get(other, video.id)
    with pytest.raises(NotFound):
        platform.videos.get(Caller.anonymous(), video.id)
    studio.ready(video.id)

    assert platform.videos.get(other, video.id).status is VideoStatus.READY
    assert platform.videos.get(Caller.anonymous(), video.id).id == video.id


def test_public_video_is_hidden_from_others_until_ready(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner, other = make_user(), make_user()
    video = studio.upload(owner, visibility=Visibility.PUBLIC)
    studio.start_processing(video.id)

    with pytest.raises(NotFound):
        platform.videos.get(other, video.id)


def test_missing_video_is_not_found(platform: Platform, make_user: MakeUser) -> None:
    with pytest.raises(NotFound):
        platform.videos.get(make_user(), MISSING)


# -- list --------------------------------------------------------------------------------


@attrs.frozen
class Catalogue:
    public: Video
    unlisted: Video
    private: Video
    unready: Video
    others_public: Video


@pytest.fixture
def catalogue(make_user: MakeUser, studio: Studio, clock: ManualClock) -> Catalogue:
    alice = make_user(email="alice@example.com")
    bob = make_user(email="bob@example.com")
    public = studio.publish(alice, title="public", visibility=Visibility.PUBLIC)
    clock.advance(timedelta(seconds=1))
    unlisted = studio.publish(alice, title="unlisted", visibility=Visibility.UNLISTED)
    clock.advance(timedelta(seconds=1))
    private = studio.publish(alice, title="private", visibility=Visibility.PRIVATE)
    clock.advance(timedelta(seconds=1))
    unready = studio.upload(alice, title="unready", visibility=Visibility.PUBLIC)
    clock.advance(timedelta(seconds=1))
    others_public = studio.publish(bob, title="bob's", visibility=Visibility.PUBLIC)
    return Catalogue(public, unlisted, private, unready, others_public)


def caller_of(video: Video) -> Caller:
    return Caller(video.owner_id)


def test_others_see_only_public_ready_videos_in_lists(
    platform: Platform, make_user: MakeUser, catalogue: Catalogue
) -> None:
    viewer = make_user(Role.VIEWER)
    expected = [catalogue.others_public.id, catalogue.public.id]

    assert ids(platform.videos.list(viewer).items) == expected
    assert ids(platform.videos.list(Caller.anonymous()).items) == expected


def test_owners_see_all_their_own_videos_in_lists(platform: Platform, catalogue: Catalogue) -> None:
    alice = caller_of(catalogue.public)

    assert ids(platform.videos.list(alice).items) == [
        catalogue.others_public.id,
        catalogue.unready.id,
        catalogue.private.id,
        catalogue.unlisted.id,
        catalogue.public.id,
    ]
    bob = caller_of(catalogue.others_public)
    assert ids(platform.videos.list(bob).items) == [
        catalogue.others_public.id,
        catalogue.public.id,
    ]


def test_moderators_see_every_video_in_lists(
    platform: Platform, make_user: MakeUser, catalogue: Catalogue
) -> None:
    moderator = make_user(Role.MODERATOR)

    assert len(platform.videos.list(moderator).items) == 5


def test_list_filters_by_owner_visibility_and_status(
    platform: Platform, make_user: MakeUser, catalogue: Catalogue
) -> None:
    alice = caller_of(catalogue.public)
    bob = caller_of(catalogue.others_public)
    assert alice.user_id is not None and bob.user_id is not None
    moderator = make_user(Role.MODERATOR)

    by_owner = platform.videos.list(bob, VideoFilter(owner_id=alice.user_id))
    assert ids(by_owner.items) == [catalogue.public.id]
    unlisted_for_bob = platform.videos.list(bob, VideoFilter(visibility=Visibility.UNLISTED))
    assert unlisted_for_bob.items == ()
    unlisted_for_alice = platform.videos.list(alice, VideoFilter(visibility=Visibility.UNLISTED))
    assert ids(unlisted_for_alice.items) == [catalogue.unlisted.id]
    uploaded = platform.videos.list(alice, VideoFilter(status=VideoStatus.UPLOADED))
    assert ids(uploaded.items) == [catalogue.unready.id]
    assert platform.videos.list(bob, VideoFilter(status=VideoStatus.UPLOADED)).items == ()
    private_for_moderator = platform.videos.list(
        moderator, VideoFilter(visibility=Visibility.PRIVATE)
    )
    assert ids(private_for_moderator.items) == [catalogue.private.id]


def test_list_filters_by_category_and_tag(
    platform: Platform, make_user: MakeUser, admin: Caller, studio: Studio
) -> None:
    creator, viewer = make_user(), make_user(Role.VIEWER)
    music = platform.categories.create(admin, "Music")
    song = studio.publish(creator, title="song", category_id=music.id, tags=["Live", "rock"])
    talk = studio.publish(creator, title="talk", tags=["live"])

    in_music = platform.videos.list(viewer, VideoFilter(category_id=music.id))
    assert ids(in_music.items) == [song.id]
    live = platform.videos.list(viewer, VideoFilter(tag=" LIVE "))
    assert ids(live.items) == [talk.id, song.id]
    assert ids(platform.videos.list(viewer, VideoFilter(tag="rock")).items) == [song.id]
    assert platform.videos.list(viewer, VideoFilter(tag="jazz")).items == ()


def test_tag_filter_is_normalized_like_stored_tags(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    creator = make_user()
    video = studio.publish(creator, tags=["Big  Cats"])
    assert video.tags == ("big cats",)

    found = platform.videos.list(creator, VideoFilter(tag="Big  Cats"))

    assert ids(found.items) == [video.id]


def test_list_sorts_by_most_viewed_then_newest_id(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    creator, viewer = make_user(), make_user(Role.VIEWER)
    quiet = studio.publish(creator, title="quiet")
    loud = studio.publish(creator, title="loud")
    medium = studio.publish(creator, title="medium")
    also_quiet = studio.publish(creator, title="also quiet")
    for _ in range(5):
        platform.videos.record_view(viewer, loud.id)
    for _ in range(2):
        platform.videos.record_view(viewer, medium.id)

    page = platform.videos.list(viewer, VideoFilter(sort=VideoSort.MOST_VIEWED))

    assert ids(page.items) == [loud.id, medium.id, also_quiet.id, quiet.id]
    assert [v.view_count for v in page.items] == [5, 2, 0, 0]


def walk(
    platform: Platform,
    caller: Caller,
    filters: VideoFilter,
    limit: int,
    between_pages: Callable[[int], object] | None = None,
) -> list[VideoId]:
    """Every id across all pages; ``between_pages(n)`` runs after page ``n`` is read."""
    seen: list[VideoId] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = platform.videos.list(caller, filters, cursor, limit)
        pages += 1
        assert len(page.items) <= limit
        seen.extend(v.id for v in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
        if between_pages is not None:
            between_pages(pages)


def test_newest_pagination_is_stable_under_inserts(
    platform: Platform, make_user: MakeUser, studio: Studio, clock: ManualClock
) -> None:
    creator, viewer = make_user(), make_user(Role.VIEWER)
    originals: list[VideoId] = []
    for n in range(7):
        clock.advance(timedelta(seconds=1))
        originals.append(studio.publish(creator, title=f"v{n}").id)

    def insert(page: int) -> None:
        if page <= 2:
            clock.advance(timedelta(seconds=1))
            studio.publish(creator, title=f"inserted after page {page}")

    seen = walk(platform, viewer, VideoFilter(), 3, insert)

    assert seen == list(reversed(originals))
    assert len(platform.videos.list(viewer, limit=100).items) == 9


def test_newest_pagination_breaks_timestamp_ties_by_id(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    creator = make_user()
    made = [studio.publish(creator, title=f"same time {n}").id for n in range(5)]

    seen = walk(platform, creator, VideoFilter(), 2)

    assert sorted(seen) == sorted(made)
    assert len(set(seen)) == 5


def test_most_viewed_pagination_has_no_gaps_or_duplicates(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    creator, viewer = make_user(), make_user(Role.VIEWER)
    originals = [studio.publish(creator, title=f"v{n}").id for n in range(6)]
    for n, video_id in enumerate(originals):
        for _ in range(n % 3):
            platform.videos.record_view(viewer, video_id)
    full = ids(platform.videos.list(viewer, VideoFilter(sort=VideoSort.MOST_VIEWED)).items)

    def insert(page: int) -> None:
        if page == 1:
            studio.publish(creator, title="inserted")

    seen = walk(platform, viewer, VideoFilter(sort=VideoSort.MOST_VIEWED), 2, insert)

    assert len(seen) == len(set(seen))
    assert [v for v in seen if v in originals] == full
    assert set(originals) <= set(seen)


def test_malformed_video_cursor_is_refused(platform: Platform, make_user: MakeUser) -> None:
    creator = make_user()

    for cursor in ("not a cursor!", "e30", encode_cursor("videos:newest", ["yesterday", "x"])):
        with pytest.raises(ValidationError) as refused:
            platform.videos.list(creator, cursor=cursor)
        assert "cursor" in refused.value.fields


def test_cursor_with_a_timestamp_without_zone_is_refused(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    creator = make_user()
    studio.publish(creator)
    naive = encode_cursor("videos:newest", ["2026-01-01T00:00:00", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"])

    with pytest.raises(ValidationError):
        platform.videos.list(creator, cursor=naive)


def test_cursor_of_another_sort_is_refused(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    creator = make_user()
    for n in range(3):
        studio.publish(creator, title=f"v{n}")
    newest = platform.videos.list(creator, limit=1).next_cursor
    viewed = platform.videos.list(creator, VideoFilter(sort=VideoSort.MOST_VIEWED), limit=1)
    assert newest is not None and viewed.next_cursor is not None

    with pytest.raises(ValidationError):
        platform.videos.list(creator, VideoFilter(sort=VideoSort.MOST_VIEWED), newest)
    with pytest.raises(ValidationError):
        platform.videos.list(creator, VideoFilter(), viewed.next_cursor)


@pytest.mark.parametrize("limit", [0, 101])
def test_list_limit_is_bounded(platform: Platform, limit: int) -> None:
    with pytest.raises(ValidationError) as refused:
        platform.videos.list(Caller.anonymous(), limit=limit)
    assert "limit" in refused.value.fields


# -- update ------------------------------------------------------------------------------


def test_owner_updates_metadata_and_it_is_audited(
    platform: Platform, make_user: MakeUser, admin: Caller, studio: Studio, trail: Trail
) -> None:
    owner = make_user()
    music = platform.categories.create(admin, "Music")
    video = studio.upload(owner, title="Old", tags=["a"])

    updated = platform.videos.update(
        owner,
        video.id,
        UpdateVideo(
            title="  New   title ",
            tags=["B", "c"],
            visibility=Visibility.UNLISTED,
            category_id=music.id,
        ),
    )

    assert updated.title == "New title"
    assert updated.tags == ("b", "c")
    assert updated.visibility is Visibility.UNLISTED
    assert updated.category_id == music.id
    stored = platform.videos.get(owner, video.id)
    assert (stored.title, stored.tags, stored.category_id) == ("New title", ("b", "c"), music.id)
    event = only_event(trail, AuditAction.VIDEO_UPDATE, AuditResult.SUCCESS, video.id)
    assert event.actor_id == owner.user_id
    assert event.metadata["fields"] == "category_id,tags,title,visibility"

    cleared = platform.videos.update(owner, video.id, UpdateVideo(clear_category=True))
    assert cleared.category_id is None
    assert platform.videos.get(owner, video.id).category_id is None


def test_moderator_may_update_anyones_video(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner, moderator = make_user(), make_user(Role.MODERATOR)
    video = studio.upload(owner, visibility=Visibility.PRIVATE)

    platform.videos.update(
        moderator, video.id, UpdateVideo(visibility=Visibility.PRIVATE, title="X")
    )

    assert platform.videos.get(owner, video.id).title == "X"


def test_other_creator_who_sees_the_video_is_denied(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner, other = make_user(), make_user()
    video = studio.publish(owner, title="Mine")

    with pytest.raises(PermissionDenied):
        platform.videos.update(other, video.id, UpdateVideo(title="Theirs"))

    assert platform.videos.get(owner, video.id).title == "Mine"
    event = only_event(trail, AuditAction.VIDEO_UPDATE, AuditResult.DENIED, video.id)
    assert event.actor_id == other.user_id
    assert event.metadata["reason"] == "permission_denied"


def test_other_creator_who_cannot_see_the_video_gets_not_found(
    platform: Platform, make_user: MakeUser, studio: Studio, trail: Trail
) -> None:
    owner, other = make_user(), make_user()
    video = studio.publish(owner, title="Mine", visibility=Visibility.PRIVATE)

    with pytest.raises(NotFound):
        platform.videos.update(other, video.id, UpdateVideo(title="Theirs"))

    event = only_event(trail, AuditAction.VIDEO_UPDATE, AuditResult.DENIED, video.id)
    assert event.metadata["reason"] == "not_found"


def test_owner_who_lost_the_upload_right_can_no_longer_change_the_video(
    platform: Platform, make_user: MakeUser, admin: Caller, studio: Studio
) -> None:
    owner = make_user()
    assert owner.user_id is not None
    video = studio.publish(owner, title="Mine")
    platform.users.change_roles(admin, owner.user_id, ["viewer"])

    with pytest.raises(PermissionDenied):
        platform.videos.update(owner, video.id, UpdateVideo(title="Changed"))


def test_update_into_unknown_category_is_not_found(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner = make_user()
    video = studio.upload(owner)

    with pytest.raises(NotFound):
        platform.videos.update(
            owner, video.id, UpdateVideo(category_id=CategoryId("01NOSUCHCATEGORY0000000"))
        )


def test_update_keeps_the_view_count(
    platform: Platform,
    make_user: MakeUser,
    studio: Studio,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    owner, viewer = make_user(), make_user(Role.VIEWER)
    video = studio.publish(owner)
    for _ in range(3):
        platform.videos.record_view(viewer, video.id)

    platform.videos.update(owner, video.id, UpdateVideo(title="Renamed"))

    assert view_count(uow_factory, video.id) == 3


# -- delete ------------------------------------------------------------------------------


def test_delete_removes_record_bytes_and_revokes_shares(
    platform: Platform,
    make_user: MakeUser,
    studio: Studio,
    storage: MemoryObjectStorage,
    trail: Trail,
) -> None:
    owner = make_user()
    video = studio.publish(owner, title="Doomed")
    keep = studio.publish(owner, title="Kept")
    storage.put(f"videos/{video.id}/240p/index.m3u8", io.BytesIO(b"#EXTM3U"))
    created = platform.shares.create(owner, CreateShare(video_id=video.id))

    platform.videos.delete(owner, video.id)

    with pytest.raises(NotFound):
        platform.videos.get(owner, video.id)
    assert storage.keys() == [keep.source_key]
    # The revocation is a durable handler of the deletion: run what the worker would.
    assert settle_events(platform) >= 1
    assert platform.shares.details(owner, created.share.id).revoked_at is not None
    with pytest.raises(ShareRefused) as refused:
        platform.shares.redeem(created.token)
    assert refused.value.code == "share_revoked"
    event = only_event(trail, AuditAction.VIDEO_DELETE, AuditResult.SUCCESS, video.id)
    assert event.actor_id == owner.user_id
    assert event.metadata["title"] == "Doomed"


def test_moderator_may_delete_anyones_video(
    platform: Platform, make_user: MakeUser, studio: Studio, storage: MemoryObjectStorage
) -> None:
    owner, moderator = make_user(), make_user(Role.MODERATOR)
    video = studio.upload(owner, visibility=Visibility.PRIVATE)

    platform.videos.delete(moderator, video.id)

    assert storage.keys() == []


@pytest.mark.parametrize(
    ("visibility", "error", "reason"),
    [
        (Visibility.PUBLIC, PermissionDenied, "permission_denied"),
        (Visibility.PRIVATE, NotFound, "not_found"),
    ],
)
def test_stranger_cannot_delete_and_nothing_changes(
    platform: Platform,
    make_user: MakeUser,
    studio: Studio,
    storage: MemoryObjectStorage,
    trail: Trail,
    visibility: Visibility,
    error: type[Exception],
    reason: str,
) -> None:
    owner, other = make_user(), make_user()
    video = studio.publish(owner, visibility=visibility)

    with pytest.raises(error):
        platform.videos.delete(other, video.id)

    assert platform.videos.get(owner, video.id).id == video.id
    assert storage.keys() == [video.source_key]
    event = only_event(trail, AuditAction.VIDEO_DELETE, AuditResult.DENIED, video.id)
    assert event.metadata["reason"] == reason


# -- views -------------------------------------------------------------------------------


def test_concurrent_views_are_all_counted(
    platform: Platform,
    make_user: MakeUser,
    studio: Studio,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    owner, viewer = make_user(), make_user(Role.VIEWER)
    video = studio.publish(owner)

    def watch_ten_times(_: int) -> None:
        for _ in range(10):
            platform.videos.record_view(viewer, video.id)

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(watch_ten_times, range(20)))

    assert view_count(uow_factory, video.id) == 200


def test_views_of_invisible_videos_are_refused(
    platform: Platform,
    make_user: MakeUser,
    studio: Studio,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    owner, other = make_user(), make_user()
    private = studio.publish(owner, visibility=Visibility.PRIVATE)
    unready = studio.upload(owner, visibility=Visibility.PUBLIC)

    for video_id in (private.id, unready.id):
        with pytest.raises(NotFound):
            platform.videos.record_view(other, video_id)
        assert view_count(uow_factory, video_id) == 0
    with pytest.raises(NotFound):
        platform.videos.record_view(other, MISSING)


def test_anonymous_views_of_public_videos_count(
    platform: Platform, make_user: MakeUser, studio: Studio, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    video = studio.publish(make_user())

    platform.videos.record_view(Caller.anonymous(), video.id)

    assert view_count(uow_factory, video.id) == 1
