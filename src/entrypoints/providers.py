"""The providers: one per capability, each building the adapters of its ports from its
own section of the settings (see ``SECTIONS`` in :mod:`.settings`) and handing over
what must be closed. ``PROVIDERS`` is the order they run in: a provider may use what an
earlier one provided (``wiring.get``).

Adding a capability: a provider here (its ports, its adapters chosen from its settings
section), its place in ``PROVIDERS``, and its service in ``USE_CASES`` (bootstrap).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from videoplatform.adapters.memory.cache import MemoryCache
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.adapters.memory.queue import MemoryEventBus
from videoplatform.adapters.security.passwords import Argon2PasswordHasher
from videoplatform.adapters.security.sealing import FernetSecretBox
from videoplatform.adapters.security.tokens import SecretsTokenGenerator
from videoplatform.adapters.security.totp import PyotpOneTimePasswords
from videoplatform.adapters.system import LocalDiskSpace, SystemClock, UlidGenerator
from videoplatform.application.events.consumer import DurableHandlers
from videoplatform.application.events.deferred import DeferredEvents
from videoplatform.application.events.journal import EventJournal
from videoplatform.application.events.reactions import platform_reactions
from videoplatform.application.following import FollowConfig
from videoplatform.application.health import HealthConfig
from videoplatform.application.limits import Limits
from videoplatform.application.playback import PlaybackPolicy
from videoplatform.application.ports.cache import Cache
from videoplatform.application.ports.feed import VideoFeed
from videoplatform.application.ports.mail import Mailer
from videoplatform.application.ports.media import (
    AvatarMaker,
    MediaProber,
    MediaToolCheck,
    MediaTools,
    Storyboarder,
    SubtitleExtractor,
    Thumbnailer,
    Transcoder,
)
from videoplatform.application.ports.persistence import (
    CommitHooks,
    SchemaState,
    UnitOfWorkFactory,
)
from videoplatform.application.ports.queue import EventBus, EventChannel, JobQueue, JobQueueClients
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import (
    Clock,
    DiskSpace,
    IdGenerator,
    OneTimePasswords,
    PasswordHasher,
    SecretBox,
    TokenGenerator,
)
from videoplatform.application.ports.tracing import Tracer
from videoplatform.application.processing import ProcessingConfig
from videoplatform.application.throttle import FailureThrottle
from videoplatform.application.users.mailing import AccountMail
from videoplatform.entrypoints.feeds import open_feed
from videoplatform.entrypoints.instruments import (
    CacheReads,
    CountedCache,
    StorageTimings,
    TimedStorage,
)
from videoplatform.entrypoints.keys import playback_secret
from videoplatform.entrypoints.media import open_avatar_maker, open_media, open_media_check
from videoplatform.entrypoints.persistence import open_database, open_storage, schema_state_of
from videoplatform.entrypoints.queueing import open_event_channel, open_queue
from videoplatform.entrypoints.resilience import (
    Breakers,
    GuardedEventChannel,
    GuardedJobQueue,
    GuardedMailer,
    GuardedStorage,
)
from videoplatform.entrypoints.settings import ConfigurationError, Settings, masked_url
from videoplatform.entrypoints.tracing import current_tracer
from videoplatform.entrypoints.wiring import Provider, Wiring


def system(settings: Settings, wiring: Wiring) -> None:
    """Time and ids, and the settings themselves with the limits derived from them."""
    wiring.provide(Settings, lambda: settings)
    # Typed builders make mypy prove that each adapter satisfies its port.
    clock: Callable[[], Clock] = SystemClock
    ids: Callable[[], IdGenerator] = UlidGenerator
    wiring.provide(Clock, clock)
    wiring.provide(IdGenerator, ids)
    wiring.provide(Limits, settings.limits)


def security(settings: Settings, wiring: Wiring) -> None:
    """Secrets and password hashing (argon2id)."""
    tokens: Callable[[], TokenGenerator] = SecretsTokenGenerator

    def hasher() -> PasswordHasher:
        return Argon2PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )

    one_time: Callable[[], OneTimePasswords] = PyotpOneTimePasswords
    wiring.provide(TokenGenerator, tokens)
    wiring.provide(PasswordHasher, hasher)
    wiring.provide(OneTimePasswords, one_time)


def resilience(settings: Settings, wiring: Wiring) -> None:
    """The circuit breakers of the dependencies that can hang (S3, RabbitMQ, Redis,
    SMTP); the providers of those put their adapters behind them."""
    wiring.provide(
        Breakers, lambda: Breakers(settings.breaker_failures, settings.breaker_reset_seconds)
    )


def _remote(url: str, *schemes: str) -> bool:
    return url.split(":", 1)[0] in schemes


def instruments(settings: Settings, wiring: Wiring) -> None:
    """What the metrics watch at the ports: storage timings and cache reads."""
    wiring.provide(StorageTimings, StorageTimings)
    wiring.provide(CacheReads, CacheReads)


def storage(settings: Settings, wiring: Wiring) -> None:
    """Object storage: local disk, S3 (behind its breaker) or memory; timed."""
    breakers: Breakers = wiring.get(Breakers)
    timings: StorageTimings = wiring.get(StorageTimings)

    def build() -> ObjectStorage:
        opened = open_storage(settings)
        if _remote(settings.storage_url, "s3"):
            opened = GuardedStorage(opened, breakers)
        return TimedStorage(opened, timings)

    wiring.provide(ObjectStorage, build)


def events(settings: Settings, wiring: Wiring) -> None:
    """What a commit does with its domain events: writes them to the outbox in the same
    transaction (the relay takes them to the event channel), then hands them to the
    in-process bus for cheap local work. Events no unit of work commits (refused
    accesses) go to handlers of this process that the publisher does not wait for."""
    memory_bus: Callable[[], EventBus] = MemoryEventBus
    bus = wiring.provide(EventBus, memory_bus)
    wiring.provide(CommitHooks, lambda: EventJournal(wiring.get(IdGenerator), bus))
    wiring.provide(DeferredEvents, DeferredEvents)


def tracing(settings: Settings, wiring: Wiring) -> None:
    """Spans (OpenTelemetry), where this process set tracing up from the ``OTEL_*``
    environment (see :mod:`.tracing`); a tracer that does nothing otherwise."""
    wiring.provide(Tracer, current_tracer)


def persistence(settings: Settings, wiring: Wiring) -> None:
    """The database: SQLite (migrated on start), PostgreSQL or memory; and how to ask
    whether its schema is this release's."""
    hooks: CommitHooks = wiring.get(CommitHooks)
    tracer: Tracer = wiring.get(Tracer)
    factory = wiring.provide(
        UnitOfWorkFactory, lambda: open_database(settings, wiring.closers, hooks, tracer)
    )
    if getattr(factory, "hooks", hooks) is None:
        # An override built without hooks (a test's memory or SQL factory) still records
        # and hands on the events of what it commits, as the platform's own would.
        setattr(factory, "hooks", hooks)  # noqa: B010 - not part of the port
    if getattr(factory, "tracer", tracer) is None:
        # Likewise, its outbox records the trace context of what it writes.
        setattr(factory, "tracer", tracer)  # noqa: B010 - not part of the port
    wiring.provide(SchemaState, lambda: schema_state_of(factory))


