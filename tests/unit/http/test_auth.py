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


TOKENS = "/api/v1/auth/tokens"


def make_token(
    client: falcon.testing.TestClient, headers: dict[str, str], **body: object
) -> falcon.testing.Result:
    return client.simulate_post(TOKENS, headers=headers, json={"name": "t", **body})


def bearer(made: falcon.testing.Result) -> dict[str, str]:
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json['token']}"}


def test_a_token_is_refused_every_operation_outside_its_scopes_before_its_input(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    admin = account(Role.ADMIN)
    reader = bearer(make_token(client, admin.headers, scopes=["read"]))
    uploader = bearer(make_token(client, admin.headers, scopes=["upload"]))

    assert client.simulate_get("/api/v1/auth/me", headers=reader).status_code == 200
    assert client.simulate_get("/api/v1/videos", headers=reader).status_code == 200
    # Refused before the body is looked at: no body at all is still a 403.
    for method, path in (
        ("PATCH", "/api/v1/auth/me"),
        ("POST", TOKENS),
        ("POST", "/api/v1/categories"),
        ("GET", "/api/v1/audit"),
        ("POST", "/api/v1/uploads"),
        ("DELETE", "/api/v1/videos/v-missing"),
    ):
        refused = client.simulate_request(method, path, headers=reader)
        assert refused.status_code == 403, (method, path)
        assert problem_code(refused) == "insufficient_scope"
    assert problem_code(client.simulate_get("/api/v1/auth/me", headers=uploader)) == (
        "insufficient_scope"
    )
    assert client.simulate_get("/api/v1/audit", headers=admin.headers).status_code == 200
    listed = client.simulate_get(TOKENS, headers=admin.headers).json
    assert sorted(t["scopes"] for t in listed) == [["read"], ["upload"]]


def test_scopes_narrow_and_never_widen_what_a_user_may_do(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    creator = account(Role.CREATOR)
    admin_scoped = bearer(make_token(client, creator.headers, scopes=["admin", "read"]))

    audit = client.simulate_get("/api/v1/audit", headers=admin_scoped)
    assert audit.status_code == 403
    assert problem_code(audit) == "permission_denied"


def test_a_token_mints_only_narrower_tokens_that_die_with_it(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    me = account(Role.CREATOR)
    made = make_token(client, me.headers, scopes=["read", "write"], expires_in_days=5)
    parent = bearer(made)

    wider = make_token(client, parent, scopes=["upload"])
    longer = make_token(client, parent, expires_in_days=6)
    child = make_token(client, parent, scopes=["read"])

    assert (wider.status_code, problem_code(wider)) == (403, "permission_denied")
    assert longer.status_code == 422
    assert child.json["expires_at"] == made.json["expires_at"]
    child_headers = bearer(child)
    assert client.simulate_get("/api/v1/auth/me", headers=child_headers).status_code == 200
    gone = client.simulate_delete(f"{TOKENS}/{made.json['token_id']}", headers=me.headers)
    assert gone.status_code == 204
    assert client.simulate_get("/api/v1/auth/me", headers=child_headers).status_code == 401


def test_a_scoped_token_cannot_be_used_on_the_site_nor_as_its_cookie(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    me = account(Role.CREATOR)
    reader = make_token(client, me.headers, scopes=["read"])
    full = bearer(make_token(client, me.headers))

    page = client.simulate_get("/account/tokens", headers=bearer(reader))
    assert page.status_code == 403
    assert client.simulate_get("/account/tokens", headers=full).status_code == 200
    # In the session cookie, a personal token signs nobody in.
    cookie = {"Cookie": f"vp_session={reader.json['token']}"}
    assert client.simulate_get("/api/v1/auth/me", headers=cookie).status_code == 401
    assert client.simulate_get("/account/tokens", headers=cookie).status_code == 303


def test_the_openapi_document_names_each_operations_scope(
    client: falcon.testing.TestClient,
) -> None:
    document = client.simulate_get("/api/v1/openapi.json").json
    paths = document["paths"]

    assert paths["/api/v1/videos"]["get"]["security"] == [{"bearer": ["read"]}, {}]
    assert paths["/api/v1/videos"]["post"]["security"] == [{"bearer": ["upload"]}]
    assert paths["/api/v1/audit"]["get"]["x-token-scope"] == "admin"
    assert paths["/api/v1/videos/{video_id}"]["patch"]["x-token-scope"] == "write"
    assert "403" in paths["/api/v1/auth/me"]["get"]["responses"]
    for item in paths.values():
        for operation in item.values():
            if operation.get("security"):
                assert operation["x-token-scope"] in ("read", "write", "upload", "admin")


def test_a_token_lifetime_beyond_the_maximum_is_422(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    me = account(Role.CREATOR)
    result = client.simulate_post(
        "/api/v1/auth/tokens", headers=me.headers, json={"name": "x", "expires_in_days": 4000}
    )
    assert result.status_code == 422


def test_an_account_moves_to_a_new_address_with_the_code_mailed_there(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    mailer: MemoryMailer,
    platform: Platform,
) -> None:
    me = account(Role.CREATOR)
    wrong = client.simulate_post(
        "/api/v1/auth/email",
        headers=me.headers,
        json={"email": "moved@example.com", "password": "not my password"},
    )
    assert wrong.status_code == 422
    asked = client.simulate_post(
        "/api/v1/auth/email",
        headers=me.headers,
        json={"email": "moved@example.com", "password": PASSWORD},
    )
    assert asked.status_code == 202, asked.text
    settle_events(platform)
    [mail] = [m for m in mailer.sent if m.to == "moved@example.com"]
    code = re.search(r"^([A-Za-z0-9_-]{22,})$", mail.body, re.MULTILINE)
    assert code is not None
    moved = client.simulate_post("/api/v1/auth/email/confirm", json={"token": code.group(1)})
    assert moved.status_code == 200 and moved.json["email"] == "moved@example.com"
    assert client.simulate_get("/api/v1/auth/me", headers=me.headers).json["email"] == (
        "moved@example.com"
    )


def test_an_archive_is_asked_for_followed_and_downloaded_once(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    me, other = account(Role.CREATOR), account(Role.CREATOR)
    asked = client.simulate_post("/api/v1/me/exports", headers=me.headers)
    assert asked.status_code == 202, asked.text
    state_url = f"/api/v1/me/exports/{asked.json['id']}"
    early = client.simulate_get(asked.json["download_url"])
    assert (early.status_code, problem_code(early)) == (409, "conflict")
    assert client.simulate_get(state_url, headers=other.headers).status_code == 404
    settle_events(platform)
    assert client.simulate_get(state_url, headers=me.headers).json["status"] == "ready"
    got = client.simulate_get(asked.json["download_url"])
    assert got.status_code == 200 and got.json["profile"]["email"] == me.email
    assert client.simulate_get(asked.json["download_url"]).status_code == 404
    assert client.simulate_get(state_url, headers=me.headers).json["status"] == "downloaded"
