"""Registration, verification, sessions, password reset and personal API tokens."""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from typing import Literal

import falcon
from attrs import field, frozen

from videoplatform.application.limits import PERSONAL_TOKEN_MAX_DAYS
from videoplatform.application.users import (
    IssuedToken,
    Login,
    RegisterUser,
    UpdateProfile,
    UserService,
)
from videoplatform.application.users.sessions import MAX_TOKEN_NAME
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import TokenId
from videoplatform.domain.users import (
    EMAIL_DOMAIN,
    EMAIL_LOCAL_EXCLUDED,
    MAX_BIO,
    MAX_DISPLAY_NAME,
    MAX_EMAIL,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    invisible_in_email,
    is_control,
    parse_scopes,
)
from videoplatform.domain.visibility import Visibility
from videoplatform.entrypoints.http.convert import read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Reply, Route
from videoplatform.entrypoints.http.resources.common import API, HttpContext, no_content, reply
from videoplatform.entrypoints.http.schema import END, Schema, char_class, space, text_rules
from videoplatform.entrypoints.http.views import SessionView, TokenView, UserView

PASSWORD_RULES = {"minLength": MIN_PASSWORD_LENGTH, "maxLength": MAX_PASSWORD_LENGTH}


@functools.cache
def email_rules() -> Schema:
    """An address as ``Email.parse`` takes it: spaces around it are trimmed."""
    excluded = re.compile(f"[{EMAIL_LOCAL_EXCLUDED}]")
    local = char_class(
        "email_local_refused",
        lambda c: excluded.fullmatch(c) is not None or invisible_in_email(c),
    )
    return {
        "minLength": 3,
        "maxLength": MAX_EMAIL,
        "pattern": rf"^{space()}*[^{local}]{{1,64}}@{EMAIL_DOMAIN}{space()}*{END}",
    }


@functools.cache
def display_name_rules() -> Schema:
    # Whitespace is collapsed to one space first, so only the other controls are refused.
    return text_rules(
        MAX_DISPLAY_NAME,
        refused=char_class("display_name_refused", lambda c: is_control(c) and not c.isspace()),
    )()


@frozen
class RegisterBody:
    email: str = field(metadata={"schema": lambda: email_rules()})
    password: str = field(
        metadata={
            "doc": f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            "schema": PASSWORD_RULES,
        }
    )
    display_name: str = field(
        metadata={
            "doc": "control characters other than whitespace are refused",
            "schema": lambda: display_name_rules(),
        }
    )


@frozen
class Accepted:
    status: str
    detail: str


@frozen
class VerifyBody:
    token: str


@frozen
class LoginBody:
    email: str = field(metadata={"schema": lambda: email_rules()})
    password: str
    code: str | None = field(
        default=None,
        metadata={
            "doc": "where the account's two-factor login is on: the six digits its "
            "authenticator app shows, or one of its recovery codes",
            "schema": {"maxLength": 64},
        },
    )


@frozen
class ResetRequestBody:
    email: str = field(metadata={"schema": lambda: email_rules()})


@frozen
class ResetBody:
    token: str
    password: str = field(
        metadata={
            "doc": f"the new password: {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            "schema": PASSWORD_RULES,
        }
    )


ScopeName = Literal["read", "write", "upload", "admin"]


@frozen
class TokenBody:
    name: str = field(metadata={"schema": text_rules(MAX_TOKEN_NAME)})
    expires_in_days: int | None = field(
        default=None,
        metadata={
            "doc": f"1 to {PERSONAL_TOKEN_MAX_DAYS}; that longest when absent. Made with a "
            "personal token: no later than that token's expiry (its expiry when absent)",
            "schema": {"minimum": 1, "maximum": PERSONAL_TOKEN_MAX_DAYS},
        },
    )
    scopes: list[ScopeName] | None = field(
        default=None,
        metadata={
            "doc": "what the token may be used for (each operation names the scope it "
            "needs); every scope when absent. Made with a personal token: only scopes it "
            "has (403 otherwise), its own when absent; the new token is revoked with it",
            "schema": {"minItems": 1},
        },
    )


def session_view(issued: IssuedToken) -> SessionView:
    return SessionView(issued.token, issued.token_id, issued.user_id, issued.expires_at)


ACCEPTED = Accepted(
    "accepted", "if the address can be registered, you can now log in (or confirm it by mail)"
)
RESET_ACCEPTED = Accepted("accepted", "if an account has this address, a reset code was mailed")
RESEND_ACCEPTED = Accepted(
    "accepted", "if an account waits for this address to be verified, a new code was mailed"
)


