"""Contract-test fixtures: one fixture per port, parametrized over that port's adapters.

Every test in tests/contracts/ asks for a port through one of the fixtures below and so
runs once per adapter of that port: the memory adapters must keep exactly the promises
of the real ones (ARCHITECTURE.md §4), and the suite is what proves it. A test id names
the adapter, e.g. ``test_fifo[memory]``.

Adding an adapter
-----------------
Each fixture lists its adapters in ``params`` and builds the one asked for in an
``if request.param == "<name>":`` branch. To run a port's whole suite against a new
adapter, change exactly two things here, in that port's fixture:

1. add a parameter, marked ``integration`` when it needs a real service::

       pytest.param("postgres", marks=pytest.mark.integration, id="postgres"),

2. add the branch that builds it (yield it, then clean up). Gate it on its service
   through ``require_service`` (tests/conftest.py), so that an unreachable service skips
   the test, or fails it under ``VIDEOPLATFORM_REQUIRE_SERVICES=1``::

       if request.param == "postgres":
           require = request.getfixturevalue("require_service")
           endpoint = require("PostgreSQL", "127.0.0.1", 5432)
           factory = ...  # e.g. a fresh schema on endpoint.host:endpoint.port
           yield factory
           ...  # drop the schema
           return

The marker routes the new cases: ``nox -s unit`` runs ``-m "not integration"`` (memory
adapters, no services) and ``nox -s integration`` runs ``-m integration``.

Argon2 runs with a cheap configuration (t=1, 1 MiB, p=1): still argon2id, but fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn, Protocol

import pytest

from adapters.memory.cache import MemoryCache
from adapters.memory.mail import MemoryMailer
from adapters.memory.queue import MemoryEventBus, MemoryJobQueue
from adapters.memory.storage import MemoryObjectStorage
from adapters.memory.system import ManualClock, SequentialIds
from adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from adapters.security.passwords import Argon2PasswordHasher
from adapters.security.tokens import SecretsTokenGenerator
from adapters.system import SystemClock, UlidGenerator
from application.ports.cache import Cache
from application.ports.mail import Mailer, MailMessage
from application.ports.persistence import UnitOfWorkFactory
from application.ports.queue import EventBus, JobQueue
from application.ports.storage import ObjectStorage
from application.ports.system import Clock, IdGenerator, PasswordHasher, TokenGenerator

CHEAP_TIME_COST = 1
CHEAP_MEMORY_KIB = 1024
CHEAP_PARALLELISM = 1


def _unknown(request: pytest.FixtureRequest) -> NoReturn:
    pytest.fail(f"no adapter named {request.param!r} in {request.fixturename}")


# -- persistence -----------------------------------------------------------------------


@pytest.fixture(params=[pytest.param("memory", id="memory")])
def uow_factory(request: pytest.FixtureRequest) -> Iterator[UnitOfWorkFactory]:
    """A factory of units of work over a fresh, empty database."""
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    _unknown(request)


# -- object storage --------------------------------------------------------------------


@pytest.fixture(params=[pytest.param("memory", id="memory")])
def object_storage(request: pytest.FixtureRequest) -> Iterator[ObjectStorage]:
    """An empty object store."""
    if request.param == "memory":
        yield MemoryObjectStorage()
        return
    _unknown(request)


# -- queue and bus ---------------------------------------------------------------------


QueueClients = Callable[[], JobQueue]
"""``connect()`` returns a client of one shared, initially empty queue. Each call may be
a new connection (so threads and "another consumer" each take their own); the memory
adapter, being in-process, hands out the same instance."""


@pytest.fixture(params=[pytest.param("memory", id="memory")])
def queue_clients(request: pytest.FixtureRequest) -> Iterator[QueueClients]:
    if request.param == "memory":
        queue = MemoryJobQueue()
        yield lambda: queue
        return
    _unknown(request)


@pytest.fixture(params=[pytest.param("memory", id="memory")])
def event_bus(request: pytest.FixtureRequest) -> Iterator[EventBus]:
    """An event bus without subscribers."""
    if request.param == "memory":
        yield MemoryEventBus()
        return
    _unknown(request)


# -- cache -----------------------------------------------------------------------------


class CacheHarness(Protocol):
    """Builds caches and moves their time forward.

    Adapters that cannot take an injected clock (a Redis server) implement ``advance``
    by sleeping, which is why the tests use TTLs of a fraction of a second.
    """

    def new(self, max_entries: int = 10_000) -> Cache: ...

    def advance(self, seconds: float) -> None: ...


class FakeMonotonic:
    """A monotonic clock (seconds as float) that moves only when told to."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class MemoryCacheHarness:
    def __init__(self) -> None:
        self.clock = FakeMonotonic()

    def new(self, max_entries: int = 10_000) -> Cache:
        return MemoryCache(max_entries=max_entries, clock=self.clock)

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds


