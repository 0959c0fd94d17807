"""Fixtures for the HTTP API tests: ``create_app`` over a memory platform, driven with
``falcon.testing``, plus helpers to make users and hold their bearer tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon.testing
import pytest
from attrs import frozen

from tests.unit.conftest import PASSWORD
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app


@pytest.fixture
def http_options() -> HttpOptions:
    return HttpOptions()


@pytest.fixture
def client(platform: Platform, http_options: HttpOptions) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(platform, http_options))


@frozen
class Account:
    user_id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeAccount = Callable[..., Account]


@pytest.fixture
def account(platform: Platform, client: falcon.testing.TestClient) -> MakeAccount:
    """``account(Role.CREATOR)``: a user with that role, logged in over HTTP."""
    counter = iter(range(1, 1_000_000))
    root: list[str] = []

    def make(role: Role = Role.CREATOR, email: str | None = None) -> Account:
        from videoplatform.application.context import Caller
        from videoplatform.application.users import RegisterUser

        n = next(counter)
        address = email or f"member{n}@example.com"
        if role is Role.ADMIN:
            user = platform.users.create_admin(RegisterUser(address, PASSWORD, f"Admin {n}"))
        else:
            user = platform.users.register(RegisterUser(address, PASSWORD, f"Member {n}"))
            if role is not Role.CREATOR:
                if not root:
                    admin = platform.users.create_admin(
                        RegisterUser("root-http@example.com", PASSWORD, "Root")
                    )
                    root.append(admin.id)
                platform.users.change_roles(Caller(root[0]), user.id, [role.value])  # type: ignore[arg-type]
        result = client.simulate_post(
            "/api/v1/auth/session", json={"email": address, "password": PASSWORD}
        )
        assert result.status_code == 201, result.text
        return Account(user.id, address, result.json["token"])

    return make


def problem_code(result: Any) -> str:
    """The stable code of a problem+json response (asserting it is one)."""
    assert result.headers["content-type"] == "application/problem+json", result.text
    code: str = result.json["code"]
    return code