class Register:
    def __init__(self, json_limit: int, users: UserService) -> None:
        self._json_limit = json_limit
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, RegisterBody, self._json_limit)
        self._users.register_quietly(
            RegisterUser(body.email, body.password, body.display_name), caller_of(req)
        )
        reply(resp, ACCEPTED, 202)


class Verify:
    def __init__(self, json_limit: int, users: UserService) -> None:
        self._json_limit = json_limit
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, VerifyBody, self._json_limit)
        reply(resp, UserView.of(self._users.verify_email(body.token, caller_of(req))))


class Session:
    def __init__(self, json_limit: int, users: UserService) -> None:
        self._json_limit = json_limit
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, LoginBody, self._json_limit)
        issued = self._users.login(Login(body.email, body.password, body.code), caller_of(req))
        reply(resp, session_view(issued), 201)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        token = req.context.token
        if token is None:
            raise falcon.HTTPUnauthorized(description="log out needs the session's bearer token")
        self._users.logout(token, caller_of(req))
        no_content(resp)


@frozen
class ProfilePatch:
    display_name: str | None = field(
        default=None,
        metadata={
            "doc": "shown on your channel and beside your videos",
            "schema": lambda: display_name_rules(),
        },
    )
    default_visibility: Literal["public", "unlisted", "private"] | None = field(
        default=None, metadata={"doc": "of your new uploads when an upload does not say"}
    )
    bio: str | None = field(
        default=None,
        metadata={
            "doc": f"a few words about you, shown on your channel (at most {MAX_BIO} "
            "characters; line breaks allowed, no other control character)",
            "schema": {
                "maxLength": MAX_BIO,
                "pattern": r"^[^\u0000-\u0008\u000b-\u001f\u007f]*" + END,
            },
        },
    )
    mail_on_processing: bool | None = field(
        default=None, metadata={"doc": "mail me when a video of mine is ready or failed"}
    )


class Me:
    def __init__(self, users: UserService, json_limit: int) -> None:
        self._users = users
        self._json_limit = json_limit

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, UserView.of(self._users.me(caller_of(req))))

    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = caller_of(req)
        body = read_json(req, ProfilePatch, self._json_limit)
        user = self._users.update_profile(
            caller,
            UpdateProfile(
                display_name=body.display_name,
                default_visibility=Visibility(body.default_visibility)
                if body.default_visibility
                else None,
                bio=body.bio,
                mail_on_processing=body.mail_on_processing,
            ),
        )
        reply(resp, UserView.of(user))


class ResetRequest:
    def __init__(self, json_limit: int, users: UserService) -> None:
        self._json_limit = json_limit
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, ResetRequestBody, self._json_limit)
        self._users.request_password_reset(body.email, caller_of(req))
        reply(resp, RESET_ACCEPTED, 202)


class VerifyResend:
    def __init__(self, json_limit: int, users: UserService) -> None:
        self._json_limit = json_limit
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, ResetRequestBody, self._json_limit)
        self._users.request_verification(body.email, caller_of(req))
        reply(resp, RESEND_ACCEPTED, 202)


class Reset:
    def __init__(self, json_limit: int, users: UserService) -> None:
        self._json_limit = json_limit
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, ResetBody, self._json_limit)
        self._users.reset_password(body.token, body.password, caller_of(req))
        no_content(resp)


class Tokens:
    def __init__(self, users: UserService, json_limit: int) -> None:
        self._users = users
        self._json_limit = json_limit

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        tokens = self._users.list_api_tokens(caller_of(req))
        reply(resp, [TokenView.of(t) for t in tokens])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, TokenBody, self._json_limit)
        days = body.expires_in_days
        if days is not None and not 1 <= days <= PERSONAL_TOKEN_MAX_DAYS:
            raise ValidationError.field(
                "expires_in_days", f"must be between 1 and {PERSONAL_TOKEN_MAX_DAYS}"
            )
        ttl = timedelta(days=days) if days is not None else None
        scopes = None if body.scopes is None else parse_scopes(body.scopes)
        issued = self._users.create_api_token(caller_of(req), body.name, ttl, scopes)
        reply(resp, session_view(issued), 201)


class TokenItem:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_delete(self, req: falcon.Request, resp: falcon.Response, token_id: str) -> None:
        self._users.revoke_api_token(caller_of(req), TokenId(token_id))
        no_content(resp)


