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

The marker routes the new cases: ``nox -s unit`` runs ``-m "not integration"`` (adapters
that need no service: memory, SQLite on a file, local disk) and ``nox -s integration``
runs ``-m integration`` (PostgreSQL, ...).

Databases: ``sqlite`` copies one template file, migrated once per session, for each
test; ``postgres`` migrates one fresh database ``vp_test_<hex>`` per session (with a
linguistic default collation where the server has ICU), empties it before each test and
drops it at the end. Their statements time out after ``SQL_STATEMENT_TIMEOUT_MS``, so a
test that waits on a lock its own thread holds fails instead of hanging.

Argon2 runs with a cheap configuration (t=1, 1 MiB, p=1): still argon2id, but fast.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol

import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from tests.conftest import RequireService, ServiceEndpoint
from videoplatform.adapters.memory.cache import MemoryCache
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.adapters.memory.queue import MemoryEventBus, MemoryJobQueue
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock, SequentialIds
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.adapters.security.passwords import Argon2PasswordHasher
from videoplatform.adapters.security.tokens import SecretsTokenGenerator
from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.audit_chain import GENESIS
from videoplatform.adapters.sql.engine import create_database_engine, normalize_url
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.adapters.storage.local import LocalObjectStorage
from videoplatform.adapters.storage.s3 import S3ObjectStorage, s3_client
from videoplatform.adapters.system import SystemClock, UlidGenerator
from videoplatform.application.ports.cache import Cache
from videoplatform.application.ports.mail import Mailer, MailMessage
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import EventBus, JobQueue
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import (
    Clock,
    IdGenerator,
    PasswordHasher,
    TokenGenerator,
)

CHEAP_TIME_COST = 1
CHEAP_MEMORY_KIB = 1024
CHEAP_PARALLELISM = 1


def _unknown(request: pytest.FixtureRequest) -> NoReturn:
    pytest.fail(f"no adapter named {request.param!r} in {request.fixturename}")


# -- persistence -----------------------------------------------------------------------


# Test databases fail a statement that waits this long (a lock nobody will release)
# instead of hanging the run.
SQL_STATEMENT_TIMEOUT_MS = 10_000

# The default collation of the PostgreSQL test database, where the server offers ICU.
LINGUISTIC_ICU_LOCALE = "en-US"