def queueing(settings: Settings, wiring: Wiring) -> None:
    """The job queue (in-process or RabbitMQ) and the clients consumers take from it;
    the event channel, with the queues of the durable handlers' subscriptions."""
    built: list[tuple[JobQueue, JobQueueClients]] = []

    breakers: Breakers = wiring.get(Breakers)
    remote = _remote(settings.queue_url, "amqp", "amqps")

    def pair() -> tuple[JobQueue, JobQueueClients]:
        if not built:
            publisher, clients = open_queue(settings, wiring.closers)
            if remote:
                publisher = GuardedJobQueue(publisher, breakers)
            built.append((publisher, clients))
        return built[0]

    def channel() -> EventChannel:
        opened = open_event_channel(settings, shared, wiring.closers)
        return GuardedEventChannel(opened, breakers) if remote else opened

    wiring.provide(JobQueue, lambda: pair()[0])
    wiring.provide(JobQueueClients, lambda: pair()[1])
    uow: UnitOfWorkFactory = wiring.get(UnitOfWorkFactory)
    clock: Clock = wiring.get(Clock)
    mail = AccountMail(
        uow,
        clock,
        wiring.get(IdGenerator),
        wiring.get(TokenGenerator),
        wiring.get(Mailer),
        wiring.get(Limits),
        site_url=settings.public_url,
    )
    handlers = wiring.provide(
        DurableHandlers,
        lambda: DurableHandlers(platform_reactions(uow, clock, mail, wiring.get(ObjectStorage))),
    )

    shared = [s for s in handlers.subscriptions() if not s.per_node]
    wiring.provide(EventChannel, channel)


