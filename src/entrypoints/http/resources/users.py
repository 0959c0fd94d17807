"""User administration: list, read, change roles, disable, enable (administrators; anyone may
read their own account)."""

from __future__ import annotations

from typing import Literal

import falcon
from attrs import field, frozen

from videoplatform.application.users import UserService
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.convert import read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Reply, Route
from videoplatform.entrypoints.http.resources.account_deletion import ACCOUNT_GONE
from videoplatform.entrypoints.http.resources.common import (
    API,
    CURSOR,
    CURSOR_LENGTH,
    LIMIT,
    HttpContext,
    no_content,
    query_int,
    query_str,
    reply,
)
from videoplatform.entrypoints.http.views import UserView

RoleName = Literal["viewer", "creator", "moderator", "admin"]


@frozen
class RolesBody:
    roles: list[RoleName] = field(
        metadata={"doc": "the complete new set (at least one)", "schema": {"minItems": 1}}
    )


@frozen
class UserPage:
    """One page of users, oldest account first."""

    items: list[UserView]
    next_cursor: str | None = field(
        default=None, metadata={"doc": "pass as cursor for the next page; null on the last"}
    )


class Users:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = self._users.list(
            caller_of(req), query_str(req, "cursor", CURSOR_LENGTH), query_int(req, "limit")
        )
        reply(resp, UserPage([UserView.of(u) for u in page.items], page.next_cursor))


class UserItem:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_get(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        reply(resp, UserView.of(self._users.get(caller_of(req), UserId(user_id))))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        self._users.delete_user(caller_of(req), UserId(user_id))
        no_content(resp)


class UserRoles:
    def __init__(self, json_limit: int, users: UserService) -> None:
        self._json_limit = json_limit
        self._users = users

    def on_put(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        # 403 before a 422 on the body.
        self._users.ensure_manager(caller_of(req), UserId(user_id))
        body = read_json(req, RolesBody, self._json_limit)
        changed = self._users.change_roles(caller_of(req), UserId(user_id), body.roles)
        reply(resp, UserView.of(changed))


class UserDisable:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        disabled = self._users.disable(caller_of(req), UserId(user_id))
        reply(resp, UserView.of(disabled))


class UserEnable:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        enabled = self._users.enable(caller_of(req), UserId(user_id))
        reply(resp, UserView.of(enabled))


def routes(c: HttpContext) -> list[Route]:
    tag = "users"
    return [
        Route(
            f"{API}/users",
            Users(c.platform.users),
            (
                Operation(
                    "GET",
                    "List users",
                    tag,
                    (Reply(200, "A page of users, oldest first", UserPage),),
                    params=(CURSOR, LIMIT),
                    auth="required",
                    errors=(403, 422),
                    description="Administrators only; refusals are audited.",
                    scope=Scope.ADMIN,
                ),
            ),
        ),
        Route(
            f"{API}/users/{{user_id}}",
            UserItem(c.platform.users),
            (
                Operation(
                    "GET",
                    "Get a user",
                    tag,
                    (Reply(200, "The account", UserView),),
                    auth="required",
                    errors=(404,),
                    description=(
                        "Your own account, or anyone's for an administrator. Another "
                        "user's account is reported as missing (404), not forbidden."
                    ),
                    scope=Scope.ADMIN,
                ),
                Operation(
                    "DELETE",
                    "Delete a user",
                    tag,
                    (Reply(204, "Deleted"),),
                    auth="required",
                    errors=(403, 404, 409),
                    scope=Scope.ADMIN,
                    description="Administrators; not their own account (409: that is POST "
                    "/auth/me/delete). " + ACCOUNT_GONE,
                ),
            ),
        ),
        Route(
            f"{API}/users/{{user_id}}/roles",
            UserRoles(c.json_limit, c.platform.users),
            (
                Operation(
                    "PUT",
                    "Replace roles",
                    tag,
                    (Reply(200, "The account with its new roles", UserView),),
                    body=Body(RolesBody),
                    auth="required",
                    errors=(403, 404, 409),
                    description=(
                        "Administrators only. The last active administrator cannot lose "
                        "the admin role (409 last_admin)."
                    ),
                    scope=Scope.ADMIN,
                ),
            ),
        ),
        Route(
            f"{API}/users/{{user_id}}/disable",
            UserDisable(c.platform.users),
            (
                Operation(
                    "POST",
                    "Disable a user",
                    tag,
                    (Reply(200, "The disabled account", UserView),),
                    auth="required",
                    errors=(403, 404, 409),
                    description=(
                        "Administrators only. Every session and API token of the account "
                        "is revoked at once, and everything it owns disappears for all but "
                        "moderators: its videos from lists, reads and playback (URLs "
                        "already issued included), its share links and downloads. Nothing "
                        "is deleted: enabling the account brings it back. The last active "
                        "administrator cannot be disabled (409 last_admin)."
                    ),
                    scope=Scope.ADMIN,
                ),
            ),
        ),
        Route(
            f"{API}/users/{{user_id}}/enable",
            UserEnable(c.platform.users),
            (
                Operation(
                    "POST",
                    "Enable a disabled user",
                    tag,
                    (Reply(200, "The enabled account", UserView),),
                    auth="required",
                    errors=(403, 404, 409),
                    description=(
                        "Administrators only. The account may log in again (its old "
                        "sessions and tokens stay revoked), and its videos and share links "
                        "are back as they were. An account that is not disabled is a 409 "
                        "invalid_transition."
                    ),
                    scope=Scope.ADMIN,
                ),
            ),
        ),
    ]
