"""Helpers every resource uses: JSON replies, query parameters, the shared context."""

from __future__ import annotations

import json
from typing import Any

import falcon
from attrs import frozen

from domain.errors import ValidationError
from entrypoints.bootstrap import Platform
from entrypoints.http.convert import dump
from entrypoints.http.openapi import Param

API = "/api/v1"


@frozen
class HttpContext:
    """What resources are built with: the platform and the HTTP settings."""

    platform: Platform
    json_limit: int = 1024 * 1024
    public_url: str = ""


def reply(resp: falcon.Response, data: Any, status: int = 200) -> None:
    resp.status = falcon.code_to_http_status(status)
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps(dump(data))


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


CURSOR = Param("cursor", "query", {"type": "string"}, "opaque cursor from the previous page")
LIMIT = Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100}, "page size")
