"""S3 that stops answering, through the HTTP API: each request that needs it is a 503
problem within the S3 timeouts, never a hang; after a few failures the circuit opens
and such requests fail at once, without asking S3; the metric says so; once S3 is back
a trial call closes the circuit. (The outage is a TCP proxy in front of moto's S3
server, cut or silenced, while the service itself runs on.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest

from tests.integration.tcp_proxy import TcpProxy
from tests.integration.test_s3_profile import CHEAP_ARGON2
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.http.app import create_app
from videoplatform.entrypoints.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("aws_environment")]

API = "/api/v1"
TOKEN = "metrics-token-for-the-outage-test"
READ_TIMEOUT = 1.0
RESET_SECONDS = 1.5


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[TcpProxy]:
    host, port = moto_endpoint.removeprefix("http://").split(":")
    relay = TcpProxy((host, int(port)))
    yield relay
    relay.close()


@pytest.fixture
def api(bucket: str, proxy: TcpProxy) -> Iterator[falcon.testing.TestClient]:
    settings = Settings.in_memory(
        storage_url=f"s3://{bucket}",
        s3_endpoint_url=f"http://127.0.0.1:{proxy.port}",
        s3_connect_timeout_seconds=READ_TIMEOUT,
        s3_read_timeout_seconds=READ_TIMEOUT,
        s3_attempts=1,
        breaker_failures=2,
        breaker_reset_seconds=RESET_SECONDS,
        metrics_token=TOKEN,
        **CHEAP_ARGON2,
    )
    platform = create_platform(settings)
    try:
        yield falcon.testing.TestClient(create_app(platform))
    finally:
        platform.close()


def sign_up(api: falcon.testing.TestClient) -> dict[str, str]:
    credentials = {"email": "ada@example.com", "password": "a long passphrase"}
    registered = api.simulate_post(
        f"{API}/auth/register", json={**credentials, "display_name": "Ada"}
    )
    assert registered.status_code == 202, registered.text
    login = api.simulate_post(f"{API}/auth/session", json=credentials)
    assert login.status_code == 201, login.text
    return {"Authorization": f"Bearer {login.json['token']}"}


def upload(api: falcon.testing.TestClient, me: dict[str, str], name: str) -> Any:
    started = time.monotonic()
    answer = api.simulate_post(
        f"{API}/files",
        params={"name": name},
        body=b"kept in S3",
        headers={**me, "Content-Type": "text/plain"},
    )
    return answer, time.monotonic() - started


def circuit(api: falcon.testing.TestClient) -> str:
    scrape = api.simulate_get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    line = next(
        line
        for line in scrape.text.splitlines()
        if line.startswith('videoplatform_circuit_state{dependency="storage"}')
    )
    return line.rsplit(" ", 1)[1]


@pytest.mark.parametrize("outage", ["silenced", "cut"])
def test_s3_down_is_a_fast_503_and_then_an_immediate_one(
    api: falcon.testing.TestClient, proxy: TcpProxy, outage: str
) -> None:
    me = sign_up(api)
    stored, _ = upload(api, me, "before.txt")
    assert stored.status_code == 201, stored.text
    assert circuit(api) == "0.0"

    proxy.silence() if outage == "silenced" else proxy.cut()
    for attempt in range(2):  # at most as many requests as failures open the circuit
        refused, took = upload(api, me, f"during-{attempt}.txt")
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json["code"] == "storage_unavailable"
        assert "S3" not in refused.json.get("detail", ""), "internals stay in the logs"
        # Within the timeouts (storing, then removing what may have been stored), never
        # a hang.
        assert took < 2 * READ_TIMEOUT + 1.0
        if circuit(api) == "2.0":
            break
    assert circuit(api) == "2.0"

    # Open: the next request is refused without asking S3.
    refused, took = upload(api, me, "while-open.txt")
    assert refused.status_code == 503
    assert refused.json["code"] == "storage_unavailable"
    assert took < 0.25

    proxy.restore()
    time.sleep(RESET_SECONDS + 0.1)
    stored, _ = upload(api, me, "after.txt")
    assert stored.status_code == 201, stored.text
    assert circuit(api) == "0.0"
