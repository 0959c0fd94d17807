"""The composition root: settings → the providers (one per capability, see
:mod:`.providers`) → a punq container with every port → the services, each routed
through the dispatch point.

Nothing here runs at import time; :func:`create_platform` builds everything on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar, cast

import punq
from attrs import frozen

from videoplatform.application.announcing import ProgressAnnouncer
from videoplatform.application.audit_recording import Auditor
from videoplatform.application.audit_trail import AuditService
from videoplatform.application.captions import CaptionService
from videoplatform.application.categories import CategoryService
from videoplatform.application.dispatch import Dispatcher
from videoplatform.application.essentials import Essentials
from videoplatform.application.events.deferred import DeferredEvents, settled_before
from videoplatform.application.files import FileService
from videoplatform.application.following import ProgressFollower
from videoplatform.application.health import HealthService
from videoplatform.application.playback import PlaybackService
from videoplatform.application.ports.feed import VideoFeed
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import EventBus
from videoplatform.application.ports.system import Clock, IdGenerator
from videoplatform.application.ports.tracing import Tracer
from videoplatform.application.processing import ProcessingService
from videoplatform.application.processing.timings import ProcessingTimings
from videoplatform.application.resumable import ResumableUploadService
from videoplatform.application.search import SearchLogRecorder, SearchService
from videoplatform.application.shares import ShareService
from videoplatform.application.users import UserService
from videoplatform.application.videos import VideoService
from videoplatform.domain.events import (
    AccessRefused,
    SearchPerformed,
    SearchResultOpened,
    VideoEvent,
)
from videoplatform.entrypoints.logging import bind_use_case
from videoplatform.entrypoints.providers import PROVIDERS
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.wiring import Closer, Wiring

T = TypeVar("T")

# The application services, each under the name its use cases carry at the dispatch
# point (``videos.upload``...).
USE_CASES: dict[str, type] = {
    "health": HealthService,
    "users": UserService,
    "videos": VideoService,
    "files": FileService,
    "shares": ShareService,
    "captions": CaptionService,
    "categories": CategoryService,
    "audit": AuditService,
    "playback": PlaybackService,
    "uploads": ResumableUploadService,
    "processing": ProcessingService,
    "progress": ProgressFollower,
    "search": SearchService,
}
SERVICES: tuple[type, ...] = (Auditor, *USE_CASES.values())


def build_container(
    settings: Settings,
    overrides: Mapping[type, object] | None = None,
    closers: list[Closer] | None = None,
) -> punq.Container:
    """Run the providers (each chooses the adapters of its ports from ``settings``),
    then register the services and route them through the dispatch point.

    ``overrides`` maps a port (``Clock``, ``ObjectStorage``...) to an instance that
    replaces the chosen adapter: how testers plug in a manual clock or a fake.
    Whatever must be closed is appended to ``closers`` as soon as it is opened.
    """
    wiring = Wiring(overrides)
    if closers is not None:
        wiring.closers = closers
    for provide in PROVIDERS:
        provide(settings, wiring)
    container = punq.Container()
    for port, instance in {**wiring.ports, **wiring.remaining_overrides()}.items():
        container.register(port, instance=instance)
    for service in SERVICES:
        container.register(service, scope=punq.Scope.singleton)
    essentials = Essentials(
        uow=wiring.get(UnitOfWorkFactory),
        clock=wiring.get(Clock),
        ids=wiring.get(IdGenerator),
        audit=resolve(container, Auditor),
    )
    container.register(Essentials, instance=essentials)
    # Each processing stage is a span too, where tracing is on.
    container.register(ProcessingTimings, instance=ProcessingTimings(wiring.get(Tracer)))
    dispatcher = cast(Dispatcher | None, wiring.remaining_overrides().get(Dispatcher))
    dispatcher = dispatcher or Dispatcher()
    container.register(Dispatcher, instance=dispatcher)
    dispatcher.use(bind_use_case)
    for name, service in USE_CASES.items():
        dispatcher.route(container.resolve(service), name)
    # Followers hear of each committed change of processing, from the committing process.
    announcer = ProgressAnnouncer(
        wiring.get(UnitOfWorkFactory), wiring.get(VideoFeed), wiring.get(Clock)
    )
    dispatcher.subscribe(wiring.get(EventBus), VideoEvent, "feed.announce", announcer)
    # Refused accesses reach the audit trail after the caller was answered; a reader of
    # the trail first waits for those this process has seen. Closed before anything it
    # writes with (the closers run last added first).
    refusals: DeferredEvents = wiring.get(DeferredEvents)
    auditor = resolve(container, Auditor)
    dispatcher.subscribe(refusals, AccessRefused, "audit.record_refusal", auditor.record_refusal)
    dispatcher.use(settled_before("audit.", refusals))
    # Search analytics are written after the searcher was answered, by the same thread.
    recorder = SearchLogRecorder(wiring.get(UnitOfWorkFactory))
    dispatcher.subscribe(refusals, SearchPerformed, "search.record_query", recorder.query)
    dispatcher.subscribe(refusals, SearchResultOpened, "search.record_click", recorder.click)
    dispatcher.use(settled_before("search.analytics", refusals))
    wiring.close_with(refusals.close)
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
    captions: CaptionService
    categories: CategoryService
    search: SearchService
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
        captions=resolve(container, CaptionService),
        categories=resolve(container, CategoryService),
        search=resolve(container, SearchService),
        audit=resolve(container, AuditService),
        health=resolve(container, HealthService),
        events=container.resolve(EventBus),
        playback=resolve(container, PlaybackService),
        processing=resolve(container, ProcessingService),
        dispatcher=resolve(container, Dispatcher),
        closers=tuple(closers),
    )
