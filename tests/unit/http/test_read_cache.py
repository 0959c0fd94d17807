"""Anonymous reads of public videos come from the cache, and never outlive a change."""

from __future__ import annotations

import falcon.testing
import pytest

from tests.unit.application.conftest import Studio
from tests.unit.domain.builders import NOW, make_video
from tests.unit.http.conftest import Account, MakeAccount
from videoplatform.adapters.memory.cache import MemoryCache
from videoplatform.adapters.memory.queue import MemoryEventBus
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.ports.cache import Cache
from videoplatform.domain.events import UserDisabled, VideoUpdated
from videoplatform.domain.ids import UserId, VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Video, VideoStatus, Visibility
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app, options_from
from videoplatform.entrypoints.http.read_cache import PublicVideoCache
from videoplatform.entrypoints.settings import Settings


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticking() -> Ticking:
    return Ticking()


@pytest.fixture
def platform(
    settings: Settings,
    clock: object,
    storage: object,
    uow_factory: MemoryUnitOfWorkFactory,
    ticking: Ticking,
) -> Platform:
    from videoplatform.application.ports.persistence import UnitOfWorkFactory
    from videoplatform.application.ports.storage import ObjectStorage
    from videoplatform.application.ports.system import Clock

    cache: Cache = MemoryCache(clock=ticking)
    return create_platform(
        settings,
        overrides={
            Clock: clock,
            ObjectStorage: storage,
            UnitOfWorkFactory: uow_factory,
            Cache: cache,
        },
    )


@pytest.fixture
def http_options() -> HttpOptions:
    return HttpOptions(read_cache_seconds=5)


@pytest.fixture
def studio(platform: Platform, uow_factory: MemoryUnitOfWorkFactory, clock: object) -> Studio:
    return Studio(platform, uow_factory, clock)  # type: ignore[arg-type]


ONE_PROCESS = {"wsgi.multiprocess": False}


def rename_behind_the_api(uow_factory: MemoryUnitOfWorkFactory, video_id: VideoId) -> None:
    """Change the stored video without publishing events, as only a cache would notice."""
    with uow_factory() as uow:
        video = uow.videos.get(video_id)
        video.title = "changed in storage"
        uow.videos.save(video)
        uow.commit()


def publish(studio: Studio, owner: Account, visibility: Visibility = Visibility.PUBLIC) -> VideoId:
    return studio.publish(Caller(UserId(owner.user_id)), visibility=visibility).id


def test_a_public_video_is_served_from_the_cache_until_it_expires(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    studio: Studio,
    uow_factory: MemoryUnitOfWorkFactory,
    ticking: Ticking,
) -> None:
    video_id = publish(studio, account(Role.CREATOR))
    path = f"/api/v1/videos/{video_id}"
    assert client.simulate_get(path, extras=ONE_PROCESS).json["title"] == "A clip"

    rename_behind_the_api(uow_factory, video_id)

    assert client.simulate_get(path, extras=ONE_PROCESS).json["title"] == "A clip"  # from the cache
    ticking.now += 6
    assert client.simulate_get(path, extras=ONE_PROCESS).json["title"] == "changed in storage"


