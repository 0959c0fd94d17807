"""Routes declare their operations; the OpenAPI 3.1 document is built from them.

A resource is mounted only through a :class:`Route`, so every path Falcon serves is in
the document (a test compares the two).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from attrs import field, frozen

from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.middleware import SUPPORTED_VERSIONS
from videoplatform.entrypoints.http.schema import (
    END,
    NO_NUL,
    Rules,
    Schema,
    any_case,
    rules_of,
    space,
    type_schema,
)

Auth = Literal["none", "optional", "required"]


@frozen
class Param:
    name: str
    where: Literal["query", "header"]
    schema: Rules
    description: str = ""
    required: bool = False


@frozen
class Body:
    """A request body: a JSON model, or raw bytes of the listed media types."""

    model: type | None = None
    media: tuple[str, ...] = ("application/json",)
    description: str = ""
    required: bool = True
    min_length: int = 0
    """The fewest bytes a raw body (or a form's file) may hold."""
    form: tuple[Param, ...] = ()
    """For ``multipart/form-data``: the text fields that come before the part named
    ``file`` (the same rules as the parameters of the same name)."""


@frozen
class Reply:
    status: int
    description: str
    model: Any = None
    """An attrs class, ``list[...]`` of one, or None for an empty body."""
    media: str = "application/json"
    schema: Schema | None = None
    headers: Mapping[str, str] = field(factory=dict)
    also: Mapping[str, Schema] = field(factory=dict)
    """Other media types the reply may come in (chosen by a parameter), each with its
    own schema."""


@frozen
class Operation:
    method: str
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    params: tuple[Param, ...] = ()
    body: Body | None = None
    auth: Auth = "optional"
    errors: tuple[int, ...] = ()
    deprecated: tuple[str, str] | None = None
    """(Deprecation date, Sunset date) as HTTP dates, when the operation is deprecated."""
    description: str = ""
    scope: Scope | None = None
    """What a personal token needs to be used for it (see :meth:`needs`)."""
    for_enrolment: bool = False
    """Open to a session that may only turn two-factor login on (its user's role
    requires it, and it is off): who they are, logging out, and the enrolment itself."""

    def needs(self) -> Scope:
        """The token scope the operation needs: as declared, or by default ``read`` to
        read (GET, HEAD) and ``write`` for anything else."""
        if self.scope is not None:
            return self.scope
        return Scope.READ if self.method in ("GET", "HEAD") else Scope.WRITE


@frozen
class Route:
    path: str
    resource: object
    operations: tuple[Operation, ...]


def _problem_schema() -> Schema:
    return {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string", "description": "stable machine-readable error code"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "request_id": {"type": ["string", "null"]},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["field", "message"],
                },
            },
        },
    }


# Every operation may answer these: a malformed request, an unsupported version, a bug,
# and a dependency (the database) that is down or busy (503 with Retry-After).
# 422: any path or query value is refused when it holds NUL or a lone surrogate, and
# any query value when it is empty (see middleware.SaneInput).
# 414 and 431: a request line or header section over the HTTP server's limits (8 KiB).
STANDARD_ERRORS = (400, 406, 414, 422, 431, 500, 503)
ERROR_TEXT = {
    400: "Malformed request",
    401: "Missing, invalid or expired credentials",
    403: "Not allowed",
    404: "No such resource (or not visible to the caller)",
    405: "Method not allowed",
    406: "Unsupported API version",
    408: "The body arrived too slowly, or stopped arriving (code body_too_slow)",
    409: "Conflicts with the current state",
    410: "No longer available",
    412: "Precondition failed (such as an unsupported tus version)",
    413: "Body or quota too large",
    414: "The URL is too long for the server (over 8 KiB)",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Invalid input, with per-field errors",
    431: "The request's headers are too large for the server",
    429: "Too many attempts; see Retry-After",
    500: "Unexpected error (logged with the request id)",
    460: "Checksum mismatch (tus checksum extension)",
    503: "A dependency is unavailable or busy, or (code server_busy) every upload thread "
    "is taken; see Retry-After",
}


TAG_TEXT = {
    "health": "Probes for orchestrators and monitoring. They live outside /api/v1 and "
    "its versioning (the paths stay the same across API versions) and are not part of "
    "the API clients build on.",
    "docs": "This document's interactive viewer (Swagger UI, served from this server, "
    "with no request to any other site). Outside /api/v1 and its versioning; not part of "
    "the API.",
}
"""Tags whose operations are documented here but are outside the versioned API."""

_CONVERTER = re.compile(r"{(\w+):\w+}")


def document_path(template: str) -> str:
    """The OpenAPI spelling of a Falcon URI template: ``{path:path}`` (a field converter,
    here one that takes the rest of the path, slashes included) becomes ``{path}``."""
    return _CONVERTER.sub(r"{\1}", template)


