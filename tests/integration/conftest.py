"""Fixtures gating integration tests on real services.

Each fixture checks (once per session) that its service accepts TCP
connections and returns its ``ServiceEndpoint``; an unreachable service skips
the test, or fails it when ``VIDEOPLATFORM_REQUIRE_SERVICES=1`` (see
tests/conftest.py). Host and port default to the local services and can be
overridden with ``VIDEOPLATFORM_TEST_<SERVICE>_HOST`` / ``..._PORT``, e.g.
``VIDEOPLATFORM_TEST_POSTGRES_PORT=5433``.

Every test collected under tests/integration/ gets the ``integration`` marker
(``pytest_collection_modifyitems`` below), so ``-m integration`` selects them
together with the contract suites' integration-marked adapters.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import RequireService, ServiceEndpoint
from tests.contracts.conftest import (
    S3_TEST_CREDENTIALS,
    fresh_bucket,
    make_s3_client,
    moto_s3_server,
)
from tests.integration.served import migrate, queue_topology
from videoplatform.adapters.rabbitmq.events import RabbitEventChannel
from videoplatform.adapters.rabbitmq.queue import RabbitJobQueue
from videoplatform.application.events.reactions import PLATFORM_SUBSCRIPTIONS
from videoplatform.entrypoints.settings import Settings

INTEGRATION_DIR = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration/ ``integration``.

    pytest hands this hook every collected item, not only this directory's, so the
    path decides.
    """
    for item in items:
        if item.path.resolve().is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


def _address(service: str, default_port: int) -> tuple[str, int]:
    prefix = f"VIDEOPLATFORM_TEST_{service}_"
    host = os.environ.get(prefix + "HOST", "127.0.0.1")
    port = int(os.environ.get(prefix + "PORT", str(default_port)))
    return host, port


@pytest.fixture(scope="session")
def postgres_service(require_service: RequireService) -> ServiceEndpoint:
    """A PostgreSQL server (default 127.0.0.1:5432)."""
    return require_service("PostgreSQL", *_address("POSTGRES", 5432))


@pytest.fixture(scope="session")
def redis_service(require_service: RequireService) -> ServiceEndpoint:
    """A Redis server (default 127.0.0.1:6379)."""
    return require_service("Redis", *_address("REDIS", 6379))


@pytest.fixture(scope="session")
def rabbitmq_service(require_service: RequireService) -> ServiceEndpoint:
    """A RabbitMQ broker (default 127.0.0.1:5672)."""
    return require_service("RabbitMQ", *_address("RABBITMQ", 5672))


@pytest.fixture
def database_url(postgres_service: ServiceEndpoint) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"vp_profile_{secrets.token_hex(6)}"
    admin = f"postgresql://postgres@{postgres_service.host}:{postgres_service.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{postgres_service.host}:{postgres_service.port}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def production_env(
    tmp_path: Path, database_url: str, rabbitmq_service: ServiceEndpoint
) -> Iterator[dict[str, str]]:
    """The production profile (PostgreSQL, RabbitMQ, local storage), migrated, on queues
    of this test's own prefix. A test (or a module's fixture of the same name) adds the
    settings it needs before starting processes; the queues are deleted afterwards, as
    the final settings declare them."""
    env = {
        "VIDEOPLATFORM_DATABASE_URL": database_url,
        "VIDEOPLATFORM_QUEUE_URL": (
            f"amqp://guest:guest@{rabbitmq_service.host}:{rabbitmq_service.port}/%2F"
        ),
        "VIDEOPLATFORM_QUEUE_PREFIX": f"vp-test-{secrets.token_hex(4)}.",
        "VIDEOPLATFORM_STORAGE_URL": (tmp_path / "objects").resolve().as_uri(),
        "VIDEOPLATFORM_PLAYBACK_SECRET": secrets.token_urlsafe(48),
        "VIDEOPLATFORM_DATA_DIR": str(tmp_path / "var"),
    }
    migrate(env, tmp_path)
    yield env
    topology = queue_topology(Settings.from_env(env))
    queue = RabbitJobQueue(topology, role="teardown")
    events = RabbitEventChannel(topology)
    with contextlib.suppress(Exception):  # the broker may be what a test broke
        queue.delete_queues()
        # The shared subscriptions' queues, declared by the relay, and the exchange.
        events.delete_queues(PLATFORM_SUBSCRIPTIONS)
    queue.close()
    events.close()


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials where boto3's default chain finds them, and nothing else it could
    read: no ~/.aws files, no instance metadata service."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_TEST_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_TEST_CREDENTIALS["aws_secret_access_key"])
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server for the module (real HTTP on loopback)."""
    with moto_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def raw_client(moto_endpoint: str) -> Iterator[Any]:
    client = make_s3_client(moto_endpoint)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def bucket(raw_client: Any) -> Iterator[str]:
    with fresh_bucket(raw_client) as name:
        yield name
