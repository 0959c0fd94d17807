"""Requests that mail an account (a reset code, a new verification code) answer the
same for any address and are throttled per address and per client address, with the
429 the document lists."""

from __future__ import annotations

import falcon.testing
import pytest

from tests.unit.http.conftest import problem_code
from tests.unit.http.documented import Documented

Client = falcon.testing.TestClient


@pytest.mark.parametrize("path", ["/api/v1/auth/password-reset", "/api/v1/auth/verify/resend"])
def test_the_answer_is_the_same_for_any_address_until_the_throttle(
    client: Client, path: str
) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    answers = [
        client.simulate_post(path, json={"email": address})
        for address in ("nobody@example.com", "other@example.com")
    ]
    assert {a.status_code for a in answers} == {202}
    assert answers[0].json["status"] == answers[1].json["status"] == "accepted"
    # Only the form of what is sent is judged, which says nothing about any account.
    malformed = client.simulate_post(path, json={"email": "not an address"})
    assert (malformed.status_code, malformed.json["errors"]) == (
        422,
        [{"field": "email", "message": "not a valid email address"}],
    )
    docs.check("POST", path, 422, malformed.json, malformed.headers["content-type"])
    for _ in range(2):
        assert client.simulate_post(path, json={"email": "nobody@example.com"}).status_code == 202
    refused = client.simulate_post(path, json={"email": "nobody@example.com"})
    assert (refused.status_code, problem_code(refused)) == (429, "too_many_attempts")
    assert refused.headers["retry-after"] == str(15 * 60)
    for result in (answers[0], refused):
        docs.check("POST", path, result.status_code, result.json, result.headers["content-type"])