def build_document(routes: Iterable[Route], *, version: str) -> dict[str, Any]:
    components: dict[str, Schema] = {}
    paths: dict[str, Any] = {}
    for route in routes:
        path = document_path(route.path)
        names = re.findall(r"{(\w+)}", path)
        item: dict[str, Any] = {}
        for op in route.operations:
            item[op.method.lower()] = _operation(op, names, components)
        paths[path] = item
    components_out: dict[str, Any] = {
        "schemas": {"Problem": _problem_schema(), **dict(sorted(components.items()))},
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A session token (from login: everything its user may do) "
                "or a personal API token, which may be used only where the operation's "
                "scope (read, write, upload or admin; listed in its security requirement "
                "and as x-token-scope) is one of its own; elsewhere 403 insufficient_scope. "
                "Scopes narrow what the token's user may do and never widen it. Where "
                "VIDEOPLATFORM_REQUIRE_TWO_FACTOR names a user's role and their two-factor "
                "login is off, their session may only be used where x-two-factor-enrolment "
                "is true; elsewhere 403 two_factor_required.",
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "tags": [
            {"name": name, "description": text}
            for name, text in TAG_TEXT.items()
            if any(name in op.get("tags", ()) for item in paths.values() for op in item.values())
        ],
        "info": {
            "title": "videoplatform API",
            "version": version,
            "description": "Upload, process, share and watch videos and files. The API "
            "is everything under /api/v1; the health probes and this document's viewer are "
            "described too, outside it (see their tags).",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": components_out,
    }


def _non_empty(schema: Schema) -> Schema:
    """A query value is never empty (the server refuses ``?name=``) and, like a path
    value, never holds NUL."""
    if schema.get("type") == "string" and "enum" not in schema:
        return {"minLength": 1, **schema, **NO_NUL}
    return schema


@functools.cache
def version_pattern() -> str:
    """``Accept-Version`` as the server reads it: trimmed, in any case."""
    versions = "|".join(any_case(v) for v in sorted(SUPPORTED_VERSIONS))
    return rf"^{space()}*(?:{versions}){space()}*{END}"


MULTIPART = "multipart/form-data"


def _form(fields: Sequence[Param], least: Schema) -> dict[str, Any]:
    """A form of text fields, then the file (a form's parts arrive in this order)."""
    properties: dict[str, Any] = {
        p.name: {
            **_non_empty(rules_of(p.schema)),
            **({"description": p.description} if p.description else {}),
        }
        for p in fields
    }
    properties["file"] = {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        **least,
    }
    return {
        "schema": {
            "type": "object",
            "properties": properties,
            "required": ["file"],
            "additionalProperties": False,
        },
        "encoding": {"file": {"contentType": "application/octet-stream"}},
    }


def _operation(op: Operation, path_names: Sequence[str], components: dict[str, Schema]) -> Any:
    parameters: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string", **NO_NUL}}
        for n in path_names
    ]
    parameters += [
        {
            "name": p.name,
            "in": p.where,
            "required": p.required,
            "schema": _non_empty(rules_of(p.schema)) if p.where == "query" else rules_of(p.schema),
            **({"description": p.description} if p.description else {}),
        }
        for p in op.params
    ]
    parameters.append(
        {
            "name": "Accept-Version",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": version_pattern()},
            "description": "a version this server speaks: "
            + ", ".join(sorted(SUPPORTED_VERSIONS))
            + " (any case); anything else is 406",
        }
    )
    responses: dict[str, Any] = {}
    for reply in op.replies:
        entry: dict[str, Any] = {"description": reply.description}
        schema = reply.schema
        if schema is None and reply.model is not None:
            schema = type_schema(reply.model, components)
        if schema is not None:
            entry["content"] = {
                reply.media: {"schema": schema},
                **{m: {"schema": s} for m, s in reply.also.items()},
            }
        if reply.headers:
            entry["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in reply.headers.items()
            }
        responses[str(reply.status)] = entry
    errors = set(STANDARD_ERRORS) | set(op.errors)
    if op.auth != "none":
        errors.add(401)  # a bad token is refused even where none is needed
        errors.add(403)  # a token without the operation's scope is refused
    if op.body is not None:
        errors |= {408, 413, 415}
        if op.body.model is not None:
            errors.add(422)
    for status in sorted(errors - {reply.status for reply in op.replies}):
        # (An error the operation describes itself keeps its own description.)
        responses[str(status)] = {
            "description": ERROR_TEXT.get(status, "Error"),
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    result: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{op.tag}_{op.method.lower()}_{'_'.join(op.summary.lower().split())}",
        "parameters": parameters,
        "responses": responses,
    }
    if op.description:
        result["description"] = op.description
    if op.auth != "none":
        # The bearer scheme's list names the personal token scope the operation needs
        # (OpenAPI lets a scheme other than OAuth list roles there).
        scope = op.needs().value
        result["security"] = [{"bearer": [scope]}] + ([{}] if op.auth == "optional" else [])
        result["x-token-scope"] = scope
        if op.for_enrolment:
            result["x-two-factor-enrolment"] = True
    if op.deprecated:
        result["deprecated"] = True
    if op.body is not None:
        if op.body.model is not None:
            content = {m: {"schema": type_schema(op.body.model, components)} for m in op.body.media}
        else:
            least = {"minLength": op.body.min_length} if op.body.min_length else {}
            content = {
                m: {"schema": {"type": "string", "contentMediaType": m, **least}}
                for m in op.body.media
            }
            if op.body.form and MULTIPART in content:
                content[MULTIPART] = _form(op.body.form, least)
        result["requestBody"] = {
            "required": op.body.required,
            "content": content,
            **({"description": op.body.description} if op.body.description else {}),
        }
    return result
