"""Circuit breakers around the dependencies that can hang: S3, RabbitMQ publishing,
Redis and SMTP.

Each dependency has one breaker per process (pybreaker's, a well-kept implementation
of the pattern). Only the dependency's own failures count (the adapters report them as
:class:`Unavailable`: unreachable, silent past its timeout, failing on its side; or as
``PublishFailed`` for the queue); a refusal about the request itself (no such object, a
bad address) does not. After
``failures`` of them in a row the circuit opens: for ``reset_seconds`` the dependency is
not asked at all, and what needs it fails at once, as ``Unavailable`` (a 503 for a
request, a later retry for a job), or does without it (the video feed). Then one call
tries it again: success closes the circuit, failure opens it for another period.

The guards wrap the ports in the composition root, so that adapters, use cases and
tests of either know nothing of breakers. Health checks (``ping``) go around the
breaker, so that they report what the dependency says; while a circuit is open they
report it down without asking it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO, ParamSpec, Protocol, TypeVar

import structlog

from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.feed import NoFeed, ProcessingProgress, Subscription, VideoFeed
from videoplatform.application.ports.mail import Mailer, MailMessage
from videoplatform.application.ports.queue import (
    Delivery,
    EventChannel,
    Job,
    JobQueue,
    PublishFailed,
    QueueDepth,
)
from videoplatform.application.ports.queue import Subscription as EventSubscription
from videoplatform.application.ports.storage import (
    ByteRange,
    ObjectInfo,
    ObjectStorage,
    ReadableStream,
)
from videoplatform.domain.ids import VideoId

if TYPE_CHECKING:
    import pybreaker

log = structlog.get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

GUARDED = ("storage", "queue", "feed", "mail")
"""The dependencies with a breaker (the metric's label values)."""
CLOSED, HALF_OPEN, OPEN = "closed", "half-open", "open"
STATES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
"""A circuit's state as a number (the metric's value). (pybreaker's names: it is
imported only when a breaker is first needed, since it loads the redis package when
installed, which the embedded profile never needs.)"""

StateWatcher = Callable[[str, str], None]
"""Told ``(dependency, state)`` when a circuit changes state."""


class Breakers:
    """The breakers of one process, made on first use, and who watches them."""

    def __init__(self, failures: int = 5, reset_seconds: float = 30.0) -> None:
        self._failures = failures
        self._reset_seconds = reset_seconds
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}
        self._watchers: list[StateWatcher] = []
        self._opened: dict[str, float] = {}
        self._lock = threading.Lock()

    def watch(self, watcher: StateWatcher) -> None:
        """Have ``watcher`` told of every change of state, and of every circuit's
        state now."""
        with self._lock:
            self._watchers.append(watcher)
            known = {name: b.current_state for name, b in self._breakers.items()}
        for name in GUARDED:
            watcher(name, known.get(name, CLOSED))

    def state(self, dependency: str) -> str:
        with self._lock:
            breaker = self._breakers.get(dependency)
        return breaker.current_state if breaker else CLOSED

    def breaker(self, dependency: str) -> pybreaker.CircuitBreaker:
        found = self._breakers.get(dependency)
        if found is not None:
            return found
        import pybreaker

        with self._lock:
            found = self._breakers.get(dependency)
            if found is None:
                found = pybreaker.CircuitBreaker(
                    fail_max=self._failures,
                    reset_timeout=self._reset_seconds,
                    # Only the dependency's own failures count.
                    exclude=[lambda error: not isinstance(error, Unavailable | PublishFailed)],
                    listeners=[_listener(self, dependency)],
                    # The call that opens the circuit raises its own error.
                    throw_new_error_on_trip=False,
                    name=dependency,
                )
                self._breakers[dependency] = found
            return found

    def call(
        self, dependency: str, function: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``function(*args, **kwargs)`` through ``dependency``'s breaker."""
        import pybreaker

        try:
            return self.breaker(dependency).call(function, *args, **kwargs)
        except pybreaker.CircuitBreakerError:
            raise self.open_error(dependency) from None

    def open_error(self, dependency: str) -> Unavailable:
        return Unavailable(
            dependency,
            f"not tried: it failed {self._failures} times in a row; tried again within "
            f"{self._reset_seconds:g} s",
        )

    def is_open(self, dependency: str) -> bool:
        """Whether ``dependency``'s circuit is open and not yet due to be tried again."""
        with self._lock:
            opened = self._opened.get(dependency)
        return opened is not None and time.monotonic() - opened < self._reset_seconds

    def _changed(self, dependency: str, state: str) -> None:
        with self._lock:
            watchers = list(self._watchers)
            if state == OPEN:
                self._opened[dependency] = time.monotonic()
            else:
                self._opened.pop(dependency, None)
        log.warning("circuit_" + state.replace("-", "_"), dependency=dependency)
        for watcher in watchers:
            watcher(dependency, state)


def _listener(breakers: Breakers, dependency: str) -> pybreaker.CircuitBreakerListener:
    import pybreaker

    class Listener(pybreaker.CircuitBreakerListener):
        def state_change(
            self,
            cb: pybreaker.CircuitBreaker,
            old_state: pybreaker.CircuitBreakerState | None,
            new_state: pybreaker.CircuitBreakerState,
        ) -> None:
            breakers._changed(dependency, new_state.name)

    return Listener()


def _ping(breakers: Breakers, dependency: str, ping: Callable[[], None]) -> None:
    """A health check: the dependency asked directly, unless its circuit is open."""
    if breakers.is_open(dependency):
        raise breakers.open_error(dependency)
    ping()


class GuardedStorage:
    """Object storage (S3) behind the ``storage`` breaker. Signing a URL is local and
    goes straight through; reading the chunks of an object already opened is bounded by
    the adapter's read timeout."""

    def __init__(self, inner: ObjectStorage, breakers: Breakers) -> None:
        self._inner = inner
        self._breakers = breakers

    @property
    def inner(self) -> ObjectStorage:
        """The storage behind the breaker."""
        return self._inner

    def put(self, key: str, stream: ReadableStream) -> ObjectInfo:
        return self._breakers.call("storage", self._inner.put, key, stream)

    def get(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        return self._breakers.call("storage", self._inner.get, key, byte_range)

    def stat(self, key: str) -> ObjectInfo:
        return self._breakers.call("storage", self._inner.stat, key)

    def exists(self, key: str) -> bool:
        if self._breakers.is_open("storage"):
            raise self._breakers.open_error("storage")
        return self._inner.exists(key)  # readiness asks it: what the service says

    def download_url(
        self, key: str, *, expires_seconds: int, content_type: str, content_disposition: str
    ) -> str | None:
        return self._inner.download_url(
            key,
            expires_seconds=expires_seconds,
            content_type=content_type,
            content_disposition=content_disposition,
        )

    def open_file(self, key: str) -> BinaryIO | None:
        return self._breakers.call("storage", self._inner.open_file, key)

    def delete(self, key: str) -> None:
        self._breakers.call("storage", self._inner.delete, key)

    def delete_prefix(self, prefix: str) -> int:
        return self._breakers.call("storage", self._inner.delete_prefix, prefix)

    def sweep_partial(self, started_before: datetime) -> int:
        return self._breakers.call("storage", self._inner.sweep_partial, started_before)


def _publish(breakers: Breakers, publish: Callable[[Job], None], job: Job) -> None:
    """``publish(job)`` through the ``queue`` breaker; an open circuit is a
    ``PublishFailed``, as the port says (the job stays in the outbox)."""
    try:
        breakers.call("queue", publish, job)
    except Unavailable as error:
        raise PublishFailed(f"job {job.id} not published: {error}") from None


class GuardedJobQueue:
    """The job queue's publishing client (RabbitMQ) behind the ``queue`` breaker.
    Consuming is not guarded: a consumer waits for the broker and reconnects itself."""

    def __init__(self, inner: JobQueue, breakers: Breakers) -> None:
        self._inner = inner
        self._breakers = breakers

    @property
    def inner(self) -> JobQueue:
        """The queue behind the breaker."""
        return self._inner

    def publish(self, job: Job) -> None:
        _publish(self._breakers, self._inner.publish, job)

    def receive(self, timeout: float) -> Delivery | None:
        return self._inner.receive(timeout)

    def ack(self, delivery: Delivery) -> None:
        self._inner.ack(delivery)

    def nack(self, delivery: Delivery, *, requeue: bool, charge: bool = True) -> None:
        self._inner.nack(delivery, requeue=requeue, charge=charge)

    def dead_letters(self) -> list[Job]:
        return self._inner.dead_letters()

    def close(self) -> None:
        self._inner.close()

    def depth(self) -> QueueDepth:
        return self._breakers.call("queue", self._inner.depth)

    def ping(self) -> None:
        _ping(self._breakers, "queue", self._inner.ping)


class GuardedEventChannel:
    """The event channel's publishing (RabbitMQ) behind the ``queue`` breaker."""

    def __init__(self, inner: EventChannel, breakers: Breakers) -> None:
        self._inner = inner
        self._breakers = breakers

    def publish(self, job: Job) -> None:
        _publish(self._breakers, self._inner.publish, job)

    def subscribe(self, subscription: EventSubscription) -> JobQueue:
        return self._inner.subscribe(subscription)


class SendingFeed(VideoFeed, Protocol):
    """A feed that can say when an update did not go out."""

    def send(self, update: ProcessingProgress) -> None:
        """Publish ``update``; raise ``Unavailable`` when the feed does not take it."""
        ...


class GuardedFeed:
    """The video feed (Redis) behind the ``feed`` breaker; it degrades rather than
    fails: an update that cannot be published is dropped (followers still read the
    video's state), and while the circuit is open a new follower gets a subscription
    that delivers nothing (it polls instead)."""

    def __init__(self, inner: SendingFeed, breakers: Breakers) -> None:
        self._inner = inner
        self._breakers = breakers

    @property
    def inner(self) -> SendingFeed:
        """The feed behind the breaker."""
        return self._inner

    def publish(self, update: ProcessingProgress) -> None:
        try:
            self._breakers.call("feed", self._inner.send, update)
        except Unavailable as error:
            log.warning("feed_publish_dropped", video_id=update.video_id, reason=error.detail)

    def subscribe(self, video_id: VideoId) -> Subscription:
        if self._breakers.is_open("feed"):
            return NoFeed().subscribe(video_id)
        return self._inner.subscribe(video_id)

    def ping(self) -> None:
        _ping(self._breakers, "feed", self._inner.ping)


class GuardedMailer:
    """The mailer (SMTP) behind the ``mail`` breaker: mail goes out from a durable
    handler, which tries an ``Unavailable`` message again later."""

    def __init__(self, inner: Mailer, breakers: Breakers) -> None:
        self._inner = inner
        self._breakers = breakers

    def send(self, message: MailMessage) -> None:
        self._breakers.call("mail", self._inner.send, message)

    def ping(self) -> None:
        _ping(self._breakers, "mail", self._inner.ping)
