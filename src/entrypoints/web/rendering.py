"""Pages from Jinja2 templates (kept in the package), under the site's content policy."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import falcon
import jinja2

from videoplatform.domain.users import MIN_PASSWORD_LENGTH
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.web.assets import StaticAssets
from videoplatform.entrypoints.web.session import CSRF_FIELD, Visitor

HTML = "text/html; charset=utf-8"


def content_policy(media_origins: Iterable[str] = ()) -> str:
    """No inline script or style, nothing from another origin except where stored
    media may be redirected to (S3's short-lived URLs)."""
    media = " ".join(["'self'", *media_origins])
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {media} data:",
            # hls.js plays through Media Source Extensions: the element's source is a blob.
            f"media-src {media} blob:",
            f"connect-src {media}",
            "worker-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


def media_origins(settings: Settings) -> tuple[str, ...]:
    """Where playback may be redirected: the S3 service that stores the media."""
    if not settings.storage_url.startswith("s3://"):
        return ()
    if settings.s3_endpoint_url:
        parts = urlsplit(settings.s3_endpoint_url)
        return (f"{parts.scheme}://{parts.netloc}",)
    bucket = urlsplit(settings.storage_url).netloc
    return (
        f"https://{bucket}.s3.{settings.s3_region}.amazonaws.com",
        f"https://{bucket}.s3.amazonaws.com",
    )


def templates_folder() -> Path:
    return Path(__file__).resolve().parent / "templates"


class Pages:
    def __init__(self, assets: StaticAssets, policy: str) -> None:
        self._policy = policy
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_folder()),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.globals["asset"] = assets.url
        self._env.globals["csrf_field"] = CSRF_FIELD
        self._env.globals["min_password"] = MIN_PASSWORD_LENGTH
        self._env.filters["ago"] = ago
        self._env.filters["clock"] = clock
        self._env.filters["count"] = count

    def html(self, template: str, **context: Any) -> str:
        return self._env.get_template(template).render(**context)

    def render(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        template: str,
        visitor: Visitor | None,
        *,
        status: int = 200,
        **context: Any,
    ) -> None:
        resp.status = falcon.code_to_http_status(status)
        resp.content_type = HTML
        # Pages differ by who asks and carry a CSRF token: never kept by a shared cache.
        resp.cache_control = ["private", "no-cache"]
        resp.set_header("Content-Security-Policy", self._policy)
        resp.text = self.html(
            template,
            visitor=visitor,
            request_id=getattr(req.context, "request_id", ""),
            path=req.path,
            query=req.query_string,
            **context,
        )


def ago(moment: datetime, now: datetime | None = None) -> str:
    """``3 days ago``: how long ago, in the largest whole unit."""
    now = now or datetime.now(UTC)
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("week", 604_800),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"


def clock(seconds: float | None) -> str:
    """``1:02:03`` or ``4:05``: a duration as a player shows it."""
    if seconds is None:
        return ""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def count(n: int, one: str, many: str | None = None) -> str:
    """``1 view``, ``1,234 views``."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def link(path: str, **query: str | None) -> str:
    """``path?k=v`` with the query's empty values left out."""
    kept = {k: v for k, v in query.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path
