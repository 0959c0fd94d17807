"""A database that cannot be reached answers a fast 503 ``database_unavailable`` with
Retry-After, never a 500, and the platform recovers by itself once it is back.

``serve`` runs on PostgreSQL through a TCP proxy that the test cuts (every connection
dropped, new ones refused) and restores; the shared server keeps running throughout.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ServiceEndpoint
from tests.integration.served import Served, migrate, sign_up
from tests.integration.tcp_proxy import TcpProxy

API = "/api/v1"


@pytest.fixture
def proxy(postgres_service: ServiceEndpoint) -> Iterator[TcpProxy]:
    relay = TcpProxy((postgres_service.host, postgres_service.port))
    yield relay
    relay.cut()


@pytest.fixture
def served(tmp_path: Path, database_url: str, proxy: TcpProxy) -> Iterator[Served]:
    through_proxy = urlsplit(database_url)._replace(netloc=f"postgres@127.0.0.1:{proxy.port}")
    env = {
        "VIDEOPLATFORM_DATABASE_URL": through_proxy.geturl(),
        "VIDEOPLATFORM_PLAYBACK_SECRET": secrets.token_urlsafe(48),
        "VIDEOPLATFORM_PROCESSING_THREADS": "0",
        "VIDEOPLATFORM_READ_CACHE_SECONDS": "0",
        "VIDEOPLATFORM_DATA_DIR": str(tmp_path / "var"),
    }
    migrate(env, tmp_path)
    running = Served(tmp_path, env=env)
    yield running
    running.stop()


def test_a_database_outage_is_a_fast_503_and_the_platform_recovers(
    served: Served, proxy: TcpProxy
) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        me = sign_up(http)
        assert http.get(f"{API}/videos", headers=me).status_code == 200

        proxy.cut()
        for path, headers in ((f"{API}/videos", me), (f"{API}/videos", {})):
            started = time.monotonic()
            refused = http.get(path, headers=headers)
            took = time.monotonic() - started
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "database_unavailable"
            assert refused.headers["retry-after"] == "5"
            assert "postgres" not in refused.text.lower()  # internals stay in the log
            assert took < 5, f"the refusal took {took:.1f} s"
        ready = http.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unavailable")
        assert ready.json()["checks"]["storage"] == "ok"

        proxy.up = True
        deadline = time.monotonic() + 20
        while http.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the platform did not recover"
            time.sleep(0.2)
        assert http.get(f"{API}/videos", headers=me).status_code == 200

    errors = [line for line in served.log_lines() if line.get("event") == "unhandled_error"]
    assert errors == []
    unavailable = [
        line for line in served.log_lines() if line.get("event") == "dependency_unavailable"
    ]
    assert unavailable
    assert unavailable[0]["dependency"] == "database"
