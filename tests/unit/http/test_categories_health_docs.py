"""Categories, health and the documentation pages."""

from __future__ import annotations

import falcon.testing

from tests.unit.http.conftest import MakeAccount, problem_code
from videoplatform.domain.users import Role


def test_admins_manage_categories_and_everyone_lists_them(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    admin, creator = account(Role.ADMIN), account(Role.CREATOR)
    made = client.simulate_post("/api/v1/categories", headers=admin.headers, json={"name": "Music"})
    assert made.status_code == 201
    assert made.headers["location"] == f"/api/v1/categories/{made.json['id']}"
    category_id = made.json["id"]
    assert (
        client.simulate_post(
            "/api/v1/categories", headers=admin.headers, json={"name": "music"}
        ).status_code
        == 409
    )
    denied = client.simulate_post("/api/v1/categories", headers=creator.headers, json={"name": "X"})
    assert denied.status_code == 403
    assert problem_code(denied) == "permission_denied"
    anonymous = client.simulate_post("/api/v1/categories", json={"name": "X"})
    assert anonymous.status_code == 401
    renamed = client.simulate_patch(
        f"/api/v1/categories/{category_id}", headers=admin.headers, json={"name": "Live Music"}
    )
    assert renamed.json["slug"] == "live-music"
    assert [c["name"] for c in client.simulate_get("/api/v1/categories").json] == ["Live Music"]
    assert (
        client.simulate_delete(
            f"/api/v1/categories/{category_id}", headers=admin.headers
        ).status_code
        == 204
    )
    missing = client.simulate_delete(f"/api/v1/categories/{category_id}", headers=admin.headers)
    assert missing.status_code == 404


def test_liveness_and_readiness(client: falcon.testing.TestClient) -> None:
    assert client.simulate_get("/health/live").json == {"status": "ok"}
    ready = client.simulate_get("/health/ready")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": "ok", "storage": "ok"}


def test_readiness_names_the_dependency_that_is_down(
    client: falcon.testing.TestClient, storage: object
) -> None:
    def broken(key: str) -> bool:
        raise OSError("disk gone")

    storage.exists = broken  # type: ignore[attr-defined]
    result = client.simulate_get("/health/ready")
    assert result.status_code == 503
    assert problem_code(result) == "not_ready"
    assert result.json["checks"]["database"] == "ok"
    assert result.json["checks"]["storage"].startswith("unavailable")


def test_swagger_ui_is_served_offline_from_this_origin(client: falcon.testing.TestClient) -> None:
    page = client.simulate_get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.simulate_get(f"/docs/assets/{asset}").status_code == 200
    assert "/api/v1/openapi.json" in client.simulate_get("/docs/init.js").text
