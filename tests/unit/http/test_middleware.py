"""Behaviour every client can rely on: request ids, errors, headers, CORS."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.testing
import pytest
import structlog

from tests.unit.http.conftest import MakeAccount, problem_code
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app
from videoplatform.entrypoints.http.middleware import ClientAddress
from videoplatform.entrypoints.http.openapi import Operation, Reply, Route


def test_a_sane_request_id_is_kept_and_echoed(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/health/live", headers={"X-Request-ID": "trace-42.a"})
    assert result.headers["x-request-id"] == "trace-42.a"


@pytest.mark.parametrize("offered", ["", "x" * 200, "bad id with spaces", "<script>"])
def test_an_unusable_request_id_is_replaced_by_a_fresh_one(
    client: falcon.testing.TestClient, offered: str
) -> None:
    result = client.simulate_get("/health/live", headers={"X-Request-ID": offered})
    assert result.headers["x-request-id"] != offered
    assert len(result.headers["x-request-id"]) == 32


def test_each_request_is_logged_once_with_its_route_template_and_user(
    client: falcon.testing.TestClient,
) -> None:
    with structlog.testing.capture_logs() as logs:
        client.simulate_get("/api/v1/categories/abc", headers={"X-Request-ID": "r1"})
    lines = [entry for entry in logs if entry["event"] == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/categories/{category_id}"
    assert line["status"] == 405
    assert isinstance(line["duration_ms"], float)
    assert line["user_id"] is None


def test_security_headers_are_on_every_response(client: falcon.testing.TestClient) -> None:
    for path in ("/health/live", "/api/v1/nowhere", "/docs"):
        result = client.simulate_get(path)
        assert result.headers["x-content-type-options"] == "nosniff"
        assert result.headers["x-frame-options"] == "DENY"
        assert "server" not in result.headers


def test_html_gets_a_strict_content_security_policy(platform: Platform) -> None:
    class Page:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = "text/html; charset=utf-8"
            resp.text = "<p>hello</p>"

    route = Route(
        "/page",
        Page(),
        (
            Operation(
                "GET",
                "A page",
                "test",
                (Reply(200, "HTML", media="text/html", schema={"type": "string"}),),
            ),
        ),
    )
    client = falcon.testing.TestClient(create_app(platform, HttpOptions(extra_routes=(route,))))
    assert (
        client.simulate_get("/page")
        .headers["content-security-policy"]
        .startswith("default-src 'none'")
    )


def test_an_unexpected_error_is_a_500_problem_without_internals(platform: Platform) -> None:
    class Broken:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            raise RuntimeError("database password is hunter2")

    route = Route(
        "/api/v1/broken",
        Broken(),
        (Operation("GET", "Broken", "test", (Reply(200, "never", schema={"type": "object"}),)),),
    )
    client = falcon.testing.TestClient(create_app(platform, HttpOptions(extra_routes=(route,))))
    with structlog.testing.capture_logs() as logs:
        result = client.simulate_get("/api/v1/broken", headers={"X-Request-ID": "boom-1"})
    assert result.status_code == 500
    assert problem_code(result) == "internal_error"
    assert "hunter2" not in result.text
    assert result.json["request_id"] == "boom-1"
    errors = [entry for entry in logs if entry["event"] == "unhandled_error"]
    assert len(errors) == 1


def test_framework_errors_are_problems_with_stable_codes(
    client: falcon.testing.TestClient,
) -> None:
    cases = [
        (client.simulate_get("/api/v1/nowhere"), 404, "route_not_found"),
        (client.simulate_put("/api/v1/categories"), 405, "method_not_allowed"),
        (
            client.simulate_post(
                "/api/v1/auth/session",
                body="{not json",
                headers={"Content-Type": "application/json"},
            ),
            400,
            "bad_request",
        ),
        (
            client.simulate_post(
                "/api/v1/auth/session", body="email=x", headers={"Content-Type": "text/plain"}
            ),
            415,
            "unsupported_media_type",
        ),
    ]
    for result, status, code in cases:
        assert result.status_code == status, result.text
        assert problem_code(result) == code
        assert result.json["status"] == status
        assert result.json["title"][0].isalpha()


def test_json_bodies_over_the_limit_are_refused_before_reading(platform: Platform) -> None:
    client = falcon.testing.TestClient(create_app(platform, HttpOptions(json_limit=64)))
    result = client.simulate_post(
        "/api/v1/auth/session",
        json={"email": "a@example.com", "password": "p" * 100},
    )
    assert result.status_code == 413
    assert problem_code(result) == "payload_too_large"


def test_cors_is_off_by_default_and_configurable(platform: Platform) -> None:
    plain = falcon.testing.TestClient(create_app(platform))
    assert (
        "access-control-allow-origin"
        not in plain.simulate_get("/health/live", headers={"Origin": "https://app.example"}).headers
    )
    allowed = falcon.testing.TestClient(
        create_app(platform, HttpOptions(cors_origins=("https://app.example",)))
    )
    result = allowed.simulate_get("/health/live", headers={"Origin": "https://app.example"})
    assert result.headers["access-control-allow-origin"] == "https://app.example"
    other = allowed.simulate_get("/health/live", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_a_json_string_where_a_list_belongs_is_refused_not_split(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    from videoplatform.domain.users import Role

    admin, member = account(Role.ADMIN), account(Role.CREATOR)
    result = client.simulate_put(
        f"/api/v1/users/{member.user_id}/roles", json={"roles": "admin"}, headers=admin.headers
    )
    assert result.status_code == 422
    assert result.json["errors"] == [{"field": "roles", "message": "expected a list"}]


@pytest.mark.parametrize(
    ("peer", "forwarded", "seen"),
    [
        # Not a trusted proxy: the header is the client's own say, ignored.
        ("198.51.100.7", "203.0.113.5", "198.51.100.7"),
        # From the proxy: the address it saw, the rightmost one.
        ("10.0.0.2", "203.0.113.5", "203.0.113.5"),
        # A client that sends its own header cannot choose what the proxy appends.
        ("10.0.0.2", "1.2.3.4, 203.0.113.5", "203.0.113.5"),
        # Proxies in a chain (all trusted) are skipped.
        ("10.0.0.2", "203.0.113.5, 10.0.0.9", "203.0.113.5"),
        ("10.0.0.2", "10.0.0.8, 10.0.0.9", "10.0.0.8"),
        # No header, or garbage in it: the peer.
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ("::1", "2001:db8::5", "2001:db8::5"),
    ],
)
def test_the_client_address_is_believed_from_trusted_proxies_only(
    peer: str, forwarded: str | None, seen: str
) -> None:
    address = ClientAddress(["10.0.0.0/8", "::1"])
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    req = falcon.testing.create_req(remote_addr=peer, headers=headers)
    assert address.of(req) == seen


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    req = falcon.testing.create_req(
        remote_addr="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.5"}
    )
    assert ClientAddress([]).of(req) == "127.0.0.1"


def test_behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another(
    platform: Platform,
) -> None:
    trusted = create_app(platform, HttpOptions(trusted_proxies=("127.0.0.1",)))
    client = falcon.testing.TestClient(trusted)
    for email in ("victim@example.com", "other@example.com"):
        registered = client.simulate_post(
            "/api/v1/auth/register",
            json={"email": email, "password": "a long passphrase", "display_name": "V"},
        )
        assert registered.status_code == 202
    attacker = {"X-Forwarded-For": "203.0.113.5"}
    for n in range(40):  # past the per-address limit, spread over many accounts
        client.simulate_post(
            "/api/v1/auth/session",
            json={"email": f"nobody{n}@example.com", "password": "wrong guess!"},
            headers=attacker,
        )
    refused = client.simulate_post(
        "/api/v1/auth/session",
        json={"email": "victim@example.com", "password": "a long passphrase"},
        headers=attacker,
    )
    assert refused.status_code == 429
    victim = client.simulate_post(
        "/api/v1/auth/session",
        json={"email": "victim@example.com", "password": "a long passphrase"},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert victim.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "options"),
    [
        ("POST", "/api/v1/auth/tokens", {"json": {"name": ""}}),
        ("POST", "/api/v1/shares", {"json": {"video_id": 1, "file_id": 2}}),
        ("POST", "/api/v1/shares", {"body": "not json", "headers": {"Content-Type": "text/x"}}),
        ("GET", "/api/v1/audit", {"params": {"since": "yesterday", "limit": "-1"}}),
        ("GET", "/api/v1/audit/export", {"params": {"until": "\x00"}}),
        ("GET", "/api/v1/users", {"params": {"cursor": "x"}}),
    ],
)
def test_an_anonymous_call_to_a_protected_operation_is_401_whatever_its_input(
    client: falcon.testing.TestClient, method: str, path: str, options: dict[str, Any]
) -> None:
    result = client.simulate_request(method, path, **options)
    assert result.status_code == 401, result.text
    assert problem_code(result) == "authentication_failed"


@pytest.mark.parametrize(
    ("method", "path", "options"),
    [
        ("GET", "/api/v1/users", {"params": {"cursor": "x"}}),
        ("GET", "/api/v1/audit", {"params": {"since": "yesterday"}}),
        ("GET", "/api/v1/audit/export", {"params": {"format": "xml"}}),
    ],
)
def test_a_caller_without_the_permission_is_403_whatever_its_input(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    method: str,
    path: str,
    options: dict[str, Any],
) -> None:
    creator = account()
    result = client.simulate_request(method, path, headers=creator.headers, **options)
    assert result.status_code == 403, result.text


def test_roles_are_read_only_from_a_caller_who_may_change_them(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    creator, other = account(), account()
    result = client.simulate_put(
        f"/api/v1/users/{other.user_id}/roles", json={"roles": ["emperor"]}, headers=creator.headers
    )
    assert result.status_code == 403, result.text


def test_what_is_logged_during_a_request_names_its_route(platform: Platform) -> None:
    seen: dict[str, object] = {}

    class Looking:
        def on_get(self, req: falcon.Request, resp: falcon.Response, item: str) -> None:
            seen.update(structlog.contextvars.get_contextvars())
            resp.media = {}

    route = Route(
        "/look/{item}",
        Looking(),
        (Operation("GET", "Look", "test", (Reply(200, "ok", schema={"type": "object"}),)),),
    )
    client = falcon.testing.TestClient(create_app(platform, HttpOptions(extra_routes=(route,))))
    assert client.simulate_get("/look/42").status_code == 200
    assert seen["route"] == "/look/{item}"
    assert "request_id" in seen
