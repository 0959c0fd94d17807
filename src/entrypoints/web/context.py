"""What every page of the site is built with (the platform, the templates, the
sessions) and the steps they share: who is asking, a posted form checked for its CSRF
token, a form shown again with a message per field."""

from __future__ import annotations

from typing import Any

import falcon

from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    PermissionDenied,
    TooManyAttempts,
    ValidationError,
)
from videoplatform.domain.users import Permission, User
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.web.forms import Form, read_form
from videoplatform.entrypoints.web.rendering import Pages
from videoplatform.entrypoints.web.session import CSRF_FIELD, Visitor, WebSessions


def see_other(resp: falcon.Response, location: str) -> None:
    """After a form: go to ``location`` (a GET), never to be cached."""
    resp.status = falcon.HTTP_303
    resp.location = location
    resp.cache_control = ["no-store"]


def signed_in(visitor: Visitor) -> User:
    """The visitor's account; AuthenticationFailed (a page sends them to log in)."""
    if visitor.user is None:
        raise AuthenticationFailed("log in first")
    return visitor.user


def field_errors(
    error: ValidationError | Conflict, renamed: dict[str, str] | None = None
) -> dict[str, str]:
    """A refusal as messages by form field (``renamed`` maps the use case's names to
    the form's); one for the whole form when it names no field."""
    fields = error.fields if isinstance(error, ValidationError) else {}
    names = renamed or {}
    return {names.get(k, k): v for k, v in fields.items()} or {"form": error.message}


ENROLMENT_PAGES = ("/account/two-factor", "/logout")
"""The pages a session that may only turn two-factor login on may open."""


class Site:
    def __init__(self, platform: Platform, pages: Pages, sessions: WebSessions) -> None:
        self.platform = platform
        self.pages = pages
        self.sessions = sessions

    def visitor(self, req: falcon.Request, resp: falcon.Response) -> Visitor:
        """Who is asking. A session that may only turn two-factor login on is sent to
        that page from any other (logging out aside)."""
        visitor = self.sessions.visitor(req, resp)
        if visitor.enrolling and not req.path.startswith(ENROLMENT_PAGES):
            raise falcon.HTTPSeeOther(ENROLMENT_PAGES[0])
        return visitor

    def member(self, req: falcon.Request, resp: falcon.Response) -> Visitor:
        """A signed-in visitor (others are sent to log in)."""
        visitor = self.visitor(req, resp)
        signed_in(visitor)
        return visitor

    def holding(
        self, req: falcon.Request, resp: falcon.Response, permission: Permission, refusal: str
    ) -> Visitor:
        """A signed-in visitor holding ``permission``; PermissionDenied(``refusal``)."""
        visitor = self.member(req, resp)
        if not visitor.can(permission):
            raise PermissionDenied(refusal)
        return visitor

    def posted(
        self, req: falcon.Request, resp: falcon.Response, *, member: bool = True
    ) -> tuple[Visitor, Form]:
        """Who posted (signed in unless ``member`` is False) and the form, once its CSRF
        token is checked."""
        visitor = self.member(req, resp) if member else self.visitor(req, resp)
        form = read_form(req)
        self.sessions.check_csrf(req, visitor, form.text(CSRF_FIELD))
        return visitor, form

    def show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        template: str,
        visitor: Visitor,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        **context: Any,
    ) -> None:
        """A page with a form: ``errors`` by field, ``values`` as typed."""
        self.pages.render(
            req,
            resp,
            template,
            visitor,
            status=status,
            errors=errors or {},
            values=values or {},
            **context,
        )

    def refused(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        template: str,
        visitor: Visitor,
        error: ValidationError | Conflict | TooManyAttempts,
        values: dict[str, str],
        **context: Any,
    ) -> None:
        """The form again, with what the use case refused (429 when throttled)."""
        if isinstance(error, TooManyAttempts):
            resp.set_header("Retry-After", str(error.retry_after))
            errors = {"form": f"Too many attempts. Try again in {error.retry_after} seconds."}
            status = 429
        else:
            errors, status = field_errors(error), 422
        self.show(
            req, resp, template, visitor, status=status, errors=errors, values=values, **context
        )
