"""The composition root: settings → a punq container with every port → the services.

Nothing here runs at import time; :func:`create_platform` builds everything on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TypeVar, cast

import punq
from attrs import frozen

from videoplatform.adapters.memory.cache import MemoryCache
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.adapters.memory.queue import MemoryEventBus
from videoplatform.adapters.security.passwords import Argon2PasswordHasher
from videoplatform.adapters.security.tokens import SecretsTokenGenerator
from videoplatform.adapters.system import SystemClock, UlidGenerator
from videoplatform.application.audit_recording import Auditor
from videoplatform.application.audit_trail import AuditService
from videoplatform.application.categories import CategoryService
from videoplatform.application.dispatch import Dispatcher
from videoplatform.application.files import FileService
from videoplatform.application.following import FollowConfig, ProgressFollower
from videoplatform.application.health import HealthService
from videoplatform.application.limits import Limits
from videoplatform.application.messagebus import PublishingUnitOfWorkFactory
from videoplatform.application.playback import PlaybackPolicy, PlaybackService
from videoplatform.application.ports.cache import Cache
from videoplatform.application.ports.feed import VideoFeed
from videoplatform.application.ports.mail import Mailer
from videoplatform.application.ports.media import MediaProber, Storyboarder, Thumbnailer, Transcoder
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import EventBus, JobQueue, JobQueueClients
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import (
    Clock,
    IdGenerator,
    PasswordHasher,
    TokenGenerator,
)
from videoplatform.application.processing import ProcessingConfig, ProcessingService
from videoplatform.application.resumable import ResumableUploadService
from videoplatform.application.shares import ShareService
from videoplatform.application.throttle import FailureThrottle
from videoplatform.application.users import UserService
from videoplatform.application.videos import VideoService
from videoplatform.entrypoints.feeds import open_feed
from videoplatform.entrypoints.keys import playback_secret
from videoplatform.entrypoints.media import open_media
from videoplatform.entrypoints.persistence import Closer, open_database, open_storage
from videoplatform.entrypoints.queueing import open_queue
from videoplatform.entrypoints.settings import ConfigurationError, Settings

T = TypeVar("T")

# The application services, each under the name its use cases carry at the dispatch
# point (``videos.upload``...).
USE_CASES: dict[str, type] = {
    "health": HealthService,
    "users": UserService,
    "videos": VideoService,
    "files": FileService,
    "shares": ShareService,
    "categories": CategoryService,
    "audit": AuditService,
    "playback": PlaybackService,
    "uploads": ResumableUploadService,
    "processing": ProcessingService,
    "progress": ProgressFollower,
}
SERVICES: tuple[type, ...] = (Auditor, *USE_CASES.values())


def _check_supported(settings: Settings) -> None:
    for name in ("cache_url", "mail_url"):
        url: str = getattr(settings, name)
        scheme = url.split(":", 1)[0]
        if scheme != "memory":
            raise ConfigurationError(
                f"VIDEOPLATFORM_{name.upper()}={url!r}: the {scheme!r} adapter is not part of "
                "this release; only memory:// is available"
            )


def build_container(
    settings: Settings,
    overrides: Mapping[type, object] | None = None,
    closers: list[Closer] | None = None,
) -> punq.Container:
    """Register every port with the adapter that ``settings`` chooses, then the services.

    ``overrides`` maps a port (``Clock``, ``ObjectStorage``...) to an instance that
    replaces the chosen adapter: how testers plug in a manual clock or a fake.
    """
    _check_supported(settings)
    closers = closers if closers is not None else []
    # Typed locals make mypy prove that each adapter satisfies its port.
    clock: Clock = SystemClock()
    ids: IdGenerator = UlidGenerator()
    tokens: TokenGenerator = SecretsTokenGenerator()
    hasher: PasswordHasher = Argon2PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    overrides = overrides or {}
    storage: ObjectStorage = (
        cast(ObjectStorage, overrides[ObjectStorage])
        if ObjectStorage in overrides
        else open_storage(settings)
    )
    persistence: UnitOfWorkFactory = (
        cast(UnitOfWorkFactory, overrides[UnitOfWorkFactory])
        if UnitOfWorkFactory in overrides
        else open_database(settings, closers)
    )
    queue, queue_clients = open_queue(settings, closers)
    bus: EventBus = MemoryEventBus()
    cache: Cache = MemoryCache()
    mailer: Mailer = MemoryMailer()
    feed: VideoFeed = (
        cast(VideoFeed, overrides[VideoFeed])
        if VideoFeed in overrides
        else open_feed(settings, closers)
    )
    media = open_media(settings)
    prober: MediaProber = media.prober
    thumbnailer: Thumbnailer = media.thumbnailer
    transcoder: Transcoder = media.transcoder
    storyboarder: Storyboarder = media.storyboarder

    playback = overrides.get(PlaybackPolicy) or PlaybackPolicy(
        playback_secret(settings), timedelta(seconds=settings.playback_ttl_seconds)
    )

    chosen: dict[type, object] = {
        Settings: settings,
        PlaybackPolicy: playback,
        Limits: settings.limits(),
        ProcessingConfig: settings.processing(),
        Clock: clock,
        IdGenerator: ids,
        TokenGenerator: tokens,
        PasswordHasher: hasher,
        ObjectStorage: storage,
        JobQueue: queue,
        JobQueueClients: queue_clients,
        EventBus: bus,
        Cache: cache,
        Mailer: mailer,
        VideoFeed: feed,
        FollowConfig: FollowConfig(),
        MediaProber: prober,
        Thumbnailer: thumbnailer,
        Transcoder: transcoder,
        Storyboarder: storyboarder,
    }
    chosen.update(overrides)
    chosen.pop(UnitOfWorkFactory, None)
    bus = cast(EventBus, chosen[EventBus])
    # Services get units of work whose commits hand their events to the bus.
    chosen[UnitOfWorkFactory] = PublishingUnitOfWorkFactory(persistence, bus)

    container = punq.Container()
    # The login and share throttle counts in the configured cache (an override too).
    chosen[FailureThrottle] = FailureThrottle(cast(Cache, chosen[Cache]))
    for port, instance in chosen.items():
        container.register(port, instance=instance)
    for service in SERVICES:
        container.register(service, scope=punq.Scope.singleton)
    dispatcher = cast(Dispatcher | None, chosen.get(Dispatcher)) or Dispatcher()
    container.register(Dispatcher, instance=dispatcher)
    for name, service in USE_CASES.items():
        dispatcher.route(container.resolve(service), name)
    return container


def resolve(container: punq.Container, key: type[T]) -> T:
    """Typed resolution (punq itself returns Any)."""
    resolved: T = container.resolve(key)
    return resolved


@frozen
class Platform:
    """A wired platform: the application services an embedder calls, and the container
    for anything else (adapters such as the mailer or the job queue)."""

    settings: Settings
    container: punq.Container
    users: UserService
    videos: VideoService
    files: FileService
    shares: ShareService
    categories: CategoryService
    audit: AuditService
    health: HealthService
    events: EventBus
    playback: PlaybackService
    processing: ProcessingService
    dispatcher: Dispatcher
    """The dispatch point every use case goes through: ``platform.dispatcher.use(m)``
    adds a middleware."""
    closers: tuple[Closer, ...] = ()

    def resolve(self, key: type[T]) -> T:
        return resolve(self.container, key)

    def close(self) -> None:
        """Release connections and pools. The platform is unusable afterwards."""
        for close in reversed(self.closers):
            close()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def create_platform(
    settings: Settings | None = None, *, overrides: Mapping[type, object] | None = None
) -> Platform:
    """Build a platform from ``settings`` (default: the ``VIDEOPLATFORM_*`` environment),
    with any port replaced through ``overrides``."""
    settings = settings if settings is not None else Settings.from_env()
    closers: list[Closer] = []
    try:
        container = build_container(settings, overrides, closers)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    return Platform(
        settings=settings,
        container=container,
        users=resolve(container, UserService),
        videos=resolve(container, VideoService),
        files=resolve(container, FileService),
        shares=resolve(container, ShareService),
        categories=resolve(container, CategoryService),
        audit=resolve(container, AuditService),
        health=resolve(container, HealthService),
        events=container.resolve(EventBus),
        playback=resolve(container, PlaybackService),
        processing=resolve(container, ProcessingService),
        dispatcher=resolve(container, Dispatcher),
        closers=tuple(closers),
    )
