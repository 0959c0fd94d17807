"""Hostile or broken input gets a clear 4xx, never a 500, and nothing half-done."""

from __future__ import annotations

import base64
import io
import json

import falcon
import falcon.testing
import pytest
import sqlalchemy.exc
import structlog

from tests.unit.conftest import PASSWORD
from tests.unit.http.conftest import MakeAccount, problem_code
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app
from videoplatform.entrypoints.http.openapi import Operation, Reply, Route
from videoplatform.entrypoints.logging import configure_logging

SURROGATE = "\ud800"


def cursor(*key: object) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("taken", [True, False])
def test_unstorable_text_is_a_422_and_says_nothing_about_accounts(
    client: falcon.testing.TestClient, taken: bool
) -> None:
    if taken:
        client.simulate_post(
            "/api/v1/auth/register",
            json={"email": "t@example.com", "password": PASSWORD, "display_name": "T"},
        )
    # A JSON escape (\ud800) is how a lone surrogate arrives: valid JSON, not Unicode.
    result = client.simulate_post(
        "/api/v1/auth/register",
        body=json.dumps(
            {"email": "t@example.com", "password": PASSWORD, "display_name": SURROGATE}
        ),
        headers={"Content-Type": "application/json"},
    )
    assert result.status_code == 422
    assert result.json["errors"] == [
        {"field": "display_name", "message": "must be valid Unicode text"}
    ]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/videos/a%00b", "/api/v1/videos?tag=a%00b", "/api/v1/files/x%00"],
)
def test_nul_in_path_or_query_is_a_422(
    client: falcon.testing.TestClient, account: MakeAccount, path: str
) -> None:
    me = account(Role.CREATOR)
    result = client.simulate_get(path, headers=me.headers)
    assert result.status_code == 422, result.text
    assert problem_code(result) == "validation_failed"


@pytest.mark.parametrize(
    "key",
    [
        ("videos:most_viewed", 10**20, "v1"),
        ("videos:newest", "9999-12-31T23:59:59-23:59", "v1"),
        ("videos:newest", "2026-01-01T00:00:00+00:00\x00", "v1"),
    ],
)
def test_out_of_range_cursors_are_422(
    client: falcon.testing.TestClient, key: tuple[object, ...]
) -> None:
    sort = "most_viewed" if "most" in str(key[0]) else "newest"
    result = client.simulate_get("/api/v1/videos", params={"cursor": cursor(*key), "sort": sort})
    assert result.status_code == 422, result.text


@pytest.mark.parametrize("days", [10**10, 1e10, 0, -1])
def test_absurd_token_lifetimes_are_422(
    client: falcon.testing.TestClient, account: MakeAccount, days: float
) -> None:
    me = account(Role.CREATOR)
    result = client.simulate_post(
        "/api/v1/auth/tokens", json={"name": "x", "expires_in_days": days}, headers=me.headers
    )
    assert result.status_code == 422, result.text


def test_deeply_nested_json_is_a_400(client: falcon.testing.TestClient) -> None:
    body = "[" * 100_000 + "]" * 100_000
    result = client.simulate_post(
        "/api/v1/auth/session", body=body, headers={"Content-Type": "application/json"}
    )
    assert result.status_code == 400


def test_a_stale_token_does_not_stop_anyone_logging_in(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    me = account(Role.CREATOR, email="stale@example.com")
    client.simulate_delete("/api/v1/auth/session", headers=me.headers)
    again = client.simulate_post(
        "/api/v1/auth/session",
        json={"email": "stale@example.com", "password": PASSWORD},
        headers=me.headers,
    )
    assert again.status_code == 201
    assert client.simulate_get("/health/ready", headers=me.headers).status_code == 200
    # ...while an operation that takes a token still refuses a dead one.
    assert client.simulate_get("/api/v1/categories", headers=me.headers).status_code == 401


def test_an_upload_cut_short_of_its_content_length_is_refused_and_not_stored(
    client: falcon.testing.TestClient, account: MakeAccount, storage: MemoryObjectStorage
) -> None:
    me = account(Role.CREATOR)
    result = client.simulate_post(
        "/api/v1/files",
        params={"folder": "/", "name": "cut.bin"},
        body=b"x" * 5000,
        headers={**me.headers, "Content-Type": "application/octet-stream"},
        extras={"CONTENT_LENGTH": "100000"},
    )
    assert result.status_code == 400, result.text
    assert problem_code(result) == "incomplete_body"
    assert storage.keys() == []


def test_a_chunked_json_body_is_read_not_ignored(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    me = account(Role.ADMIN)
    body = json.dumps({"name": "Chunked"}).encode()
    result = client.simulate_post(
        "/api/v1/categories",
        headers={**me.headers, "Content-Type": "application/json"},
        extras={
            "CONTENT_LENGTH": "",
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
        },
    )
    assert result.status_code == 201, result.text
    assert result.json["name"] == "Chunked"


def test_a_busy_database_is_a_503_with_retry_after(platform: Platform) -> None:
    class Locked:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("database is locked"))

    route = Route(
        "/api/v1/locked",
        Locked(),
        (Operation("GET", "Locked", "test", (Reply(200, "never", schema={"type": "object"}),)),),
    )
    client = falcon.testing.TestClient(create_app(platform, HttpOptions(extra_routes=(route,))))
    result = client.simulate_get("/api/v1/locked")
    assert result.status_code == 503
    assert problem_code(result) == "database_busy"
    assert result.headers["retry-after"] == "1"


def test_logged_tracebacks_never_carry_local_variables(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    try:
        password = "hunter2-in-a-local"  # noqa: F841 - a local the traceback must not show
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            structlog.get_logger("test").exception("failed")
    finally:
        configure_logging(json=False, stream=io.StringIO())
    text = stream.getvalue()
    assert "boom" in text
    assert "hunter2-in-a-local" not in text


def test_cors_allows_any_origin_when_told_to(platform: Platform) -> None:
    client = falcon.testing.TestClient(create_app(platform, HttpOptions(cors_origins=("*",))))
    result = client.simulate_get("/health/live", headers={"Origin": "https://any.example"})
    assert result.headers["access-control-allow-origin"] == "*"