# Every table with rows that a test may write; audit_head keeps its one row (reset).
POSTGRES_DATA_TABLES = (
    "event_receipts",
    "resumable_uploads",
    "users",
    "api_tokens",
    "categories",
    "videos",
    "video_tags",
    "video_documents",
    "caption_tracks",
    "files",
    "shares",
    "audit_events",
    "outbox",
    "search_documents",
    "search_text",
    "search_words",
    "search_tags",
    "search_title_leaders",
    "search_queries",
    "search_popular",
    "search_clicks",
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test works on its own copy.

    The template's engine is disposed before the file is used: closing the last
    connection checkpoints the write-ahead log into the file and removes its -wal and
    -shm sidecars, so the .db file alone is the whole database.
    """
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_database_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    sidecars = [p.name for p in path.parent.iterdir() if p != path]
    assert sidecars == [], f"the SQLite template is not self-contained: {sidecars}"
    return path


def _postgres_address() -> tuple[str, int]:
    """Same defaults and overrides as tests/integration/conftest.py."""
    host = os.environ.get("VIDEOPLATFORM_TEST_POSTGRES_HOST", "127.0.0.1")
    port = int(os.environ.get("VIDEOPLATFORM_TEST_POSTGRES_PORT", "5432"))
    return host, port


def _postgres_url(endpoint: ServiceEndpoint, database: str) -> str:
    return f"postgresql://postgres@{endpoint.host}:{endpoint.port}/{database}"


@pytest.fixture(scope="session")
def postgres_database(require_service: RequireService) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, migrated once, dropped at session end.

    Gated on the server through ``require_service`` (skip, or fail under
    ``VIDEOPLATFORM_REQUIRE_SERVICES=1``). The database is created and dropped from an
    AUTOCOMMIT connection to the ``postgres`` maintenance database.
    """
    endpoint = require_service("PostgreSQL", *_postgres_address())
    name = f"vp_test_{secrets.token_hex(6)}"
    admin = create_engine(
        normalize_url(_postgres_url(endpoint, "postgres")),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    try:
        with admin.connect() as connection:
            _create_database(connection, name)
        url = _postgres_url(endpoint, name)
        engine = create_database_engine(url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()


def _create_database(connection: Connection, name: str) -> None:
    """Create ``name`` with a linguistic default collation where the server has one.

    Many servers default to en_US (or ICU) collations, which order "B" after "a" and weigh
    punctuation differently; the adapter must order lists by code point all the same, so
    the suite runs on such a database. Servers without ICU (PostgreSQL < 15, or built
    without it) get the server's default.
    """
    icu = connection.execute(
        text(
            "SELECT current_setting('server_version_num')::int >= 150000"
            " AND EXISTS (SELECT 1 FROM pg_collation WHERE collprovider = 'i')"
        )
    ).scalar_one()
    if icu:
        try:
            connection.exec_driver_sql(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"
                f" LOCALE_PROVIDER icu ICU_LOCALE '{LINGUISTIC_ICU_LOCALE}'"
            )
        except DBAPIError:  # e.g. a server locale that UTF8 cannot go with
            pass
        else:
            return
    connection.exec_driver_sql(f'CREATE DATABASE "{name}"')


def _empty_postgres(engine: Engine) -> None:
    """Remove every row the last test wrote and reset the audit chain's head."""
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
        connection.exec_driver_sql(
            f"TRUNCATE {', '.join(POSTGRES_DATA_TABLES)} RESTART IDENTITY CASCADE"
        )
        connection.execute(
            text("UPDATE audit_head SET last_hash = :genesis WHERE singleton = 1"),
            {"genesis": GENESIS},
        )


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", marks=pytest.mark.integration, id="postgres"),
    ]
)
def uow_factory(request: pytest.FixtureRequest) -> Iterator[UnitOfWorkFactory]:
    """A factory of units of work over a fresh, empty database."""
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        tmp_path: Path = request.getfixturevalue("tmp_path")
        path = tmp_path / "videoplatform.db"
        shutil.copy(template, path)
        engine = create_database_engine(f"sqlite:///{path}")
        try:
            yield SqlUnitOfWorkFactory(engine)
        finally:
            engine.dispose()
        return
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_database")
        engine = create_database_engine(url, statement_timeout_ms=SQL_STATEMENT_TIMEOUT_MS)
        try:
            _empty_postgres(engine)
            yield SqlUnitOfWorkFactory(engine)
        finally:
            engine.dispose()
        return
    _unknown(request)


# -- object storage --------------------------------------------------------------------


# S3 is moto's server mode: real HTTP on loopback, in a thread of the test process, so
# it needs no outside service and is no ``integration`` case. One server per session;
# every test gets a bucket of its own, emptied and removed afterwards.

S3_TEST_REGION = "us-east-1"
S3_TEST_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """A moto server on a free loopback port, for the ``with`` block; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def make_s3_client(endpoint: str) -> Any:
    """A client configured as the platform configures one, with throwaway credentials."""
    return s3_client(
        endpoint_url=endpoint,
        region=S3_TEST_REGION,
        aws_access_key_id=S3_TEST_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=S3_TEST_CREDENTIALS["aws_secret_access_key"],
    )


@contextlib.contextmanager
def fresh_bucket(client: Any) -> Iterator[str]:
    """A new, empty bucket for the ``with`` block; removed with everything in it after."""
    bucket = f"vp-test-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=bucket)
    try:
        yield bucket
    finally:
        empty_bucket(client, bucket)
        client.delete_bucket(Bucket=bucket)


def empty_bucket(client: Any, bucket: str) -> None:
    """Delete every object and abort every pending multipart upload in ``bucket``."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    for upload in uploads:
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of this session's moto S3 server."""
    with moto_s3_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_session_client(s3_endpoint: str) -> Iterator[Any]:
    """One client for the session (boto3 clients are thread-safe; building one costs
    more than a whole test)."""
    client = make_s3_client(s3_endpoint)
    try:
        yield client
    finally:
        client.close()


@dataclass(frozen=True)
class S3Harness:
    """An S3 adapter over a fresh bucket, with the raw client to look behind it."""

    storage: S3ObjectStorage
    client: Any
    bucket: str
    endpoint: str


@pytest.fixture
def s3_harness(s3_endpoint: str, s3_session_client: Any) -> Iterator[S3Harness]:
    with fresh_bucket(s3_session_client) as bucket:
        storage = S3ObjectStorage(bucket, s3_session_client)
        yield S3Harness(storage, s3_session_client, bucket, s3_endpoint)


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("local", id="local"),
        pytest.param("s3", id="s3"),
    ]
)
def object_storage(request: pytest.FixtureRequest) -> Iterator[ObjectStorage]:
    """An empty object store."""
    if request.param == "memory":
        yield MemoryObjectStorage()
        return
    if request.param == "local":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        yield LocalObjectStorage(tmp_path / "objects")
        return
    if request.param == "s3":
        harness: S3Harness = request.getfixturevalue("s3_harness")
        yield harness.storage
        return
    _unknown(request)


# -- queue and bus ---------------------------------------------------------------------


QueueClients = Callable[[], JobQueue]
"""``queue_clients()`` returns a new client of one shared, initially empty queue: its own
connection and its own deliveries, so threads and "another consumer" each take their
own. Every client it made is closed after the test."""

# The queue under test retries after RETRY_BASE_S seconds, then twice that..., and
# delivers a job at most MAX_DELIVERIES times.
RETRY_BASE_S = 0.2
MAX_DELIVERIES = 3


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("rabbitmq", marks=pytest.mark.integration, id="rabbitmq"),
    ]
)
def queue_clients(request: pytest.FixtureRequest) -> Iterator[QueueClients]:
    made: list[JobQueue] = []
    if request.param == "memory":
        first = MemoryJobQueue(retry_base=RETRY_BASE_S, max_deliveries=MAX_DELIVERIES)

        def memory_client() -> JobQueue:
            made.append(first.client())
            return made[-1]

        yield memory_client
        for client in made:
            client.close()
        return
    if request.param == "rabbitmq":
        require = request.getfixturevalue("require_service")
        endpoint = require("RabbitMQ", "127.0.0.1", 5672)
        topology = Topology(
            url=f"amqp://guest:guest@{endpoint.host}:{endpoint.port}/%2F",
            prefix=f"vp-test-{secrets.token_hex(4)}.",
            max_deliveries=MAX_DELIVERIES,
            retry_base_seconds=RETRY_BASE_S,
            reconnect_base_seconds=0.05,
        )

        def rabbit_client() -> JobQueue:
            made.append(RabbitJobQueue(topology, role="test"))
            return made[-1]

        yield rabbit_client
        for client in made:
            client.close()
        admin = RabbitJobQueue(topology, role="test-teardown")
        admin.delete_queues()
        admin.close()
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
