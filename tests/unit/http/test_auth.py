"""Registration, login, sessions, password reset and tokens over HTTP."""

from __future__ import annotations

import re

import falcon.testing

from tests.unit.conftest import PASSWORD
from tests.unit.http.conftest import MakeAccount, problem_code
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.worker import settle_events

REGISTER = "/api/v1/auth/register"
SESSION = "/api/v1/auth/session"


def body(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"email": email, "password": password, "display_name": "Someone"}


def test_registration_answers_the_same_whether_or_not_the_address_is_taken(
    client: falcon.testing.TestClient, mailer: MemoryMailer, platform: Platform
) -> None:
    first = client.simulate_post(REGISTER, json=body("ann@example.com"))
    again = client.simulate_post(REGISTER, json=body("Ann@Example.com"))
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json == again.json
    assert mailer.sent == []  # neither answer waited on a mail server
    settle_events(platform)
    assert [m.subject for m in mailer.sent] == ["Someone tried to register with your address"]


def test_registration_input_errors_are_422_with_fields(client: falcon.testing.TestClient) -> None:
    result = client.simulate_post(REGISTER, json=body("not-an-email", "short"))
    assert result.status_code == 422
    assert problem_code(result) == "validation_failed"
    fields = {e["field"] for e in result.json["errors"]}
    assert fields == {"email"} or fields == {"password"} or fields == {"email", "password"}


def test_login_returns_a_bearer_token_that_works_until_logout(
    client: falcon.testing.TestClient,
) -> None:
    client.simulate_post(REGISTER, json=body("bo@example.com"))
    login = client.simulate_post(SESSION, json={"email": "bo@example.com", "password": PASSWORD})
    assert login.status_code == 201
    token = login.json["token"]
    assert len(token) >= 22
    headers = {"Authorization": f"Bearer {token}"}
    assert client.simulate_get("/api/v1/auth/me", headers=headers).json["email"] == "bo@example.com"
    assert client.simulate_delete(SESSION, headers=headers).status_code == 204
    after = client.simulate_get("/api/v1/auth/me", headers=headers)
    assert after.status_code == 401
    assert after.headers["www-authenticate"].startswith("Bearer")


def test_wrong_password_and_unknown_account_look_identical(
    client: falcon.testing.TestClient,
) -> None:
    client.simulate_post(REGISTER, json=body("cy@example.com"))
    wrong = client.simulate_post(
        SESSION, json={"email": "cy@example.com", "password": "nope nope nope"}
    )
    unknown = client.simulate_post(
        SESSION, json={"email": "zz@example.com", "password": "nope nope nope"}
    )
    for result in (wrong, unknown):
        assert result.status_code == 401
        assert problem_code(result) == "authentication_failed"
    assert wrong.json["detail"] == unknown.json["detail"]


def test_repeated_failures_are_throttled_with_retry_after(
    client: falcon.testing.TestClient,
) -> None:
    client.simulate_post(REGISTER, json=body("di@example.com"))
    statuses = [
        client.simulate_post(
            SESSION, json={"email": "di@example.com", "password": "guessing again"}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    throttled = client.simulate_post(
        SESSION, json={"email": "di@example.com", "password": PASSWORD}
    )
    assert throttled.status_code == 429
    assert problem_code(throttled) == "too_many_attempts"
    assert int(throttled.headers["retry-after"]) > 0


def test_a_malformed_authorization_header_is_401_not_anonymous(
    client: falcon.testing.TestClient,
) -> None:
    for header in ("Basic abc", "Bearer", "Bearer    "):
        result = client.simulate_get("/api/v1/categories", headers={"Authorization": header})
        assert result.status_code == 401, header


def test_password_reset_flow_over_http(
    client: falcon.testing.TestClient, mailer: MemoryMailer, platform: Platform
) -> None:
    client.simulate_post(REGISTER, json=body("ed@example.com"))
    for address in ("ed@example.com", "nobody@example.com"):
        asked = client.simulate_post("/api/v1/auth/password-reset", json={"email": address})
        assert asked.status_code == 202
    settle_events(platform)
    code = re.search(r"is:\s+(\S+)", mailer.sent[-1].body)
    assert code is not None
    done = client.simulate_post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": code.group(1), "password": "a fresh passphrase"},
    )
    assert done.status_code == 204
    login = client.simulate_post(
        SESSION, json={"email": "ed@example.com", "password": "a fresh passphrase"}
    )
    assert login.status_code == 201


def test_personal_tokens_are_created_listed_and_revoked(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    me = account(Role.CREATOR)
    made = client.simulate_post(
        "/api/v1/auth/tokens", headers=me.headers, json={"name": "ci", "expires_in_days": 30}
    )
    assert made.status_code == 201
    secret, token_id = made.json["token"], made.json["token_id"]
    listed = client.simulate_get("/api/v1/auth/tokens", headers=me.headers)
    assert [t["name"] for t in listed.json] == ["ci"]
    assert secret not in listed.text
    pat = {"Authorization": f"Bearer {secret}"}
    assert client.simulate_get("/api/v1/auth/me", headers=pat).status_code == 200
    other = account(Role.CREATOR)
    stolen = client.simulate_delete(f"/api/v1/auth/tokens/{token_id}", headers=other.headers)
    assert stolen.status_code == 404
    gone = client.simulate_delete(f"/api/v1/auth/tokens/{token_id}", headers=me.headers)
    assert gone.status_code == 204
    assert client.simulate_get("/api/v1/auth/me", headers=pat).status_code == 401


def test_a_token_lifetime_beyond_the_maximum_is_422(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    me = account(Role.CREATOR)
    result = client.simulate_post(
        "/api/v1/auth/tokens", headers=me.headers, json={"name": "x", "expires_in_days": 4000}
    )
    assert result.status_code == 422
