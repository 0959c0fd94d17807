"""``serve`` on the production profile (PostgreSQL, RabbitMQ, Redis for the feed), each
service reached through a TCP proxy that a test cuts (connections refused) or silences
(connections held open, never answered) while the shared servers keep running.

``/health/detailed`` answers within a few seconds whatever the outage, with the
component that is down and the right overall status: a required dependency (database,
broker) makes it a 503 down, an optional one (the feed) a 200 degraded; once the service
is back, the report is ok again without a restart. ``/health/startup`` fails on a
database it cannot ask."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ServiceEndpoint
from tests.integration.served import Served
from tests.integration.tcp_proxy import TcpProxy

TOKEN = secrets.token_urlsafe(24)
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
TIMEOUT_S = 3  # VIDEOPLATFORM_HEALTH_TIMEOUT_SECONDS: the longest a check waits
ANSWERED_WITHIN = TIMEOUT_S + 2.0


class Proxies:
    def __init__(self, postgres: TcpProxy, rabbitmq: TcpProxy, redis: TcpProxy) -> None:
        self.postgres, self.rabbitmq, self.redis = postgres, rabbitmq, redis

    def all(self) -> tuple[TcpProxy, ...]:
        return (self.postgres, self.rabbitmq, self.redis)


@pytest.fixture
def proxies(
    postgres_service: ServiceEndpoint,
    rabbitmq_service: ServiceEndpoint,
    redis_service: ServiceEndpoint,
) -> Iterator[Proxies]:
    made = Proxies(
        TcpProxy((postgres_service.host, postgres_service.port)),
        TcpProxy((rabbitmq_service.host, rabbitmq_service.port)),
        TcpProxy((redis_service.host, redis_service.port)),
    )
    yield made
    for proxy in made.all():
        proxy.close()


@pytest.fixture
def production_env(
    production_env: dict[str, str], proxies: Proxies, redis_service: ServiceEndpoint
) -> dict[str, str]:
    """The production profile, migrated directly, then pointed at the proxies."""
    database = urlsplit(production_env["VIDEOPLATFORM_DATABASE_URL"])
    return {
        **production_env,
        "VIDEOPLATFORM_DATABASE_URL": database._replace(
            netloc=f"postgres@127.0.0.1:{proxies.postgres.port}"
        ).geturl(),
        "VIDEOPLATFORM_QUEUE_URL": f"amqp://guest:guest@127.0.0.1:{proxies.rabbitmq.port}/%2F",
        "VIDEOPLATFORM_FEED_URL": f"redis://127.0.0.1:{proxies.redis.port}/0",
        "VIDEOPLATFORM_METRICS_TOKEN": TOKEN,
        "VIDEOPLATFORM_HEALTH_TIMEOUT_SECONDS": str(TIMEOUT_S),
        "VIDEOPLATFORM_HEALTH_MIN_FREE_MIB": "1",  # whatever the test machine has left
        "VIDEOPLATFORM_READ_CACHE_SECONDS": "0",
    }


@pytest.fixture
def served(tmp_path: Path, production_env: dict[str, str]) -> Iterator[Served]:
    running = Served(tmp_path, env=production_env)
    yield running
    running.stop()


def detailed(http: httpx.Client) -> tuple[int, dict[str, Any]]:
    """The detailed report's status code and body, asserting it came within the limit."""
    started = time.monotonic()
    answer = http.get("/health/detailed", headers=OPERATOR)
    took = time.monotonic() - started
    assert took < ANSWERED_WITHIN, f"/health/detailed took {took:.1f} s"
    body: dict[str, Any] = answer.json()
    return answer.status_code, body


def states(body: dict[str, Any]) -> dict[str, str]:
    return {name: component["status"] for name, component in body["components"].items()}


def recovered(http: httpx.Client, seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        status, body = detailed(http)
        if status == 200 and body["status"] == "ok":
            return body
        assert time.monotonic() < deadline, f"the platform did not recover: {body}"
        time.sleep(0.2)


def test_the_report_follows_each_outage_and_the_recovery(served: Served, proxies: Proxies) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        status, body = detailed(http)
        assert (status, body["status"]) == (200, "ok"), body
        assert set(states(body).values()) == {"ok"}
        required = {name for name, c in body["components"].items() if c["required"]}
        assert required == {"database", "storage", "queue"}  # an API node: ffmpeg optional
        startup = http.get("/health/startup")
        assert startup.status_code == 200
        assert startup.json()["checks"] == {"migrations": "ok", "storage": "ok"}
        assert http.get("/health/detailed").status_code == 404  # no token: nothing here

        # Redis stops answering: the feed is optional, the platform serves on, degraded.
        proxies.redis.silence()
        status, body = detailed(http)
        assert (status, body["status"]) == (200, "degraded"), body
        assert states(body)["feed"] == "down"
        assert {s for name, s in states(body).items() if name != "feed"} == {"ok"}
        proxies.redis.restore()
        recovered(http)

        # The broker refuses connections: the queue is required, the report is down.
        proxies.rabbitmq.cut()
        status, body = detailed(http)
        assert status == 503, body
        assert body["code"] == "unhealthy"
        assert body["detail"] == "down: queue"
        assert body["components"]["queue"]["message"].startswith("RabbitMQ did not answer")
        proxies.rabbitmq.restore()
        recovered(http)

        # The broker accepts connections and never answers: down too, as fast.
        proxies.rabbitmq.silence()
        status, body = detailed(http)
        assert (status, body["detail"]) == (503, "down: queue"), body
        proxies.rabbitmq.restore()
        recovered(http)

        # The database refuses connections: down, and the startup check fails on it.
        proxies.postgres.cut()
        status, body = detailed(http)
        assert (status, body["detail"]) == (503, "down: database"), body
        assert states(body)["storage"] == "ok"
        startup = http.get("/health/startup")
        assert startup.status_code == 503
        assert startup.json()["checks"] == {"migrations": "failed", "storage": "ok"}
        proxies.postgres.restore()
        recovered(http)

        # The database stops answering: the check gives up on it at its timeout.
        proxies.postgres.silence()
        status, body = detailed(http)
        assert (status, body["detail"]) == (503, "down: database"), body
        assert body["components"]["database"]["message"] == f"no answer within {TIMEOUT_S} s"
        assert body["duration_ms"] < ANSWERED_WITHIN * 1000
        # Asked again meanwhile: the probe still running is not started a second time.
        status, body = detailed(http)
        assert status == 503
        assert "still checking" in body["components"]["database"]["message"]
