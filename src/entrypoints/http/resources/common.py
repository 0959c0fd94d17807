"""Helpers every resource uses: JSON replies, query parameters, the shared context."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import falcon
from attrs import frozen

from videoplatform.domain.errors import ValidationError
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.convert import dump, json_bytes
from videoplatform.entrypoints.http.openapi import Param
from videoplatform.entrypoints.http.read_cache import PublicVideoCache
from videoplatform.entrypoints.metrics import Metrics

API = "/api/v1"


@frozen
class HttpContext:
    """What resources are built with: the platform and the HTTP settings."""

    platform: Platform
    json_limit: int = 1024 * 1024
    public_url: str = ""
    video_cache: PublicVideoCache | None = None
    redirect_downloads: bool = False
    """Send downloads to the storage's short-lived URLs (S3) instead of through here."""
    accel_redirect_prefix: str = ""
    """With local storage behind nginx: hand bodies to it with X-Accel-Redirect."""
    metrics: Metrics | None = None
    """This process's metrics, when they are served."""
    metrics_token: str = ""
    """The operators' token (``/metrics``, ``/health/detailed``); empty: none."""


def reply(resp: falcon.Response, data: Any, status: int = 200) -> None:
    resp.status = falcon.code_to_http_status(status)
    resp.content_type = falcon.MEDIA_JSON
    # A dict is already JSON-ready (page_of converts its items); walking it again
    # through cattrs cost more than building the page.
    resp.data = json_bytes(data if isinstance(data, dict) else dump(data))


def no_content(resp: falcon.Response) -> None:
    resp.status = falcon.HTTP_204


def query_int(req: falcon.Request, name: str, default: int | None = None) -> int | None:
    raw = req.get_param(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError.field(name, "must be an integer") from None


def query_str(req: falcon.Request, name: str, limit: int = 200) -> str | None:
    raw = req.get_param(name)
    if raw is None or raw == "":
        return None
    if len(raw) > limit:
        raise ValidationError.field(name, f"at most {limit} characters")
    return str(raw)


E = TypeVar("E", bound=enum.Enum)

# A "+" of a time zone that arrived unescaped in a query string, read as a space.
_ZONE_AS_SPACE = re.compile(r"(:\d{2}(?:\.\d+)?) (\d{2}(?::?\d{2})?)$")


def query_instant(req: falcon.Request, name: str) -> datetime | None:
    """``?name=``: an ISO 8601 date-time with a time zone."""
    raw = query_str(req, name, 64)
    if raw is None:
        return None
    text = _ZONE_AS_SPACE.sub(r"\1+\2", raw.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError.field(name, "not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValidationError.field(name, "needs a time zone (for example Z or +02:00)")
    return moment


def query_choice(req: falcon.Request, name: str, kind: type[E]) -> E | None:
    """``?name=``: one of the enumeration's values (case and surrounding space aside)."""
    raw = query_str(req, name)
    if raw is None:
        return None
    try:
        return kind(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise ValidationError.field(name, f"must be one of {allowed}") from None


def enum_param(name: str, kind: type[enum.Enum], description: str) -> Param:
    """The document's side of :func:`query_choice`."""
    return Param(name, "query", {"type": "string", "enum": [m.value for m in kind]}, description)


CURSOR_LENGTH = 1000


def cursor_param(max_length: int = CURSOR_LENGTH) -> Param:
    """``?cursor=``: a page's ``next_cursor``, passed back unchanged (base64url)."""
    return Param(
        "cursor",
        "query",
        {"type": "string", "maxLength": max_length, "pattern": "^[A-Za-z0-9_-]+(?![\\s\\S])"},
        "opaque: the previous page's next_cursor, unchanged, with the same filters; "
        "anything else is refused with 422",
    )


CURSOR = cursor_param()
LIMIT = Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100}, "page size")


def content_disposition(name: str, *, inline: bool) -> str:
    """RFC 6266: an ASCII ``filename`` fallback (accents folded, anything else replaced)
    and the exact name as RFC 8187 ``filename*`` in UTF-8."""
    fallback = "".join(_ascii(c) for c in name).strip() or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


SANDBOXED = "default-src 'none'; sandbox"
"""The policy of bytes sent for download: a browser that renders them anyway runs nothing."""


def send_attachment(
    resp: falcon.Response,
    name: str,
    content_type: str,
    size: int,
    chunks: Iterator[bytes],
) -> None:
    """Answer with ``chunks`` (``size`` bytes of ``content_type``) as a download named
    ``name``, sandboxed. The caller says how it may be cached."""
    resp.content_type = content_type
    resp.set_header("Content-Disposition", content_disposition(name, inline=False))
    resp.set_header("X-Content-Type-Options", "nosniff")
    resp.set_header("Content-Security-Policy", SANDBOXED)
    resp.content_length = size
    resp.stream = chunks


def _ascii(char: str) -> str:
    if char in '"\\%' or not char.isprintable():
        return "_"
    folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    folded = "".join(c for c in folded if c.isprintable() and c not in '"\\%')
    return folded or "_"