def mail_request(summary: str, tag: str, what: str) -> Operation:
    """An operation that mails a code to an address: the same answer for any address,
    throttled alike."""
    return Operation(
        "POST",
        summary,
        tag,
        (Reply(202, "Accepted (the same answer for any address)", Accepted),),
        body=Body(ResetRequestBody),
        auth="none",
        errors=(429,),
        description=(
            f"{what}; a new code voids the one mailed before. 429 too_many_attempts (with "
            "Retry-After) after 3 requests for one address, or 20 from one client address, "
            "in 15 minutes, whether or not the address has an account."
        ),
    )


def routes(c: HttpContext) -> list[Route]:
    tag = "auth"
    return [
        Route(
            f"{API}/auth/register",
            Register(c.json_limit, c.platform.users),
            (
                Operation(
                    "POST",
                    "Register",
                    tag,
                    (
                        Reply(
                            202,
                            "Accepted (the same answer whether or not the address is taken)",
                            Accepted,
                        ),
                    ),
                    body=Body(RegisterBody),
                    auth="none",
                ),
            ),
        ),
        Route(
            f"{API}/auth/verify",
            Verify(c.json_limit, c.platform.users),
            (
                Operation(
                    "POST",
                    "Confirm email",
                    tag,
                    (Reply(200, "The activated account", UserView),),
                    body=Body(VerifyBody),
                    auth="none",
                ),
            ),
        ),
        Route(
            f"{API}/auth/verify/resend",
            VerifyResend(c.json_limit, c.platform.users),
            (
                mail_request(
                    "Mail a new verification code",
                    tag,
                    "Mails a new code if an account waits for this address to be verified",
                ),
            ),
        ),
        Route(
            f"{API}/auth/session",
            Session(c.json_limit, c.platform.users),
            (
                Operation(
                    "POST",
                    "Log in",
                    tag,
                    (Reply(201, "A session token", SessionView),),
                    body=Body(LoginBody),
                    auth="none",
                    errors=(401, 429),
                    description="Failed attempts are throttled per account and per address "
                    "(a wrong two-factor code counts as one). Where the account's "
                    "two-factor login is on, the right password without `code` is 401 "
                    "`second_factor_required`, and a wrong or used code 401 "
                    "`second_factor_failed`; anything else refused is 401 "
                    "`authentication_failed`, alike for every reason.",
                ),
                Operation(
                    "DELETE",
                    "Log out",
                    tag,
                    (Reply(204, "The session token is revoked"),),
                    auth="required",
                    for_enrolment=True,
                ),
            ),
        ),
        Route(
            f"{API}/auth/me",
            Me(c.platform.users, c.json_limit),
            (
                Operation(
                    "GET",
                    "Current user",
                    tag,
                    (Reply(200, "You", UserView),),
                    auth="required",
                    for_enrolment=True,
                ),
                Operation(
                    "PATCH",
                    "Change your profile",
                    tag,
                    (Reply(200, "You, changed", UserView),),
                    body=Body(ProfilePatch),
                    auth="required",
                    errors=(422,),
                    description="Absent fields are unchanged. A new display name is shown "
                    "beside your videos in search within moments.",
                ),
            ),
        ),
        Route(
            f"{API}/auth/password-reset",
            ResetRequest(c.json_limit, c.platform.users),
            (
                mail_request(
                    "Request a password reset",
                    tag,
                    "Mails a one-hour reset code to the address if an active account has it",
                ),
            ),
        ),
        Route(
            f"{API}/auth/password-reset/confirm",
            Reset(c.json_limit, c.platform.users),
            (
                Operation(
                    "POST",
                    "Reset the password",
                    tag,
                    (Reply(204, "Password changed; every session was revoked"),),
                    body=Body(ResetBody),
                    auth="none",
                ),
            ),
        ),
        Route(
            f"{API}/auth/tokens",
            Tokens(c.platform.users, c.json_limit),
            (
                Operation(
                    "GET",
                    "List API tokens",
                    tag,
                    (Reply(200, "Your tokens", list[TokenView]),),
                    auth="required",
                ),
                Operation(
                    "POST",
                    "Create an API token",
                    tag,
                    (Reply(201, "The token (shown once)", SessionView),),
                    body=Body(TokenBody),
                    auth="required",
                ),
            ),
        ),
        Route(
            f"{API}/auth/tokens/{{token_id}}",
            TokenItem(c.platform.users),
            (
                Operation(
                    "DELETE",
                    "Revoke an API token",
                    tag,
                    (Reply(204, "Revoked"),),
                    auth="required",
                    errors=(404,),
                ),
            ),
        ),
    ]
