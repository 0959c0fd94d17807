"""User administration over HTTP: list, read, change roles, disable."""

from __future__ import annotations

from typing import Any

import falcon.testing
import pytest

from tests.unit.conftest import PASSWORD
from tests.unit.http.conftest import MakeAccount, problem_code
from tests.unit.http.documented import Documented
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform

USERS = "/api/v1/users"
MISSING = "01JZZZZZZZZZZZZZZZZZZZZZZZ"


# -- list --------------------------------------------------------------------------------


def test_admin_lists_every_user_a_page_at_a_time(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    admin = account(Role.ADMIN)
    members = [account() for _ in range(4)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        result = client.simulate_get(USERS, params=params, headers=admin.headers)
        assert result.status_code == 200, result.text
        assert len(result.json["items"]) <= 2
        seen += [u["id"] for u in result.json["items"]]
        pages += 1
        cursor = result.json["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == {admin.user_id, *(m.user_id for m in members)}
    first = client.simulate_get(USERS, headers=admin.headers).json["items"][0]
    assert set(first) == {
        "id",
        "email",
        "display_name",
        "roles",
        "status",
        "created_at",
        "default_visibility",
        "two_factor",
        "bio",
        "mail_on_processing",
        "avatar_url",
    }
    assert "password" not in client.simulate_get(USERS, headers=admin.headers).text


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CREATOR, Role.MODERATOR])
def test_only_administrators_list_users(
    client: falcon.testing.TestClient, account: MakeAccount, role: Role
) -> None:
    result = client.simulate_get(USERS, headers=account(role).headers)

    assert result.status_code == 403
    assert problem_code(result) == "permission_denied"


def test_listing_users_needs_a_token(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get(USERS)

    assert result.status_code == 401
    assert problem_code(result) == "authentication_failed"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "ten"}, "limit"), ({"cursor": "garbage!"}, "cursor")],
)
def test_bad_paging_is_unprocessable(
    client: falcon.testing.TestClient, account: MakeAccount, params: dict[str, str], field: str
) -> None:
    result = client.simulate_get(USERS, params=params, headers=account(Role.ADMIN).headers)

    assert result.status_code == 422
    assert [e["field"] for e in result.json["errors"]] == [field]


# -- read --------------------------------------------------------------------------------


