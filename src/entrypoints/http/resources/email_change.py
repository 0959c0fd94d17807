"""Moving an account to another address over HTTP: asked with the password, confirmed
with the code mailed to the new address."""

from __future__ import annotations

import falcon
from attrs import field, frozen

from videoplatform.application.users import UserService
from videoplatform.domain.users import MAX_PASSWORD_LENGTH
from videoplatform.entrypoints.http.convert import read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Reply, Route
from videoplatform.entrypoints.http.resources.auth import Accepted, VerifyBody, email_rules
from videoplatform.entrypoints.http.resources.common import API, HttpContext, reply
from videoplatform.entrypoints.http.views import UserView

MAILED = Accepted(
    "accepted",
    "a code was mailed to the new address (or, where another account has it, a notice)",
)


@frozen
class EmailChangeBody:
    email: str = field(metadata={"doc": "the new address", "schema": lambda: email_rules()})
    password: str = field(
        metadata={"doc": "your password, again", "schema": {"maxLength": MAX_PASSWORD_LENGTH}}
    )


class Request:
    def __init__(self, users: UserService, json_limit: int) -> None:
        self._users, self._json_limit = users, json_limit

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, EmailChangeBody, self._json_limit)
        self._users.request_email_change(caller_of(req), body.password, body.email)
        reply(resp, MAILED, 202)


class Confirm:
    def __init__(self, users: UserService, json_limit: int) -> None:
        self._users, self._json_limit = users, json_limit

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, VerifyBody, self._json_limit)
        reply(resp, UserView.of(self._users.confirm_email_change(body.token, caller_of(req))))


def routes(c: HttpContext) -> list[Route]:
    tag = "auth"
    users, limit = c.platform.users, c.json_limit
    return [
        Route(
            f"{API}/auth/email",
            Request(users, limit),
            (
                Operation(
                    "POST",
                    "Change your email address",
                    tag,
                    (Reply(202, "A code is on its way to the new address", Accepted),),
                    body=Body(EmailChangeBody),
                    auth="required",
                    errors=(422, 429),
                    description="Mails the new address a code that moves the account there "
                    "(POST /auth/email/confirm; valid one day; a new request voids it); the "
                    "old address is told once it is done. The same answer whether or not "
                    "another account has the address (that address is told instead). 422 "
                    "on `password` for a wrong password; throttled like password resets.",
                ),
            ),
        ),
        Route(
            f"{API}/auth/email/confirm",
            Confirm(users, limit),
            (
                Operation(
                    "POST",
                    "Confirm a new email address",
                    tag,
                    (Reply(200, "The account at its new address", UserView),),
                    body=Body(VerifyBody),
                    auth="none",
                    errors=(409, 422),
                    description="With the code mailed to the new address (no login needed: "
                    "the code is the proof). 409 if another account took the address "
                    "meanwhile.",
                ),
            ),
        ),
    ]