@pytest.fixture(params=[pytest.param("memory", id="memory")])
def cache_harness(request: pytest.FixtureRequest) -> Iterator[CacheHarness]:
    if request.param == "memory":
        yield MemoryCacheHarness()
        return
    _unknown(request)


# -- mail ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailerHarness:
    """A mailer and a view of what reached the other side (for SMTP: a test server)."""

    mailer: Mailer
    delivered: Callable[[], list[MailMessage]]


@pytest.fixture(params=[pytest.param("memory", id="memory")])
def mailer_harness(request: pytest.FixtureRequest) -> Iterator[MailerHarness]:
    if request.param == "memory":
        mailer = MemoryMailer()
        yield MailerHarness(mailer=mailer, delivered=lambda: mailer.sent)
        return
    _unknown(request)


# -- security --------------------------------------------------------------------------


class HasherFactory(Protocol):
    def __call__(
        self,
        *,
        time_cost: int = CHEAP_TIME_COST,
        memory_cost_kib: int = CHEAP_MEMORY_KIB,
        parallelism: int = CHEAP_PARALLELISM,
    ) -> PasswordHasher: ...


@pytest.fixture(params=[pytest.param("argon2", id="argon2")])
def make_password_hasher(request: pytest.FixtureRequest) -> Iterator[HasherFactory]:
    """Builds hashers with the given cost parameters (cheap by default)."""
    if request.param == "argon2":

        def make(
            *,
            time_cost: int = CHEAP_TIME_COST,
            memory_cost_kib: int = CHEAP_MEMORY_KIB,
            parallelism: int = CHEAP_PARALLELISM,
        ) -> PasswordHasher:
            return Argon2PasswordHasher(
                time_cost=time_cost, memory_cost_kib=memory_cost_kib, parallelism=parallelism
            )

        yield make
        return
    _unknown(request)


@pytest.fixture
def password_hasher(make_password_hasher: HasherFactory) -> PasswordHasher:
    return make_password_hasher()


class TokenGeneratorFactory(Protocol):
    """``make(nbytes)``: a generator of secrets with ``nbytes`` bytes of entropy;
    ``make()`` uses the adapter's default strength."""

    def __call__(self, nbytes: int = ...) -> TokenGenerator: ...


@pytest.fixture(params=[pytest.param("secrets", id="secrets")])
def make_token_generator(request: pytest.FixtureRequest) -> Iterator[TokenGeneratorFactory]:
    if request.param == "secrets":
        yield SecretsTokenGenerator
        return
    _unknown(request)


@pytest.fixture
def token_generator(make_token_generator: TokenGeneratorFactory) -> TokenGenerator:
    """A generator at the adapter's default strength."""
    return make_token_generator()


# -- system ----------------------------------------------------------------------------


IdGeneratorFactory = Callable[[], IdGenerator]
"""Each call is an independent generator, as in another process."""


@pytest.fixture(
    params=[pytest.param("ulid", id="ulid"), pytest.param("sequential", id="sequential")]
)
def make_id_generator(request: pytest.FixtureRequest) -> Iterator[IdGeneratorFactory]:
    if request.param == "ulid":
        yield UlidGenerator
        return
    if request.param == "sequential":
        yield SequentialIds
        return
    _unknown(request)


@pytest.fixture(params=[pytest.param("system", id="system"), pytest.param("manual", id="manual")])
def clock(request: pytest.FixtureRequest) -> Iterator[Clock]:
    if request.param == "system":
        yield SystemClock()
        return
    if request.param == "manual":
        yield ManualClock()
        return
    _unknown(request)
