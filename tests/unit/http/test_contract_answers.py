"""Answers that used to contradict the OpenAPI document, each as the document now
states it."""

from __future__ import annotations

import re

import falcon.testing
import pytest

from tests.unit.http.conftest import MakeAccount, problem_code
from videoplatform.domain.users import Role

Client = falcon.testing.TestClient
FILES = "/api/v1/files"
BOUNDARY = "b0undary"


def form(fields: list[tuple[str, str]], content: bytes, filename: str = "a.txt") -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    return "".join(parts).encode() + head.encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


FORM = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def test_an_integral_number_is_an_integer(client: Client, account: MakeAccount) -> None:
    admin = account(Role.ADMIN)
    made = client.simulate_post(
        "/api/v1/auth/tokens", json={"name": "t", "expires_in_days": 30.0}, headers=admin.headers
    )
    assert made.status_code == 201, made.text
    half = client.simulate_post(
        "/api/v1/auth/tokens", json={"name": "t", "expires_in_days": 1.5}, headers=admin.headers
    )
    assert half.status_code == 422


def test_a_raw_file_without_a_name_is_untitled(client: Client, account: MakeAccount) -> None:
    me = account(Role.CREATOR)
    stored = client.simulate_post(
        FILES,
        body=b"x",
        headers={"Content-Type": "application/octet-stream", "Content-Length": "1", **me.headers},
    )
    assert stored.status_code == 201, stored.text
    assert re.fullmatch(r"untitled-[0-9a-f]{8}", stored.json["name"])


def test_an_empty_form_field_is_refused_like_an_empty_query_value(
    client: Client, account: MakeAccount
) -> None:
    me = account(Role.CREATOR)
    result = client.simulate_post(
        FILES, body=form([("name", "")], b"x"), headers={**FORM, **me.headers}
    )
    assert result.status_code == 422
    assert result.json["errors"] == [
        {"field": "name", "message": "must not be empty (leave the field out)"}
    ]


def test_query_fields_beside_a_form_are_refused(client: Client, account: MakeAccount) -> None:
    me = account(Role.CREATOR)
    result = client.simulate_post(
        FILES,
        body=form([], b"x"),
        params={"folder": "/\x01"},
        headers={**FORM, **me.headers},
    )
    assert result.status_code == 422
    assert [e["field"] for e in result.json["errors"]] == ["folder"]


def test_a_bad_disposition_is_refused_even_where_a_304_would_follow(
    client: Client, account: MakeAccount
) -> None:
    me = account(Role.CREATOR)
    stored = client.simulate_post(
        FILES, body=form([], b"hello"), headers={**FORM, **me.headers}
    ).json
    content = f"{FILES}/{stored['id']}/content"
    assert (
        client.simulate_get(content, headers={"If-None-Match": "*", **me.headers}).status_code
        == 304
    )
    refused = client.simulate_get(
        content, params={"disposition": "AAA"}, headers={"If-None-Match": "*", **me.headers}
    )
    assert (refused.status_code, problem_code(refused)) == (422, "validation_failed")


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/public/shares/redeem", "post"),
        ("/api/v1/public/shares/download", "post"),
        ("/api/v1/public/shares/playback", "post"),
    ],
)
def test_throttled_share_passwords_are_documented(client: Client, path: str, method: str) -> None:
    doc = client.simulate_get("/api/v1/openapi.json").json
    assert "429" in doc["paths"][path][method]["responses"]
