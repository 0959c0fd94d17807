"""The service gate in tests/conftest.py: skip locally, fail when services are required."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.conftest import (
    REQUIRE_SERVICES_ENV,
    RequireService,
    ServiceEndpoint,
    ensure_service,
    probe_tcp,
    service_unavailable,
    services_required,
)


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections.

    The socket stays bound (so no other process can take the port) but never
    listens, so a connection attempt is refused.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_unavailable_service_skips_when_not_required() -> None:
    with pytest.raises(pytest.skip.Exception) as excinfo:
        service_unavailable("Redis", "127.0.0.1", 6379, "connection refused", require=False)

    assert str(excinfo.value) == "Redis not reachable at 127.0.0.1:6379: connection refused"


def test_unavailable_service_fails_when_required() -> None:
    with pytest.raises(pytest.fail.Exception) as excinfo:
        service_unavailable("Redis", "127.0.0.1", 6379, "connection refused", require=True)

    assert str(excinfo.value) == (
        "Redis at 127.0.0.1:6379 is required (VIDEOPLATFORM_REQUIRE_SERVICES=1) "
        "but unreachable: connection refused"
    )


def test_failure_is_not_a_skip() -> None:
    # A required service must never be reported as merely skipped.
    assert not issubclass(pytest.fail.Exception, pytest.skip.Exception)
    assert not issubclass(pytest.skip.Exception, pytest.fail.Exception)


@pytest.mark.parametrize(
    ("value", "required"),
    [("1", True), ("0", False), ("", False), ("true", False), (None, False)],
)
def test_services_are_required_only_when_env_is_exactly_1(
    monkeypatch: pytest.MonkeyPatch, value: str | None, required: bool
) -> None:
    if value is None:
        monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_SERVICES_ENV, value)

    assert services_required() is required


def test_probe_succeeds_on_a_listening_port(listening_port: int) -> None:
    assert probe_tcp("127.0.0.1", listening_port) is None


def test_probe_reports_the_error_on_a_closed_port(closed_port: int) -> None:
    err = probe_tcp("127.0.0.1", closed_port)

    assert isinstance(err, ConnectionRefusedError)


def test_reachable_service_returns_its_endpoint(
    monkeypatch: pytest.MonkeyPatch, listening_port: int
) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")

    endpoint = ensure_service("PostgreSQL", "127.0.0.1", listening_port)

    assert endpoint == ServiceEndpoint("PostgreSQL", "127.0.0.1", listening_port)


def test_unreachable_service_is_skipped_by_default(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)

    with pytest.raises(pytest.skip.Exception, match=r"RabbitMQ not reachable at 127\.0\.0\.1:"):
        ensure_service("RabbitMQ", "127.0.0.1", closed_port)


def test_unreachable_service_fails_when_required(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")

    with pytest.raises(pytest.fail.Exception, match=rf":{closed_port} is required"):
        ensure_service("RabbitMQ", "127.0.0.1", closed_port)


def test_require_service_fixture_gates_on_the_real_check(
    require_service: RequireService, listening_port: int
) -> None:
    endpoint = require_service("Redis", "127.0.0.1", listening_port)

    assert endpoint == ServiceEndpoint("Redis", "127.0.0.1", listening_port)