def test_signed_in_callers_always_read_through(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    studio: Studio,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    owner = account(Role.CREATOR)
    video_id = publish(studio, owner)
    path = f"/api/v1/videos/{video_id}"
    client.simulate_get(path, extras=ONE_PROCESS)
    rename_behind_the_api(uow_factory, video_id)
    assert (
        client.simulate_get(path, headers=owner.headers, extras=ONE_PROCESS).json["title"]
        == "changed in storage"
    )


def test_an_update_reaches_anonymous_readers_at_once(
    client: falcon.testing.TestClient, account: MakeAccount, studio: Studio
) -> None:
    owner = account(Role.CREATOR)
    video_id = publish(studio, owner)
    path = f"/api/v1/videos/{video_id}"
    client.simulate_get(path, extras=ONE_PROCESS)
    client.simulate_patch(path, json={"title": "Renamed"}, headers=owner.headers)
    assert client.simulate_get(path, extras=ONE_PROCESS).json["title"] == "Renamed"


def test_making_a_video_private_hides_it_from_anonymous_readers_at_once(
    client: falcon.testing.TestClient, account: MakeAccount, studio: Studio
) -> None:
    owner = account(Role.CREATOR)
    video_id = publish(studio, owner)
    path = f"/api/v1/videos/{video_id}"
    assert client.simulate_get(path, extras=ONE_PROCESS).status_code == 200
    client.simulate_patch(path, json={"visibility": "private"}, headers=owner.headers)
    assert client.simulate_get(path, extras=ONE_PROCESS).status_code == 404


def test_a_deleted_video_is_gone_at_once(
    client: falcon.testing.TestClient, account: MakeAccount, studio: Studio
) -> None:
    owner = account(Role.CREATOR)
    video_id = publish(studio, owner)
    path = f"/api/v1/videos/{video_id}"
    client.simulate_get(path, extras=ONE_PROCESS)
    assert client.simulate_delete(path, headers=owner.headers).status_code == 204
    assert client.simulate_get(path, extras=ONE_PROCESS).status_code == 404


def test_videos_the_public_cannot_see_are_never_cached(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    studio: Studio,
    platform: Platform,
) -> None:
    owner = account(Role.CREATOR)
    video_id = publish(studio, owner, Visibility.PRIVATE)
    client.simulate_get(f"/api/v1/videos/{video_id}", headers=owner.headers, extras=ONE_PROCESS)
    cache = platform.container.resolve(Cache)
    assert cache.get(f"http:video:{video_id}") is None


def test_the_cache_is_off_when_worker_processes_could_not_share_it() -> None:
    many = create_platform(
        Settings.in_memory(
            workers=4, argon2_memory_kib=1024, argon2_time_cost=1, argon2_parallelism=1
        )
    )
    assert options_from(many).read_cache_seconds == 0
    one = create_platform(
        Settings.in_memory(argon2_memory_kib=1024, argon2_time_cost=1, argon2_parallelism=1)
    )
    assert options_from(one).read_cache_seconds == 5
    create_app(one)  # and the app builds with it on


def test_under_several_worker_processes_the_memory_cache_is_bypassed(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    studio: Studio,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video_id = publish(studio, account(Role.CREATOR))
    path = f"/api/v1/videos/{video_id}"
    several = {"wsgi.multiprocess": True}
    client.simulate_get(path, extras=several)
    rename_behind_the_api(uow_factory, video_id)
    assert client.simulate_get(path, extras=several).json["title"] == "changed in storage"


def test_a_read_that_raced_a_change_never_stores_its_stale_copy(
    platform: Platform,
    account: MakeAccount,
    studio: Studio,
    ticking: Ticking,
) -> None:

    owner = account(Role.CREATOR)
    video_id = publish(studio, owner)
    cache = PublicVideoCache(platform.container.resolve(Cache), platform.events, 5)
    ticket = cache.ticket(video_id)
    with platform.container.resolve(
        __import__(
            "videoplatform.application.ports.persistence", fromlist=["UnitOfWorkFactory"]
        ).UnitOfWorkFactory
    )() as uow:
        loaded = uow.videos.get(video_id)  # the read loaded the video while still public...
    platform.events.publish(VideoUpdated(occurred_at=loaded.created_at, video_id=video_id))
    cache.keep(loaded, b"stale public copy", ticket)  # ...and finishes after the change
    assert cache.get(video_id) is None


def public_video() -> Video:
    """A ready public video, as the public may see it."""
    video = make_video(VideoStatus.READY, visibility=Visibility.PUBLIC)
    assert video.can_be_seen_by(None)
    return video


def test_a_change_drops_the_entry_for_every_process_sharing_the_cache() -> None:
    # Two API processes on one shared cache, each with its own event bus: the one that
    # sees the change removes the shared entry, whatever else it saw before.
    shared = MemoryCache()
    first_bus, second_bus = MemoryEventBus(), MemoryEventBus()
    PublicVideoCache(shared, first_bus, 60, shared=True)  # the first process's cache
    second = PublicVideoCache(shared, second_bus, 60, shared=True)
    video = public_video()
    second.keep(video, b"old body", second.ticket(video.id))
    assert second.get(video.id) == b"old body"

    first_bus.publish(UserDisabled(occurred_at=NOW, user_id=UserId("someone-else")))
    first_bus.publish(VideoUpdated(occurred_at=NOW, video_id=video.id))

    assert second.get(video.id) is None


def test_disabling_any_account_drops_every_entry_of_this_process() -> None:
    bus = MemoryEventBus()
    cache = PublicVideoCache(MemoryCache(), bus, 60)
    video = public_video()
    cache.keep(video, b"body", cache.ticket(video.id))
    ticket = cache.ticket(video.id)

    bus.publish(UserDisabled(occurred_at=NOW, user_id=video.owner_id))

    assert cache.get(video.id) is None
    cache.keep(video, b"stale", ticket)  # read before the change: never stored
    assert cache.get(video.id) is None
