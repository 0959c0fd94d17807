"""GET /health/startup (public: names and ok/failed) and GET /health/detailed (for an
administrator or a bearer of the metrics token; 404 for anyone else), answered and
documented as the OpenAPI document says."""

from __future__ import annotations

from typing import Any

import falcon.testing
import pytest

from tests.unit.http.conftest import MakeAccount, problem_code
from tests.unit.http.documented import Documented
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWork, MemoryUnitOfWorkFactory
from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.mail import Mailer
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app

TOKEN = "an-operators-token-of-some-length"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
Client = falcon.testing.TestClient


class SwitchableDatabase(MemoryUnitOfWorkFactory):
    """A memory database that a test can take down (every unit of work refused)."""

    down = False

    def __call__(self) -> MemoryUnitOfWork:
        if self.down:
            raise Unavailable("database", "connection refused")
        return super().__call__()


@pytest.fixture
def uow_factory() -> SwitchableDatabase:
    return SwitchableDatabase()


@pytest.fixture
def http_options() -> HttpOptions:
    return HttpOptions(metrics_token=TOKEN)


@pytest.fixture
def documented(client: Client) -> Documented:
    document: dict[str, Any] = client.simulate_get("/api/v1/openapi.json").json
    return Documented(document)


def checked(documented: Documented, result: Any, path: str) -> Any:
    """``result``, after checking it against the document."""
    media = result.headers.get("content-type", "").split(";")[0]
    documented.check("GET", path, result.status_code, result.json, media)
    return result.json


# -- startup -----------------------------------------------------------------------------


def test_startup_passes_on_a_working_platform(client: Client, documented: Documented) -> None:
    result = client.simulate_get("/health/startup")
    assert result.status_code == 200
    body = checked(documented, result, "/health/startup")
    assert body == {"status": "ok", "checks": {"migrations": "ok", "storage": "ok", "ffmpeg": "ok"}}
    assert result.headers["cache-control"] == "no-store"


def test_startup_names_a_failed_check_and_nothing_more(
    client: Client,
    documented: Documented,
    storage: MemoryObjectStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(key: str, stream: object) -> None:
        raise PermissionError("read-only file system at /srv/objects")

    monkeypatch.setattr(storage, "put", refused)
    result = client.simulate_get("/health/startup")
    assert result.status_code == 503
    assert problem_code(result) == "not_started"
    body = checked(documented, result, "/health/startup")
    assert body["checks"] == {"migrations": "ok", "storage": "failed", "ffmpeg": "ok"}
    assert body["detail"] == "failed: storage"
    assert "read-only" not in result.text and "/srv" not in result.text


# -- who gets the detailed report --------------------------------------------------------


def test_an_administrator_and_the_metrics_token_get_the_detailed_report(
    client: Client, account: MakeAccount, documented: Documented
) -> None:
    for headers in (account(Role.ADMIN).headers, OPERATOR):
        result = client.simulate_get("/health/detailed", headers=headers)
        assert result.status_code == 200, result.text
        body = checked(documented, result, "/health/detailed")
        assert body["status"] == "ok"
        assert set(body["components"]) == {
            "database",
            "storage",
            "queue",
            "cache",
            "feed",
            "mail",
            "ffmpeg",
            "data_disk",
            "work_disk",
        }
        assert body["components"]["database"]["required"] is True
        assert body["components"]["database"]["message"] == "answered"
        assert result.headers["cache-control"] == "no-store"


def test_anyone_else_is_told_there_is_nothing_here(client: Client, account: MakeAccount) -> None:
    refused = [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {TOKEN[:-1]}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        account(Role.MODERATOR).headers,
        account(Role.CREATOR).headers,
        account(Role.VIEWER).headers,
    ]
    for headers in refused:
        result = client.simulate_get("/health/detailed", headers=headers)
        assert result.status_code == 404, (headers, result.text)
        assert problem_code(result) == "route_not_found"
        assert "database" not in result.text


def test_without_a_metrics_token_configured_no_bearer_passes_for_one(
    platform: Platform, account: MakeAccount
) -> None:
    plain = falcon.testing.TestClient(create_app(platform, HttpOptions()))
    for headers in ({"Authorization": "Bearer "}, {"Authorization": "Bearer"}, OPERATOR):
        assert plain.simulate_get("/health/detailed", headers=headers).status_code == 404
    admin = account(Role.ADMIN)
    assert plain.simulate_get("/health/detailed", headers=admin.headers).status_code == 200


# -- what the detailed report says -------------------------------------------------------


def test_a_required_component_down_is_a_503_with_the_report(
    client: Client, documented: Documented, uow_factory: SwitchableDatabase
) -> None:
    uow_factory.down = True
    # The operator's token is checked before anything asks the database.
    result = client.simulate_get("/health/detailed", headers=OPERATOR)
    assert result.status_code == 503
    assert problem_code(result) == "unhealthy"
    body = checked(documented, result, "/health/detailed")
    assert body["detail"] == "down: database"
    database = body["components"]["database"]
    assert (database["status"], database["message"]) == ("down", "connection refused")
    assert body["components"]["storage"]["status"] == "ok"


def test_an_optional_component_down_is_a_200_degraded(
    client: Client, documented: Documented, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused() -> None:
        raise Unavailable("mail", "the server refused the connection")

    mailer: Mailer = platform.container.resolve(Mailer)
    monkeypatch.setattr(mailer, "ping", refused)
    result = client.simulate_get("/health/detailed", headers=OPERATOR)
    assert result.status_code == 200
    body = checked(documented, result, "/health/detailed")
    assert body["status"] == "degraded"
    assert body["components"]["mail"] == {
        "status": "down",
        "required": False,
        "latency_ms": body["components"]["mail"]["latency_ms"],
        "message": "the server refused the connection",
    }


def test_an_administrators_token_without_the_admin_scope_gets_no_report(
    client: Client, account: MakeAccount
) -> None:
    admin = account(Role.ADMIN)
    made = client.simulate_post(
        "/api/v1/auth/tokens", headers=admin.headers, json={"name": "r", "scopes": ["read"]}
    )
    reader = {"Authorization": f"Bearer {made.json['token']}"}

    assert client.simulate_get("/health/detailed", headers=reader).status_code == 404
    assert client.simulate_get("/health/detailed", headers=admin.headers).status_code == 200


def test_an_administrators_token_cannot_be_checked_while_the_database_is_down(
    client: Client, account: MakeAccount, uow_factory: SwitchableDatabase
) -> None:
    admin = account(Role.ADMIN)
    uow_factory.down = True
    result = client.simulate_get("/health/detailed", headers=admin.headers)
    assert result.status_code == 503
    assert problem_code(result) == "database_unavailable"  # who asks cannot be known


def test_the_document_describes_both_routes(documented: Documented) -> None:
    paths = documented.document["paths"]
    startup, detailed = paths["/health/startup"]["get"], paths["/health/detailed"]["get"]
    assert "security" not in startup
    assert detailed["security"] == [{"bearer": ["admin"]}, {}]
    assert "not_started" in startup["responses"]["503"]["description"]
    assert "unhealthy" in detailed["responses"]["503"]["description"]
    assert "404" in detailed["responses"]
    assert "VIDEOPLATFORM_METRICS_TOKEN" in detailed["description"]
    ready = paths["/health/ready"]["get"]
    assert "checks" in ready["responses"]["503"]["description"]
