"""Two-factor login over HTTP: enrolment, login with a code, the problem codes a client
tells apart, and roles that may do nothing else until it is on."""

from __future__ import annotations

from datetime import timedelta

import attrs
import falcon.testing
import pyotp
import pytest

from tests.unit.conftest import CHEAP_ARGON2, PASSWORD
from tests.unit.http.conftest import Account, MakeAccount, problem_code
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.domain.users import Role
from videoplatform.entrypoints.settings import Settings

SESSION = "/api/v1/auth/session"
TWO_FACTOR = "/api/v1/auth/two-factor"


def turn_on(client: falcon.testing.TestClient, me: Account, clock: ManualClock) -> list[str]:
    """Two-factor login on for ``me``; the recovery codes. The clock moves past the
    code used."""
    begun = client.simulate_post(TWO_FACTOR, headers=me.headers, json={"password": PASSWORD})
    assert begun.status_code == 201, begun.text
    assert begun.headers["cache-control"] == "no-store"
    secret = begun.json["secret"]
    assert begun.json["uri"].startswith("otpauth://totp/")
    assert begun.json["qr_svg"].startswith("<svg")
    confirmed = client.simulate_post(
        f"{TWO_FACTOR}/confirm",
        headers=me.headers,
        json={"code": pyotp.TOTP(secret).at(clock.now())},
    )
    assert confirmed.status_code == 200, confirmed.text
    clock.advance(timedelta(seconds=30))
    me_now = client.simulate_get("/api/v1/auth/me", headers=me.headers).json
    assert me_now["two_factor"] is True
    codes: list[str] = confirmed.json["recovery_codes"]
    return [secret, *codes]


def login(
    client: falcon.testing.TestClient, me: Account, code: str | None = None
) -> falcon.testing.Result:
    body = {"email": me.email, "password": PASSWORD, **({"code": code} if code else {})}
    return client.simulate_post(SESSION, json=body)


def test_login_tells_a_missing_code_from_a_wrong_one(
    client: falcon.testing.TestClient, account: MakeAccount, clock: ManualClock
) -> None:
    me = account(Role.CREATOR)
    secret, *codes = turn_on(client, me, clock)

    missing = login(client, me)
    wrong = login(client, me, "123456")
    right = login(client, me, pyotp.TOTP(secret).at(clock.now()))
    recovery = login(client, me, codes[0])

    assert (missing.status_code, problem_code(missing)) == (401, "second_factor_required")
    assert (wrong.status_code, problem_code(wrong)) == (401, "second_factor_failed")
    assert right.status_code == 201 and recovery.status_code == 201
    bad_password = client.simulate_post(
        SESSION, json={"email": me.email, "password": "not the password", "code": "123456"}
    )
    assert problem_code(bad_password) == "authentication_failed"  # says nothing of a code


def test_turning_it_off_and_new_recovery_codes(
    client: falcon.testing.TestClient, account: MakeAccount, clock: ManualClock
) -> None:
    me = account(Role.CREATOR)
    _, *codes = turn_on(client, me, clock)

    fresh = client.simulate_post(
        f"{TWO_FACTOR}/recovery-codes", headers=me.headers, json={"password": PASSWORD}
    )
    assert fresh.status_code == 200 and len(fresh.json["recovery_codes"]) == 10
    wrong = client.simulate_post(
        f"{TWO_FACTOR}/disable", headers=me.headers, json={"password": PASSWORD, "code": codes[0]}
    )
    assert wrong.status_code == 422  # the old codes went with the new ones
    off = client.simulate_post(
        f"{TWO_FACTOR}/disable",
        headers=me.headers,
        json={"password": PASSWORD, "code": fresh.json["recovery_codes"][0]},
    )
    assert off.status_code == 204
    assert login(client, me).status_code == 201


def test_an_administrator_turns_it_off_for_someone(
    client: falcon.testing.TestClient, account: MakeAccount, clock: ManualClock
) -> None:
    me, admin, other = account(Role.CREATOR), account(Role.ADMIN), account(Role.CREATOR)
    turn_on(client, me, clock)
    reset = f"/api/v1/users/{me.user_id}/two-factor/reset"

    assert client.simulate_post(reset, headers=other.headers).status_code == 403
    assert client.simulate_post(reset, headers=admin.headers).status_code == 204
    assert login(client, me).status_code == 201


def test_the_document_marks_what_an_enrolling_session_may_use(
    client: falcon.testing.TestClient,
) -> None:
    document = client.simulate_get("/api/v1/openapi.json").json
    paths = document["paths"]
    marked = {
        (method.upper(), path)
        for path, item in paths.items()
        for method, operation in item.items()
        if operation.get("x-two-factor-enrolment")
    }
    assert marked == {
        ("GET", "/api/v1/auth/me"),
        ("DELETE", "/api/v1/auth/session"),
        ("POST", "/api/v1/auth/two-factor"),
        ("POST", "/api/v1/auth/two-factor/confirm"),
    }
    login_body = document["components"]["schemas"]["LoginBody"]
    assert {"type": "null"} in login_body["properties"]["code"]["anyOf"]
    assert "code" not in login_body.get("required", [])


class TestRequiredForAdministrators:
    @pytest.fixture
    def settings(self) -> Settings:
        return attrs.evolve(CHEAP_ARGON2, require_two_factor="admin")

    def test_an_administrator_may_only_turn_it_on_until_it_is_on(
        self, client: falcon.testing.TestClient, account: MakeAccount, clock: ManualClock
    ) -> None:
        admin = account(Role.ADMIN)

        refused = client.simulate_get("/api/v1/videos", headers=admin.headers)
        assert (refused.status_code, problem_code(refused)) == (403, "two_factor_required")
        listing = client.simulate_get("/api/v1/users", headers=admin.headers)
        assert problem_code(listing) == "two_factor_required"
        assert client.simulate_get("/api/v1/auth/me", headers=admin.headers).status_code == 200
        turn_on(client, admin, clock)

        # The same session may do everything now.
        assert client.simulate_get("/api/v1/users", headers=admin.headers).status_code == 200
        creator = account(Role.CREATOR)
        assert client.simulate_get("/api/v1/videos", headers=creator.headers).status_code == 200