def cache(settings: Settings, wiring: Wiring) -> None:
    """The cache, and the login and share throttle that counts in it."""
    _memory_only(settings, "cache_url")
    reads: CacheReads = wiring.get(CacheReads)

    def counted() -> Cache:
        return CountedCache(MemoryCache(), reads)

    shared = wiring.provide(Cache, counted)
    wiring.provide(FailureThrottle, lambda: FailureThrottle(shared))


def mail(settings: Settings, wiring: Wiring) -> None:
    """Account mail: kept in memory, or handed to an SMTP server."""
    scheme = settings.mail_url.split(":", 1)[0]
    if scheme in ("smtp", "smtps"):
        from videoplatform.adapters.smtp import SmtpMailer

        try:
            mailer = SmtpMailer(settings.mail_url, settings.mail_from, settings.mail_reply_to)
        except ValueError as error:
            raise ConfigurationError(f"VIDEOPLATFORM_MAIL_URL or _MAIL_FROM: {error}") from None
        guarded: Mailer = GuardedMailer(mailer, wiring.get(Breakers))
        wiring.provide(Mailer, lambda: guarded)
        return
    if scheme != "memory":
        raise ConfigurationError(
            f"VIDEOPLATFORM_MAIL_URL={masked_url(settings.mail_url)!r}: use memory://, "
            "smtp://[user:password@]host[:port] (STARTTLS) or smtps://... (TLS)"
        )
    memory_mailer: Callable[[], Mailer] = MemoryMailer
    wiring.provide(Mailer, memory_mailer)


def feed(settings: Settings, wiring: Wiring) -> None:
    """Processing updates for followers: in-process or through Redis."""
    breakers: Breakers = wiring.get(Breakers)
    wiring.provide(VideoFeed, lambda: open_feed(settings, wiring.closers, breakers))
    wiring.provide(FollowConfig, FollowConfig)


def media(settings: Settings, wiring: Wiring) -> None:
    """ffmpeg (or the synthetic format), whether it runs, and how videos are processed."""
    built: list[MediaTools] = []

    def adapters() -> MediaTools:
        if not built:
            built.append(open_media(settings))
        return built[0]

    wiring.provide(MediaProber, lambda: adapters().prober)
    wiring.provide(Thumbnailer, lambda: adapters().thumbnailer)
    wiring.provide(Storyboarder, lambda: adapters().storyboarder)
    wiring.provide(Transcoder, lambda: adapters().transcoder)
    wiring.provide(SubtitleExtractor, lambda: adapters().subtitles)
    wiring.provide(AvatarMaker, lambda: open_avatar_maker(settings))
    wiring.provide(
        MediaTools,
        lambda: MediaTools(
            wiring.get(MediaProber),
            wiring.get(Thumbnailer),
            wiring.get(Storyboarder),
            wiring.get(Transcoder),
            wiring.get(SubtitleExtractor),
        ),
    )
    wiring.provide(ProcessingConfig, settings.processing)
    wiring.provide(MediaToolCheck, lambda: open_media_check(settings))


def playback(settings: Settings, wiring: Wiring) -> None:
    """Signed playback URLs: the secret and the longest lifetime; and the box sealing
    two-factor secrets, under a key derived from the same secret (kept outside the
    database, and shared by every node already)."""
    secret = playback_secret(settings)
    wiring.provide(
        PlaybackPolicy,
        lambda: PlaybackPolicy(secret, timedelta(seconds=settings.playback_ttl_seconds)),
    )
    box: Callable[[], SecretBox] = lambda: FernetSecretBox(secret)  # noqa: E731
    wiring.provide(SecretBox, box)


def health(settings: Settings, wiring: Wiring) -> None:
    """What the health checks watch: the disks, and which dependencies are required."""
    disks: Callable[[], DiskSpace] = LocalDiskSpace
    wiring.provide(DiskSpace, disks)
    wiring.provide(HealthConfig, settings.health)


# Cache and mail first: they refuse an adapter this release lacks before anything is
# opened (a data directory created, a database migrated, a broker connected).
PROVIDERS: tuple[Provider, ...] = (
    resilience,
    instruments,
    system,
    security,
    cache,
    mail,
    storage,
    events,
    tracing,
    persistence,
    queueing,
    feed,
    media,
    playback,
    health,
)


def _memory_only(settings: Settings, name: str) -> None:
    url: str = getattr(settings, name)
    scheme = url.split(":", 1)[0]
    if scheme != "memory":
        raise ConfigurationError(
            f"VIDEOPLATFORM_{name.upper()}={url!r}: the {scheme!r} adapter is not part of "
            "this release; only memory:// is available"
        )