def test_users_read_themselves_and_admins_read_anyone(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    admin, member = account(Role.ADMIN), account()

    mine = client.simulate_get(f"{USERS}/{member.user_id}", headers=member.headers)
    theirs = client.simulate_get(f"{USERS}/{member.user_id}", headers=admin.headers)

    assert mine.status_code == theirs.status_code == 200
    assert mine.json == theirs.json
    assert mine.json["email"] == member.email
    assert mine.json["roles"] == ["creator"]


def test_another_users_account_is_not_found_not_forbidden(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    member, other = account(), account()

    hidden = client.simulate_get(f"{USERS}/{other.user_id}", headers=member.headers)
    missing = client.simulate_get(f"{USERS}/{MISSING}", headers=member.headers)

    assert hidden.status_code == missing.status_code == 404
    assert problem_code(hidden) == problem_code(missing) == "not_found"


def test_reading_a_missing_user_is_not_found_for_admins(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    result = client.simulate_get(f"{USERS}/{MISSING}", headers=account(Role.ADMIN).headers)

    assert result.status_code == 404


def test_reading_a_user_needs_a_token(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    assert client.simulate_get(f"{USERS}/{account().user_id}").status_code == 401


# -- roles -------------------------------------------------------------------------------


def test_admin_replaces_roles(client: falcon.testing.TestClient, account: MakeAccount) -> None:
    admin, member = account(Role.ADMIN), account()

    result = client.simulate_put(
        f"{USERS}/{member.user_id}/roles",
        json={"roles": ["moderator", "creator"]},
        headers=admin.headers,
    )

    assert result.status_code == 200, result.text
    assert result.json["roles"] == ["creator", "moderator"]
    # The new role counts on the very next request.
    assert client.simulate_get("/api/v1/audit", headers=member.headers).status_code == 200


def test_only_administrators_change_roles(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    moderator, member = account(Role.MODERATOR), account()

    result = client.simulate_put(
        f"{USERS}/{member.user_id}/roles", json={"roles": ["admin"]}, headers=moderator.headers
    )

    assert result.status_code == 403
    assert problem_code(result) == "permission_denied"
    assert (
        client.simulate_put(
            f"{USERS}/{member.user_id}/roles", json={"roles": ["admin"]}
        ).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"roles": ["emperor"]}, "roles.0"),
        ({"roles": []}, "roles"),
        ({}, "roles"),
        ({"roles": ["admin"], "extra": 1}, "extra"),
    ],
)
def test_invalid_roles_are_unprocessable(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    body: dict[str, object],
    field: str,
) -> None:
    admin, member = account(Role.ADMIN), account()

    result = client.simulate_put(
        f"{USERS}/{member.user_id}/roles", json=body, headers=admin.headers
    )

    assert result.status_code == 422
    assert field in [e["field"] for e in result.json["errors"]]


def test_changing_roles_of_a_missing_user_is_not_found(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    result = client.simulate_put(
        f"{USERS}/{MISSING}/roles", json={"roles": ["viewer"]}, headers=account(Role.ADMIN).headers
    )

    assert result.status_code == 404


def test_the_last_administrator_keeps_the_role(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    admin = account(Role.ADMIN)

    result = client.simulate_put(
        f"{USERS}/{admin.user_id}/roles", json={"roles": ["creator"]}, headers=admin.headers
    )

    assert result.status_code == 409
    assert problem_code(result) == "last_admin"
    again = client.simulate_get(f"{USERS}/{admin.user_id}", headers=admin.headers)
    assert again.json["roles"] == ["admin"]


# -- disable -----------------------------------------------------------------------------


def test_disabling_revokes_the_users_tokens_at_once(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    admin, member = account(Role.ADMIN), account()
    assert client.simulate_get("/api/v1/auth/me", headers=member.headers).status_code == 200

    result = client.simulate_post(f"{USERS}/{member.user_id}/disable", headers=admin.headers)

    assert result.status_code == 200, result.text
    assert result.json["status"] == "disabled"
    refused = client.simulate_get("/api/v1/auth/me", headers=member.headers)
    assert refused.status_code == 401
    assert problem_code(refused) == "authentication_failed"
    assert refused.headers["www-authenticate"].startswith("Bearer")
    events = platform.audit.search(
        Caller(UserId(admin.user_id)), AuditFilter(action=AuditAction.USER_DISABLE)
    ).items
    assert [(e.resource_id, e.result) for e in events] == [(member.user_id, AuditResult.SUCCESS)]
    assert events[0].metadata["tokens_revoked"] == "1"


def test_only_administrators_disable_users(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    moderator, member = account(Role.MODERATOR), account()

    forbidden = client.simulate_post(f"{USERS}/{member.user_id}/disable", headers=moderator.headers)
    anonymous = client.simulate_post(f"{USERS}/{member.user_id}/disable")

    assert forbidden.status_code == 403
    assert anonymous.status_code == 401
    assert client.simulate_get("/api/v1/auth/me", headers=member.headers).status_code == 200


def test_disabling_a_missing_user_is_not_found(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    result = client.simulate_post(f"{USERS}/{MISSING}/disable", headers=account(Role.ADMIN).headers)

    assert result.status_code == 404


def test_the_last_administrator_cannot_be_disabled(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    admin = account(Role.ADMIN)

    result = client.simulate_post(f"{USERS}/{admin.user_id}/disable", headers=admin.headers)

    assert result.status_code == 409
    assert problem_code(result) == "last_admin"
    assert client.simulate_get("/api/v1/auth/me", headers=admin.headers).status_code == 200


def test_every_reply_matches_the_published_document(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    admin, member = account(Role.ADMIN), account()
    roles = f"{USERS}/{member.user_id}/roles"
    calls: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", USERS, {"headers": admin.headers}, 200),
        ("GET", USERS, {"headers": member.headers}, 403),
        ("GET", USERS, {}, 401),
        ("GET", USERS, {"headers": admin.headers, "params": {"limit": "0"}}, 422),
        ("GET", f"{USERS}/{member.user_id}", {"headers": member.headers}, 200),
        ("GET", f"{USERS}/{admin.user_id}", {"headers": member.headers}, 404),
        ("PUT", roles, {"headers": admin.headers, "json": {"roles": ["viewer"]}}, 200),
        ("PUT", roles, {"headers": admin.headers, "json": {"roles": ["x"]}}, 422),
        ("PUT", roles, {"headers": member.headers, "json": {"roles": ["admin"]}}, 403),
        (
            "PUT",
            f"{USERS}/{admin.user_id}/roles",
            {"headers": admin.headers, "json": {"roles": ["viewer"]}},
            409,
        ),
        ("POST", f"{USERS}/{MISSING}/disable", {"headers": admin.headers}, 404),
        ("POST", f"{USERS}/{member.user_id}/disable", {"headers": admin.headers}, 200),
    ]
    for method, path, kwargs, expected in calls:
        result = client.simulate_request(method, path, **kwargs)
        assert result.status_code == expected, (method, path, result.text)
        media = result.headers.get("content-type", "").split(";")[0]
        docs.check(method, path, result.status_code, result.json, media)


def test_an_account_is_deleted_by_its_owner_or_an_administrator(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    me, other, admin = account(Role.CREATOR), account(Role.CREATOR), account(Role.ADMIN)

    wrong = client.simulate_post(
        "/api/v1/auth/me/delete", headers=me.headers, json={"password": "not it"}
    )
    assert wrong.status_code == 422
    gone = client.simulate_post(
        "/api/v1/auth/me/delete", headers=me.headers, json={"password": PASSWORD}
    )
    assert gone.status_code == 204
    assert client.simulate_get("/api/v1/auth/me", headers=me.headers).status_code == 401

    refused = client.simulate_delete(f"{USERS}/{other.user_id}", headers=other.headers)
    assert refused.status_code == 403
    assert (
        client.simulate_delete(f"{USERS}/{other.user_id}", headers=admin.headers).status_code == 204
    )
    assert client.simulate_get("/api/v1/auth/me", headers=other.headers).status_code == 401
    assert (
        client.simulate_delete(f"{USERS}/{other.user_id}", headers=admin.headers).status_code == 404
    )
    own = client.simulate_delete(f"{USERS}/{admin.user_id}", headers=admin.headers)
    assert own.status_code == 409


def test_an_avatar_is_set_shown_to_anyone_cached_and_removed(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    me = account(Role.CREATOR)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    wrong = client.simulate_put(
        "/api/v1/auth/me/avatar",
        headers={**me.headers, "Content-Type": "image/png"},
        body=b"GIF89a not a png at all",
    )
    assert (wrong.status_code, problem_code(wrong)) == (415, "unsupported_media_type")
    made = client.simulate_put(
        "/api/v1/auth/me/avatar", headers={**me.headers, "Content-Type": "image/png"}, body=png
    )
    assert made.status_code == 200, made.text
    url = made.json["avatar_url"]
    shown = client.simulate_get(url)  # no login needed
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
    assert "public" in shown.headers["cache-control"]
    again = client.simulate_get(url, headers={"If-None-Match": shown.headers["etag"]})
    assert again.status_code == 304
    assert client.simulate_get(url + "&size=small").status_code == 200
    assert client.simulate_get(url + "&size=huge").status_code == 422
    gone = client.simulate_delete("/api/v1/auth/me/avatar", headers=me.headers)
    assert gone.status_code == 200 and gone.json["avatar_url"] is None
    assert client.simulate_get(url).status_code == 404
