"""Error pages: the API's error handlers decide the status, the headers and what is
logged; for a page of the site, the problem document they wrote becomes a page written
for people (a 500 shows the request id, never internals)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import falcon

from videoplatform.application.ports.errors import Unavailable
from videoplatform.domain.errors import DomainError
from videoplatform.entrypoints.http import errors as api_errors
from videoplatform.entrypoints.web.rendering import Pages

NOT_PAGES = ("/api/", "/health/", "/metrics", "/docs", "/static/")
Handler = Callable[[falcon.Request, falcon.Response, Any, dict[str, Any]], None]

HEADINGS = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "You are not allowed to do that."),
    404: ("Not found", "There is nothing here, or it is not yours to see."),
    405: ("Not allowed", "This page does not do that."),
    409: ("Conflict", "That clashes with a change made meanwhile. Reload and try again."),
    413: ("Too large", "What was sent is too large."),
    415: ("Not understood", "What was sent is of a kind this page does not take."),
    422: ("Not quite right", "Something in the request was not right."),
    429: ("Slow down", "Too many requests. Wait a little and try again."),
    500: ("Something went wrong", "Something went wrong on our side. It has been logged."),
    503: ("Unavailable", "A part of the service is down or busy. Try again shortly."),
}
SAYS_WHY = frozenset({403, 409, 413, 415, 422})
"""Statuses whose detail (written for people by the domain) is worth showing."""


def is_page(req: falcon.Request) -> bool:
    return not req.path.startswith(NOT_PAGES) and req.path != "/health"


def _as_page(pages: Pages, handler: Handler) -> Handler:
    def handle(
        req: falcon.Request, resp: falcon.Response, error: Any, params: dict[str, Any]
    ) -> None:
        handler(req, resp, error, params)
        if not is_page(req):
            return
        status = int(str(resp.status).split(" ", 1)[0])
        try:
            problem = json.loads(resp.text or "{}")
        except ValueError:
            problem = {}
        if status == 401 and req.method in ("GET", "HEAD"):
            # A page that needs a signed-in visitor: sign in, then come back.
            target = req.path + (f"?{req.query_string}" if req.query_string else "")
            resp.status = falcon.HTTP_303
            resp.location = f"/login?next={quote(target, safe='')}"
            resp.text = ""
            resp.content_type = "text/plain"
            return
        heading, text = HEADINGS.get(status, (f"Error {status}", "The request failed."))
        detail = problem.get("detail") if status in SAYS_WHY else None
        pages.render(
            req,
            resp,
            "error.html",
            getattr(req.context, "visitor", None),
            status=status,
            heading=heading,
            text=text,
            detail=detail,
            retry_after=resp.get_header("Retry-After"),
            show_request_id=status >= 500,
        )

    return handle


def install(app: falcon.App[falcon.Request, falcon.Response], pages: Pages) -> None:
    app.add_error_handler(Exception, _as_page(pages, api_errors.handle_unexpected))
    app.add_error_handler(falcon.HTTPError, _as_page(pages, api_errors.handle_http_error))
    app.add_error_handler(DomainError, _as_page(pages, api_errors.handle_domain_error))
    app.add_error_handler(Unavailable, _as_page(pages, api_errors.handle_unavailable))
