"""Metrics from the real ``serve``: several gunicorn workers counted as one, scraped by
a real Prometheus server that then answers PromQL about the platform; and the
``videoplatform worker``'s own endpoint."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REQUIRE_SERVICES_ENV, services_required
from tests.integration.served import API, Served, Worker, sign_up

TOKEN = "metrics-token-for-the-tests"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {
        "VIDEOPLATFORM_METRICS_TOKEN": TOKEN,
        "VIDEOPLATFORM_WORKERS": "3",
        "VIDEOPLATFORM_MEDIA_BACKEND": "synthetic",
    }
    running = Served(tmp_path_factory.mktemp("metrics"), env=env)
    yield running
    running.stop()


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_the_workers_answers_are_counted_as_one(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as http:
        assert http.get("/metrics").status_code == 404
        me = sign_up(http)
        for _ in range(30):  # on fresh connections: spread over the workers
            with httpx.Client(base_url=served.url, timeout=10) as one:
                assert one.get(f"{API}/videos", headers=me).status_code == 200
        scraped = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scraped.status_code == 200
    counted = samples(scraped.text, "videoplatform_http_requests_total")
    key = (("method", "GET"), ("route", "/api/v1/videos"), ("status", "200"))
    assert counted[key] == 30
    uses = samples(scraped.text, "videoplatform_use_case_calls_total")
    assert uses[(("name", "videos.list_documents"), ("outcome", "ok"))] == 30
    assert samples(scraped.text, "videoplatform_dependency_up")[(("dependency", "database"),)] == 1


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        reason = "prometheus is not installed (Debian: apt-get install prometheus)"
        if services_required():
            pytest.fail(f"prometheus is required ({REQUIRE_SERVICES_ENV}=1): {reason}")
        pytest.skip(reason)
    return found


def test_a_real_prometheus_scrapes_serve_and_answers_about_it(
    served: Served, tmp_path: Path
) -> None:
    binary = prometheus_binary()
    with httpx.Client(base_url=served.url, timeout=10) as http:
        for _ in range(5):
            http.get(f"{API}/videos")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    target = served.url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: videoplatform\n"
        "    metrics_path: /metrics\n"
        f"    authorization:\n      credentials_file: {token_file}\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={HOST}:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        query = 'sum(videoplatform_http_requests_total{route="/api/v1/videos"})'
        answer: list[object] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not answer:
            time.sleep(0.5)
            try:
                reply = httpx.get(
                    f"http://{HOST}:{port}/api/v1/query", params={"query": query}, timeout=5
                )
            except httpx.TransportError:
                continue
            if reply.status_code == 200:
                answer = reply.json()["data"]["result"]
        assert answer, (tmp_path / "prometheus.log").read_text()[-3000:]
        value = float(answer[0]["value"][1])  # type: ignore[index]
        assert value >= 5
        up = httpx.get(
            f"http://{HOST}:{port}/api/v1/query", params={"query": 'up{job="videoplatform"}'}
        ).json()["data"]["result"]
        assert up and up[0]["value"][1] == "1"
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def test_the_worker_serves_its_own_metrics(tmp_path: Path, production_env: dict[str, str]) -> None:
    port = free_port()
    env = {**production_env, "VIDEOPLATFORM_METRICS_BIND": f"{HOST}:{port}"}
    worker = Worker(env, tmp_path, "worker")
    try:
        text = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "videoplatform_videos" not in text:
            time.sleep(0.3)
            try:
                text = httpx.get(f"http://{HOST}:{port}/metrics", timeout=5).text
            except httpx.TransportError:
                continue
        assert "videoplatform_videos" in text, worker.log()
        assert "videoplatform_outbox_pending" in text
    finally:
        worker.stop()
