"""``videoplatform serve``: the real console script, gunicorn and all, on loopback with
the embedded profile in a temporary data directory."""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.served import GRACE_SECONDS, Served
from videoplatform.entrypoints.http.server import ServeOptions, banner
from videoplatform.entrypoints.http.workers import ThreadWorker
from videoplatform.entrypoints.settings import ConfigurationError, Settings


def test_options_come_from_the_settings_and_flags_override_them() -> None:
    settings = Settings(bind="0.0.0.0:9000", workers=3, threads=1, graceful_timeout_seconds=7)
    options = ServeOptions.from_settings(settings, workers=None, threads=8, timeout=15)
    assert (options.bind, options.workers, options.threads) == ("0.0.0.0:9000", 3, 8)
    assert (options.timeout, options.graceful_timeout) == (15, 7)
    worker = options.worker_class
    assert isinstance(worker, type) and issubclass(worker, ThreadWorker)
    assert ServeOptions.from_settings(settings).worker_class == "sync"
    config = options.gunicorn_config()
    assert config["preload_app"] is False  # every worker builds its own platform
    assert config["accesslog"] is None  # the middleware logs each request once


def test_a_worker_count_from_the_environment_is_refused_with_its_source() -> None:
    with pytest.raises(ConfigurationError, match="VIDEOPLATFORM_WORKERS or --workers"):
        ServeOptions.from_settings(Settings(workers=0))


def test_the_banner_hides_a_database_password() -> None:
    settings = Settings(
        database_url="postgresql://vp:s3cret@db.example/vp", storage_url="memory://"
    )
    lines = banner(settings, ServeOptions(), ["http://10.0.0.5:8000"])
    text = "\n".join(lines)
    assert "http://10.0.0.5:8000/docs" in text
    assert "web site      http://10.0.0.5:8000/" in text
    assert "createadmin" not in text
    assert "s3cret" not in text
    assert "postgresql://vp:***@db.example/vp" in text


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = Served(tmp_path_factory.mktemp("serve"))
    yield running
    running.stop()


def test_the_docs_and_the_openapi_document_are_served(served: Served) -> None:
    assert "listening on" in served.stdout()
    # A new platform says how to make its first administrator.
    assert "No administrator yet: make one with `videoplatform createadmin" in served.stdout()
    assert f"{served.url}/docs" in served.stdout()
    assert f"{served.url}/api/v1/openapi.json" in served.stdout()

    document = httpx.get(f"{served.url}/api/v1/openapi.json")
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")
    page = httpx.get(f"{served.url}/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


def test_responses_carry_a_request_id_and_name_no_server_software(served: Served) -> None:
    for path in ("/health/live", "/api/v1/openapi.json", "/api/v1/nowhere"):
        response = httpx.get(served.url + path)
        servers = response.headers.get_list("server")
        assert servers == ["videoplatform"], servers
        assert not any("gunicorn" in s.lower() or "/" in s for s in servers)
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_every_request_is_one_json_log_line_with_its_request_id(served: Served) -> None:
    sent = {"trace-1": "/health/live", "trace-2": "/api/v1/missing"}
    routes = {"trace-1": ("/health/live", 200), "trace-2": ("<unmatched>", 404)}
    with httpx.Client(base_url=served.url) as client:
        for request_id, path in sent.items():
            echoed = client.get(path, headers={"X-Request-ID": request_id})
            assert echoed.headers["x-request-id"] == request_id

    deadline = time.monotonic() + 5
    while True:
        lines = served.log_lines()  # every line on stderr is JSON, gunicorn's too
        logged = [line for line in lines if line.get("request_id") in sent]
        if len(logged) >= len(sent) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert sorted(line["request_id"] for line in logged) == sorted(sent)
    for line in logged:
        assert line["event"] == "request"
        assert line["method"] == "GET"
        assert (line["route"], line["status"]) == routes[line["request_id"]]
        assert isinstance(line["duration_ms"], float)
        assert line["level"] == "info"
        assert "timestamp" in line
    assert any(line["logger"] == "gunicorn.error" for line in lines)


@pytest.mark.parametrize("threads", ["1", "4"], ids=["sync-worker", "threaded-worker"])
def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(
    tmp_path: Path, threads: str
) -> None:
    running = Served(tmp_path, "--threads", threads, "--graceful-timeout", str(GRACE_SECONDS))
    body = json.dumps(
        {"email": "slow@example.com", "password": "a long passphrase", "display_name": "Slow"}
    ).encode()
    chunks = [body[i : i + 20] for i in range(0, len(body), 20)]
    first_chunk_sent = threading.Event()
    outcome: dict[str, Any] = {}

    def dribble() -> Iterator[bytes]:
        yield chunks[0]
        first_chunk_sent.set()
        for chunk in chunks[1:]:
            time.sleep(1.5 / (len(chunks) - 1))
            yield chunk

    def post_slowly() -> None:
        try:
            outcome["response"] = httpx.post(
                f"{running.url}/api/v1/auth/register",
                content=dribble(),
                headers={
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    "X-Request-ID": "slow-one",
                },
                timeout=GRACE_SECONDS + 5,
            )
        except Exception as exc:  # reported by the assertions below
            outcome["error"] = exc
        outcome["finished"] = time.monotonic()

    client = threading.Thread(target=post_slowly)
    client.start()
    try:
        assert first_chunk_sent.wait(10)
        time.sleep(0.3)  # the worker has the request and is reading its body
        signalled = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        client.join(GRACE_SECONDS + 5)
        code = running.process.wait(timeout=GRACE_SECONDS + 5)
        exited = time.monotonic()
    finally:
        running.stop()

    assert "error" not in outcome, outcome.get("error")
    assert outcome["response"].status_code == 202
    assert outcome["finished"] > signalled + 0.5  # it was still arriving at the signal
    assert code == 0
    assert exited - signalled < GRACE_SECONDS
    lines = running.log_lines()
    slow = [line for line in lines if line.get("request_id") == "slow-one"]
    assert [(line["route"], line["status"]) for line in slow] == [("/api/v1/auth/register", 202)]
    assert any(line["event"] == "platform closed" for line in lines)


def test_after_sigterm_new_connections_are_refused_at_once_while_the_request_in_flight_finishes(
    tmp_path: Path,
) -> None:
    running = Served(tmp_path, "--threads", "4", "--graceful-timeout", str(GRACE_SECONDS))
    host, port = running.url.removeprefix("http://").rsplit(":", 1)
    body = json.dumps(
        {"email": "late@example.com", "password": "a long passphrase", "display_name": "Late"}
    ).encode()
    first_chunk_sent = threading.Event()
    outcome: dict[str, Any] = {}

    def dribble() -> Iterator[bytes]:
        yield body[:10]
        first_chunk_sent.set()
        time.sleep(2.0)  # still arriving well after the signal
        yield body[10:]

    def post_slowly() -> None:
        try:
            outcome["response"] = httpx.post(
                f"{running.url}/api/v1/auth/register",
                content=dribble(),
                headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
                timeout=GRACE_SECONDS + 5,
            )
        except Exception as exc:  # reported by the assertions below
            outcome["error"] = exc

    client = threading.Thread(target=post_slowly)
    client.start()
    try:
        assert first_chunk_sent.wait(10)
        time.sleep(0.3)  # the worker has the request and is reading its body
        running.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the worker notices the signal (its loop wakes at once)
        tried = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=5).close()
        assert time.monotonic() - tried < 1  # refused, not left waiting in a backlog
        client.join(GRACE_SECONDS + 5)
    finally:
        running.stop()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["response"].status_code == 202
