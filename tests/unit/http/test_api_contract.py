"""The published OpenAPI document is valid, complete and true to the responses."""

from __future__ import annotations

from typing import Any

import falcon.inspect
import falcon.testing
import pytest
from openapi_spec_validator import validate

from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app
from videoplatform.entrypoints.http.openapi import Operation, Reply, Route, document_path

# OPTIONS counts where a resource answers it itself (tus discovery); Falcon's default
# OPTIONS responders are internal and left out.
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


@pytest.fixture
def document(client: falcon.testing.TestClient) -> dict[str, Any]:
    result = client.simulate_get("/api/v1/openapi.json")
    assert result.status_code == 200
    body: dict[str, Any] = result.json
    return body


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_the_app_serves_is_documented_and_nothing_else(
    platform: Platform, document: dict[str, Any]
) -> None:
    # The web application's pages are not the API (tests/unit/web checks they stay
    # outside it).
    app = create_app(platform, HttpOptions(site=False))
    served = {
        (document_path(route.path), method.method.lower())
        for route in falcon.inspect.inspect_routes(app)
        for method in route.methods
        if not method.internal and method.method in HTTP_METHODS
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == documented
    assert len(served) > 10


def test_every_operation_documents_its_errors_as_problem_details(
    document: dict[str, Any],
) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["summary"], (path, method)
            for status, reply in operation["responses"].items():
                if int(status) >= 400:
                    media = reply["content"]
                    assert list(media) == ["application/problem+json"], (path, method, status)
            statuses = set(operation["responses"])
            assert {"400", "406", "500"} <= statuses, (path, method)
            if operation.get("security") == [{"bearer": []}]:
                assert "401" in statuses, (path, method)


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_responses_match_their_documented_schemas(
    client: falcon.testing.TestClient, document: dict[str, Any], account: MakeAccount
) -> None:
    from videoplatform.domain.users import Role

    docs = Documented(document)
    admin: Account = account(Role.ADMIN)
    calls: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/health/live", {}, 200),
        ("GET", "/health/ready", {}, 200),
        ("GET", "/api/v1/auth/me", {"headers": admin.headers}, 200),
        ("GET", "/api/v1/auth/me", {}, 401),
        ("POST", "/api/v1/auth/tokens", {"headers": admin.headers, "json": {"name": "ci"}}, 201),
        ("GET", "/api/v1/auth/tokens", {"headers": admin.headers}, 200),
        ("POST", "/api/v1/categories", {"headers": admin.headers, "json": {"name": "Music"}}, 201),
        ("POST", "/api/v1/categories", {"headers": admin.headers, "json": {"name": "Music"}}, 409),
        ("POST", "/api/v1/categories", {"headers": admin.headers, "json": {"nom": "x"}}, 422),
        ("GET", "/api/v1/categories", {}, 200),
        (
            "POST",
            "/api/v1/auth/register",
            {
                "json": {
                    "email": "new@example.com",
                    "password": "long enough pw",
                    "display_name": "New",
                }
            },
            202,
        ),
        (
            "POST",
            "/api/v1/auth/session",
            {"json": {"email": "new@example.com", "password": "wrong password"}},
            401,
        ),
    ]
    for method, path, kwargs, expected in calls:
        result = client.simulate_request(method, path, **kwargs)
        assert result.status_code == expected, (method, path, result.text)
        media = result.headers.get("content-type", "").split(";")[0]
        body = result.json if media.endswith("json") else result.text
        docs.check(method, path, result.status_code, body, media)


def test_a_deprecated_operation_carries_deprecation_and_sunset_headers(
    platform: Platform,
) -> None:
    class Legacy:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.media = {"old": True}

    dates = ("@1767225600", "Wed, 01 Jul 2026 00:00:00 GMT")
    legacy = Route(
        "/api/v1/legacy",
        Legacy(),
        (
            Operation(
                "GET",
                "Legacy listing",
                "legacy",
                (Reply(200, "Old shape", schema={"type": "object"}),),
                deprecated=dates,
            ),
        ),
    )
    client = falcon.testing.TestClient(create_app(platform, HttpOptions(extra_routes=(legacy,))))
    result = client.simulate_get("/api/v1/legacy")
    assert result.headers["deprecation"] == dates[0]
    assert result.headers["sunset"] == dates[1]
    document = client.simulate_get("/api/v1/openapi.json").json
    assert document["paths"]["/api/v1/legacy"]["get"]["deprecated"] is True
    current = client.simulate_get("/api/v1/categories")
    assert "deprecation" not in current.headers


def test_unknown_versions_are_refused_with_406_and_known_ones_served(
    client: falcon.testing.TestClient,
) -> None:
    refused = client.simulate_get("/api/v1/categories", headers={"Accept-Version": "2"})
    assert refused.status_code == 406
    assert problem_code(refused) == "unsupported_version"
    served = client.simulate_get("/api/v1/categories", headers={"Accept-Version": "1"})
    assert served.status_code == 200
    assert served.headers["api-version"] == "1"
