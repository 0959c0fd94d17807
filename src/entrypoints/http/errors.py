"""RFC 9457 problem details for every error, each with a stable machine ``code``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import falcon
import structlog

from videoplatform.application.ports.errors import Unavailable
from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ShareRefused,
    TooManyAttempts,
    ValidationError,
)
from videoplatform.domain.uploads import (
    ChecksumMismatch,
    TooManyOpenUploads,
    UnsupportedMedia,
    UploadGone,
)

PROBLEM = "application/problem+json"
log = structlog.get_logger("videoplatform.http")

# Domain error → HTTP status. Subclasses inherit their base's status.
STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (ChecksumMismatch, 460),  # tus checksum extension
    (UnsupportedMedia, 415),
    (UploadGone, 410),
    (TooManyOpenUploads, 403),  # before QuotaExceeded: a count of uploads, not a size
    (NotFound, 404),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (ValidationError, 422),
    (Conflict, 409),
    (InvalidTransition, 409),
    (QuotaExceeded, 413),
    (TooManyAttempts, 429),
    (ShareRefused, 403),
)
SHARE_STATUS = {
    "share_password_required": 401,
    "share_password_wrong": 401,
    "share_expired": 410,
    "share_revoked": 410,
    "share_exhausted": 410,
    "share_unavailable": 410,
}
# Framework errors keep their status and get a code of their own.
FALCON_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "forbidden",
    404: "route_not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    412: "precondition_failed",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


def problem(
    req: falcon.Request,
    resp: falcon.Response,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    body: dict[str, Any] = {
        "type": f"urn:videoplatform:problem:{code}",
        "title": title,
        "status": status,
        "code": code,
        "instance": req.path,
        "request_id": getattr(req.context, "request_id", None),
    }
    if detail:
        body["detail"] = detail
    body.update(extra or {})
    resp.status = status_line(status)
    resp.content_type = PROBLEM
    resp.text = json.dumps(body)


# Statuses defined by protocols the API speaks rather than by RFC 9110.
EXTRA_STATUS_LINES = {460: "460 Checksum Mismatch"}


def status_line(status: int) -> str:
    return EXTRA_STATUS_LINES.get(status) or falcon.code_to_http_status(status)


def _domain_status(error: DomainError) -> int:
    if isinstance(error, ShareRefused):
        return SHARE_STATUS.get(error.code, 403)
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 400


def handle_domain_error(
    req: falcon.Request, resp: falcon.Response, error: DomainError, _: dict[str, Any]
) -> None:
    status = _domain_status(error)
    extra: dict[str, Any] = {}
    if isinstance(error, ValidationError) and error.fields:
        extra["errors"] = [{"field": k, "message": v} for k, v in sorted(error.fields.items())]
    if isinstance(error, TooManyAttempts):
        resp.set_header("Retry-After", str(error.retry_after))
    if isinstance(error, AuthenticationFailed):
        resp.set_header("WWW-Authenticate", 'Bearer realm="videoplatform"')
    if status == 401 and isinstance(error, ShareRefused):
        # RFC 9110 wants a challenge with every 401: the link's password, sent in the body.
        resp.set_header("WWW-Authenticate", 'SharePassword realm="videoplatform"')
    title = status_line(status).split(" ", 1)[1]
    problem(req, resp, status, error.code, title, error.message, extra)


def handle_http_error(
    req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError, _: dict[str, Any]
) -> None:
    status = int(str(error.status).split(" ", 1)[0])
    code = getattr(error, "problem_code", None)
    if not isinstance(code, str):
        code = FALCON_CODES.get(status, f"http_{status}")
    headers = error.headers or {}
    for name, value in headers.items() if isinstance(headers, Mapping) else headers:
        resp.set_header(name, value)
    reason = falcon.code_to_http_status(status).split(" ", 1)[1]
    # Falcon's default title is the status line ("404 Not Found"); keep custom ones.
    title = error.title if error.title and not error.title[:1].isdigit() else reason
    problem(req, resp, status, code, title, error.description)


def _busy_database(error: Exception) -> bool:
    """A locked SQLite file or a cancelled PostgreSQL statement: load, not a bug."""
    text = str(getattr(error, "orig", error)).lower()
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    return type(error).__name__ == "OperationalError" and (
        "database is locked" in text or code in {"57014", "55P03"}
    )


def handle_unexpected(
    req: falcon.Request, resp: falcon.Response, error: Exception, _: dict[str, Any]
) -> None:
    if _busy_database(error):
        log.warning("database_busy", path=req.path, method=req.method)
        resp.set_header("Retry-After", "1")
        problem(
            req,
            resp,
            503,
            "database_busy",
            "Service Unavailable",
            "the database is busy; retry shortly",
        )
        return
    # Internals stay in the log (with the request id); the client gets the id only.
    log.exception("unhandled_error", path=req.path, route=req.uri_template or "", method=req.method)
    problem(
        req,
        resp,
        500,
        "internal_error",
        "Internal Server Error",
        "an unexpected error occurred; quote the request id when reporting it",
    )


UNAVAILABLE_RETRY_AFTER = 5
"""Seconds a client is asked to wait when a dependency is down (Retry-After)."""


def handle_unavailable(
    req: falcon.Request, resp: falcon.Response, error: Unavailable, _: dict[str, Any]
) -> None:
    """A dependency that cannot be reached: a fast 503 the client may retry, never a
    500; what failed goes to the log, not to the client."""
    log.warning(
        "dependency_unavailable",
        dependency=error.dependency,
        detail=error.detail,
        path=req.path,
        method=req.method,
    )
    resp.set_header("Retry-After", str(UNAVAILABLE_RETRY_AFTER))
    problem(
        req,
        resp,
        503,
        error.code,
        "Service Unavailable",
        f"the {error.dependency} is unavailable right now; retry shortly",
    )


class ClientTooSlow(ConnectionResetError):
    """The server gave up on a client that sent its request, or took its response, too
    slowly (see entrypoints/http/workers.py): the client's doing, like a reset."""


def body_read_failed(error: OSError, detail: str) -> falcon.HTTPError:
    """What to answer when reading a body failed with ``error``: a 408 when the client
    was too slow, else a 400 ``incomplete_body`` saying ``detail``."""
    if isinstance(error, ClientTooSlow):
        return coded(
            falcon.HTTPError(falcon.HTTP_408, title="Request Timeout", description=str(error)),
            "body_too_slow",
        )
    return incomplete_body(detail)


def incomplete_body(detail: str) -> falcon.HTTPError:
    """A body that ended (or whose connection was reset) before it was whole: a 400 the
    client may not even read, logged as its request and never as a fault of the server."""
    return coded(falcon.HTTPBadRequest(description=detail), "incomplete_body")


def coded(error: falcon.HTTPError, code: str) -> falcon.HTTPError:
    """Give a framework error the stable ``code`` its problem document will carry."""
    setattr(error, "problem_code", code)  # noqa: B010 - HTTPError has no such slot
    return error


def install(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    # Falcon calls the handler registered for the most specific type.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(DomainError, handle_domain_error)
    app.add_error_handler(Unavailable, handle_unavailable)
