"""Deleting one's own account over HTTP (the password again, and a code where
two-factor login is on); an administrator deletes someone's with DELETE /users/{id}."""

from __future__ import annotations

import falcon
from attrs import field, frozen

from videoplatform.application.users import UserService
from videoplatform.domain.users import MAX_PASSWORD_LENGTH
from videoplatform.entrypoints.http.convert import read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Reply, Route
from videoplatform.entrypoints.http.resources.common import API, HttpContext, no_content


@frozen
class DeletionBody:
    password: str = field(
        metadata={"doc": "your password, again", "schema": {"maxLength": MAX_PASSWORD_LENGTH}}
    )
    code: str = field(
        default="",
        metadata={
            "doc": "where two-factor login is on: a code of your app, or a recovery code",
            "schema": {"maxLength": 64},
        },
    )


ACCOUNT_GONE = (
    "Its videos, files, share links, uploads in progress and tokens go with it, and "
    "their bytes; the audit trail keeps its events (their actor an id that names nobody "
    "any more). 409 for the last active administrator."
)


class OwnDeletion:
    def __init__(self, users: UserService, json_limit: int) -> None:
        self._users, self._json_limit = users, json_limit

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, DeletionBody, self._json_limit)
        self._users.delete_account(caller_of(req), body.password, body.code)
        no_content(resp)


def routes(c: HttpContext) -> list[Route]:
    users = c.platform.users
    return [
        Route(
            f"{API}/auth/me/delete",
            OwnDeletion(users, c.json_limit),
            (
                Operation(
                    "POST",
                    "Delete your account",
                    "auth",
                    (Reply(204, "Deleted: every token of the account is dead"),),
                    body=Body(DeletionBody),
                    auth="required",
                    errors=(409, 422, 429),
                    description="The password again (422 on `password`), and where "
                    "two-factor login is on a code (422 on `code`). " + ACCOUNT_GONE,
                ),
            ),
        ),
    ]
