"""Shared test configuration.

Layout: tests/, tests/unit/ and tests/integration/ are regular packages (each
has an ``__init__.py``), so every test module has a unique dotted name
(``tests.unit.test_x``) for both pytest and mypy, and helpers defined here can
be imported as ``from tests.conftest import ...``. Any new test directory needs
an ``__init__.py`` too.

Service gate: integration tests that need a real service (PostgreSQL, Redis,
RabbitMQ, ...) ask for it through a fixture built on ``require_service``. An
unreachable service skips the test, unless the environment variable
``VIDEOPLATFORM_REQUIRE_SERVICES=1`` is set (CI sets it), in which case the
test fails: in CI a missing service must never turn into a quietly green run.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import pytest

REQUIRE_SERVICES_ENV = "VIDEOPLATFORM_REQUIRE_SERVICES"
CONNECT_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class ServiceEndpoint:
    """Where a service that a test needs is listening."""

    name: str
    host: str
    port: int


def services_required() -> bool:
    """Whether unreachable services fail tests instead of skipping them."""
    return os.environ.get(REQUIRE_SERVICES_ENV) == "1"


def probe_tcp(host: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> OSError | None:
    """Try a TCP connection; return None when it succeeds, else the error."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return err


def service_unavailable(
    name: str, host: str, port: int, err: BaseException | str, require: bool
) -> NoReturn:
    """End the current test because a service it needs is unreachable.

    Fails the test when services are required, skips it otherwise.
    """
    if require:
        pytest.fail(
            f"{name} at {host}:{port} is required ({REQUIRE_SERVICES_ENV}=1) but unreachable: {err}"
        )
    pytest.skip(f"{name} not reachable at {host}:{port}: {err}")


def ensure_service(name: str, host: str, port: int) -> ServiceEndpoint:
    """Return the service's endpoint if it accepts TCP connections, else skip or fail."""
    err = probe_tcp(host, port)
    if err is not None:
        service_unavailable(name, host, port, err, require=services_required())
    return ServiceEndpoint(name=name, host=host, port=port)


RequireService = Callable[[str, str, int], ServiceEndpoint]


@pytest.fixture(scope="session")
def require_service() -> RequireService:
    """Fixture factory: ``require_service(name, host, port)`` gates a test on a service."""
    return ensure_service
