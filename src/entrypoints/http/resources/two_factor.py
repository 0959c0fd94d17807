"""Two-factor login over HTTP: enrolment (the secret, its ``otpauth://`` URI and a QR
code), confirmation with a first code (the recovery codes, shown once), new recovery
codes, turning it off, and an administrator turning it off for someone else. Logging in
with a code is ``POST /auth/session`` (its ``code``)."""

from __future__ import annotations

import falcon
from attrs import field, frozen

from videoplatform.application.users import TwoFactorEnrolment, UserService
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import MAX_PASSWORD_LENGTH, Scope
from videoplatform.entrypoints.http.convert import read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Reply, Route
from videoplatform.entrypoints.http.resources.common import API, HttpContext, no_content, reply

CODE_RULES = {"maxLength": 64}
"""A code as typed: six digits, or a recovery code (dashes and spaces allowed)."""


@frozen
class PasswordBody:
    password: str = field(
        metadata={"doc": "your password, again", "schema": {"maxLength": MAX_PASSWORD_LENGTH}}
    )


@frozen
class CodeBody:
    code: str = field(
        metadata={"doc": "the six digits your authenticator app shows", "schema": CODE_RULES}
    )


@frozen
class DisableBody:
    password: str = field(
        metadata={"doc": "your password, again", "schema": {"maxLength": MAX_PASSWORD_LENGTH}}
    )
    code: str = field(
        metadata={
            "doc": "the six digits your authenticator app shows, or a recovery code",
            "schema": CODE_RULES,
        }
    )


@frozen
class EnrolmentView:
    """Shown once: give it to an authenticator app, then confirm with its first code."""

    secret: str = field(metadata={"doc": "base32, for apps that take it typed"})
    uri: str = field(metadata={"doc": "the otpauth:// URI, as the QR code holds it"})
    qr_svg: str = field(metadata={"doc": "the URI as a QR code, an SVG document"})

    @classmethod
    def of(cls, enrolment: TwoFactorEnrolment) -> EnrolmentView:
        return cls(enrolment.secret, enrolment.uri, enrolment.qr_svg)


@frozen
class RecoveryCodesView:
    """Shown once: each logs in once in place of a code (keep them somewhere safe)."""

    recovery_codes: list[str]


class Enrolment:
    def __init__(self, users: UserService, json_limit: int) -> None:
        self._users, self._json_limit = users, json_limit

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, PasswordBody, self._json_limit)
        enrolment = self._users.begin_two_factor(caller_of(req), body.password)
        resp.cache_control = ["no-store"]
        reply(resp, EnrolmentView.of(enrolment), 201)


class Confirmation:
    def __init__(self, users: UserService, json_limit: int) -> None:
        self._users, self._json_limit = users, json_limit

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, CodeBody, self._json_limit)
        codes = self._users.confirm_two_factor(caller_of(req), body.code)
        resp.cache_control = ["no-store"]
        reply(resp, RecoveryCodesView(list(codes)))


class Disabling:
    def __init__(self, users: UserService, json_limit: int) -> None:
        self._users, self._json_limit = users, json_limit

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, DisableBody, self._json_limit)
        self._users.disable_two_factor(caller_of(req), body.password, body.code)
        no_content(resp)


class RecoveryCodes:
    def __init__(self, users: UserService, json_limit: int) -> None:
        self._users, self._json_limit = users, json_limit

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, PasswordBody, self._json_limit)
        codes = self._users.new_recovery_codes(caller_of(req), body.password)
        resp.cache_control = ["no-store"]
        reply(resp, RecoveryCodesView(list(codes)))


class Reset:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        self._users.reset_two_factor(caller_of(req), UserId(user_id))
        no_content(resp)


def routes(c: HttpContext) -> list[Route]:
    tag = "auth"
    users, limit = c.platform.users, c.json_limit
    return [
        Route(
            f"{API}/auth/two-factor",
            Enrolment(users, limit),
            (
                Operation(
                    "POST",
                    "Begin two-factor login",
                    tag,
                    (
                        Reply(
                            201, "The secret for your authenticator app (shown once)", EnrolmentView
                        ),
                    ),
                    body=Body(PasswordBody),
                    auth="required",
                    errors=(409, 422, 429),
                    for_enrolment=True,
                    description="A new secret, held until a first code confirms it (a "
                    "secret begun before is replaced). 422 on `password` for a wrong "
                    "password; 409 while two-factor login is on.",
                ),
            ),
        ),
        Route(
            f"{API}/auth/two-factor/confirm",
            Confirmation(users, limit),
            (
                Operation(
                    "POST",
                    "Turn two-factor login on",
                    tag,
                    (Reply(200, "Ten recovery codes (shown once)", RecoveryCodesView),),
                    body=Body(CodeBody),
                    auth="required",
                    errors=(409, 422, 429),
                    for_enrolment=True,
                    description="With a first code of the secret begun. From then on "
                    "logging in asks for a code (`code` of POST /auth/session). Where your "
                    "role requires two-factor login, the session this is sent with may do "
                    "everything from then on. 422 on `code` for a wrong code; 409 if none "
                    "was begun.",
                ),
            ),
        ),
        Route(
            f"{API}/auth/two-factor/disable",
            Disabling(users, limit),
            (
                Operation(
                    "POST",
                    "Turn two-factor login off",
                    tag,
                    (Reply(204, "Off: logging in asks for no code"),),
                    body=Body(DisableBody),
                    auth="required",
                    errors=(403, 422, 429),
                    description="The password and a code (or a recovery code) again. "
                    "403 where your role requires two-factor login.",
                ),
            ),
        ),
        Route(
            f"{API}/auth/two-factor/recovery-codes",
            RecoveryCodes(users, limit),
            (
                Operation(
                    "POST",
                    "Make new recovery codes",
                    tag,
                    (Reply(200, "Ten new recovery codes (shown once)", RecoveryCodesView),),
                    body=Body(PasswordBody),
                    auth="required",
                    errors=(409, 422, 429),
                    description="The codes left stop working. 409 where two-factor login is off.",
                ),
            ),
        ),
        Route(
            f"{API}/users/{{user_id}}/two-factor/reset",
            Reset(users),
            (
                Operation(
                    "POST",
                    "Turn a user's two-factor login off",
                    "users",
                    (Reply(204, "Off: their next login asks for no code"),),
                    auth="required",
                    errors=(403, 404),
                    scope=Scope.ADMIN,
                    description="Administrators, for someone who lost their authenticator "
                    "and their recovery codes. Where their role requires two-factor login, "
                    "their next login may only turn it on again.",
                ),
            ),
        ),
    ]
