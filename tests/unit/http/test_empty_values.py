"""An empty query value is refused like an invalid one, never taken for an absent one,
and the document says so: every string query parameter has minLength 1, and 422 is
documented on every operation."""

from __future__ import annotations

import falcon.testing
import pytest

from tests.unit.http.conftest import MakeAccount, problem_code
from videoplatform.domain.users import Role

Client = falcon.testing.TestClient


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/videos", "visibility="),
        ("/api/v1/videos", "cursor="),
        ("/api/v1/audit", "until="),
        ("/api/v1/audit", "since=&limit=5"),
        ("/api/v1/videos/01NOSUCHVIDEO000000000000/playback", "expires_in_seconds="),
        ("/api/v1/files", "folder="),
    ],
)
def test_an_empty_value_is_refused_with_its_name(
    client: Client, account: MakeAccount, path: str, query: str
) -> None:
    admin = account(Role.ADMIN)
    refused = client.simulate_get(path, query_string=query, headers=admin.headers)
    assert (refused.status_code, problem_code(refused)) == (422, "validation_failed")
    name = query.split("=")[0]
    assert refused.json["errors"] == [{"field": name, "message": "must not be empty"}]


def test_a_download_disposition_is_inline_or_attachment(
    client: Client, account: MakeAccount
) -> None:
    owner = account(Role.CREATOR)
    stored = client.simulate_post(
        "/api/v1/files",
        body=b"hello",
        params={"name": "hello.txt"},
        headers={**owner.headers, "Content-Type": "text/plain"},
    )
    assert stored.status_code == 201, stored.text
    path = f"/api/v1/files/{stored.json['id']}/content"
    for wanted in ("inline", "attachment"):
        assert (
            client.simulate_get(
                path, params={"disposition": wanted}, headers=owner.headers
            ).status_code
            == 200
        )
    refused = client.simulate_get(path, params={"disposition": "AAA"}, headers=owner.headers)
    assert (refused.status_code, refused.json["errors"][0]["field"]) == (422, "disposition")
    # Whose file it is comes first: a stranger learns nothing from a bad value.
    stranger = client.simulate_get(
        path, params={"disposition": "AAA"}, headers=account(Role.CREATOR).headers
    )
    assert stranger.status_code == 404


def test_the_document_states_it(client: Client) -> None:
    document = client.simulate_get("/api/v1/openapi.json").json
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "422" in operation["responses"], (method, path)
            for parameter in operation["parameters"]:
                schema = parameter["schema"]
                if parameter["in"] == "query" and schema.get("type") == "string":
                    assert schema.get("minLength", 0) >= 1 or "enum" in schema, (path, parameter)
