"""The document states the limits the server enforces, from the same constants: a value
just inside a documented limit gets past validation, one just outside is refused with a
422 naming the field."""

from __future__ import annotations

from typing import Any

import falcon.testing
import jsonschema

from tests.unit.http.conftest import MakeAccount
from videoplatform.application.limits import PERSONAL_TOKEN_MAX_DAYS
from videoplatform.application.users.sessions import MAX_TOKEN_NAME
from videoplatform.domain.categories import MAX_CATEGORY_NAME
from videoplatform.domain.shares import MAX_SHARE_TOKEN, MAX_SHARE_USES
from videoplatform.domain.users import (
    MAX_DISPLAY_NAME,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Role,
)
from videoplatform.domain.videos import MAX_TITLE
from videoplatform.entrypoints.http.resources.auth import display_name_rules
from videoplatform.entrypoints.http.schema import NO_NUL, not_space

Client = falcon.testing.TestClient


def body_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    content = document["paths"][path][method]["requestBody"]["content"]
    ref: str = content["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def prop(schema: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["properties"][name]
    options = found.get("anyOf")
    return next(o for o in options if o != {"type": "null"}) if options else found


def test_limits_in_the_document_come_from_the_rules(client: Client) -> None:
    doc = client.simulate_get("/api/v1/openapi.json").json
    register = body_schema(doc, "/api/v1/auth/register", "post")
    assert prop(register, "password") == {
        "type": "string",
        **NO_NUL,
        "minLength": MIN_PASSWORD_LENGTH,
        "maxLength": MAX_PASSWORD_LENGTH,
        "description": f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
    }
    text = {"type": "string", **NO_NUL, "minLength": 1, "pattern": not_space()}
    assert prop(register, "display_name") == {
        "type": "string",
        **NO_NUL,
        **display_name_rules(),
        "description": "control characters other than whitespace are refused",
    }
    assert display_name_rules()["maxLength"] == MAX_DISPLAY_NAME
    token = body_schema(doc, "/api/v1/auth/tokens", "post")
    assert prop(token, "name") == text | {"maxLength": MAX_TOKEN_NAME}
    category = body_schema(doc, "/api/v1/categories", "post")
    assert prop(category, "name") == text | {"maxLength": MAX_CATEGORY_NAME}
    patch = body_schema(doc, "/api/v1/videos/{video_id}", "patch")
    assert prop(patch, "title") == text | {"maxLength": MAX_TITLE}
    days = prop(token, "expires_in_days")
    assert (days["minimum"], days["maximum"]) == (1, PERSONAL_TOKEN_MAX_DAYS)
    redeem = body_schema(doc, "/api/v1/public/shares/redeem", "post")
    assert prop(redeem, "token") | {"description": ""} == {
        "type": "string",
        **NO_NUL,
        "minLength": 1,
        "maxLength": MAX_SHARE_TOKEN,
        "description": "",
    }
    share = body_schema(doc, "/api/v1/shares", "post")
    uses = prop(share, "max_uses")
    assert (uses["minimum"], uses["maximum"]) == (1, MAX_SHARE_USES)


def fields_refused(result: falcon.testing.Result) -> list[str]:
    if result.status_code != 422:
        return []
    return [error["field"] for error in result.json.get("errors", [])]


def test_the_server_refuses_exactly_past_the_documented_limits(
    client: Client, account: MakeAccount
) -> None:
    def register(**body: str) -> falcon.testing.Result:
        base = {"email": "new@example.com", "password": "x" * 12, "display_name": "N"}
        return client.simulate_post("/api/v1/auth/register", json=base | body)

    assert fields_refused(register(password="x" * (MIN_PASSWORD_LENGTH - 1))) == ["password"]
    assert fields_refused(register(password="x" * (MAX_PASSWORD_LENGTH + 1))) == ["password"]
    assert fields_refused(register(display_name="d" * (MAX_DISPLAY_NAME + 1))) == ["display_name"]
    assert fields_refused(register(display_name="   ")) == ["display_name"]
    assert register(display_name="d" * MAX_DISPLAY_NAME).status_code == 202

    admin = account(Role.ADMIN)
    tokens = "/api/v1/auth/tokens"
    long_name = client.simulate_post(
        tokens, json={"name": "n" * (MAX_TOKEN_NAME + 1)}, headers=admin.headers
    )
    assert fields_refused(long_name) == ["name"]
    made = client.simulate_post(tokens, json={"name": "n" * MAX_TOKEN_NAME}, headers=admin.headers)
    assert made.status_code == 201
    for days, status in (
        (0, 422),
        (PERSONAL_TOKEN_MAX_DAYS + 1, 422),
        (PERSONAL_TOKEN_MAX_DAYS, 201),
    ):
        asked = client.simulate_post(
            tokens, json={"name": "t", "expires_in_days": days}, headers=admin.headers
        )
        assert asked.status_code == status, (days, asked.text)
    categories = "/api/v1/categories"
    too_long = "c" * (MAX_CATEGORY_NAME + 1)
    long_category = client.simulate_post(categories, json={"name": too_long}, headers=admin.headers)
    assert fields_refused(long_category) == ["name"]
    ok = client.simulate_post(
        categories, json={"name": "c" * MAX_CATEGORY_NAME}, headers=admin.headers
    )
    assert ok.status_code == 201


def test_routes_outside_the_versioned_api_say_so(client: Client) -> None:
    doc = client.simulate_get("/api/v1/openapi.json").json
    outside = {
        path for path in doc["paths"] if not path.startswith("/api/v1/") and path != "/metrics"
    }
    assert outside == {
        "/health/live",
        "/health/ready",
        "/health/startup",
        "/health/detailed",
        "/docs",
        "/docs/init.js",
    }
    tags = {tag["name"]: tag["description"] for tag in doc["tags"]}
    for path in outside:
        for operation in doc["paths"][path].values():
            (tag,) = operation["tags"]
            assert "Outside /api/v1" in tags[tag] or "outside /api/v1" in tags[tag]


def test_the_multipart_forms_state_their_fields_then_the_file(client: Client) -> None:
    doc = client.simulate_get("/api/v1/openapi.json").json
    for path, fields in (
        ("/api/v1/videos", {"title", "description", "category_id", "tags", "visibility"}),
        ("/api/v1/files", {"folder", "name"}),
    ):
        form = doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        schema = form["schema"]
        assert set(schema["properties"]) == fields | {"file"}
        assert list(schema["properties"])[-1] == "file"
        assert schema["required"] == ["file"]
        assert form["encoding"]["file"]["contentType"] == "application/octet-stream"
        for name in fields:  # the same rules as the query parameter of that name
            (param,) = [p for p in doc["paths"][path]["post"]["parameters"] if p["name"] == name]
            assert {k: v for k, v in schema["properties"][name].items() if k != "description"} == {
                k: v for k, v in param["schema"].items() if k != "description"
            }


def test_share_creation_states_exactly_one_target(client: Client) -> None:
    doc = client.simulate_get("/api/v1/openapi.json").json
    share = body_schema(doc, "/api/v1/shares", "post")
    validator = jsonschema.Draft202012Validator({**share, "components": doc["components"]})
    assert validator.is_valid({"video_id": "v"})
    assert validator.is_valid({"file_id": "f", "video_id": None})
    assert not validator.is_valid({})
    assert not validator.is_valid({"video_id": None, "file_id": None})
    assert not validator.is_valid({"video_id": "v", "file_id": "f"})


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


def test_every_pattern_means_the_same_in_every_dialect(client: Client) -> None:
    """JSON Schema's patterns are ECMAScript's; clients read them with Python's, Rust's
    or Go's. Escapes whose meaning differs between them (``\\s``, ``\\d``, ``\\w``,
    ``\\b``; a ``$`` that also matches before a final line break) are not used: the
    server's whitespace is spelled out, and ``[\\s\\S]`` (any character) is the same
    everywhere."""
    doc = client.simulate_get("/api/v1/openapi.json").json
    patterns = set(_patterns(doc))
    assert len(patterns) > 10
    for pattern in patterns:
        plain = pattern.replace(r"[\s\S]", "").replace(r"\\", "")
        assert not any(e in plain for e in (r"\s", r"\S", r"\d", r"\D", r"\w", r"\W", r"\b")), (
            pattern[:200]
        )
        assert "$" not in plain.replace(r"\$", ""), pattern[:200]
