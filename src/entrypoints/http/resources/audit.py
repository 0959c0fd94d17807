"""The audit trail for moderators and administrators: search it a page at a time, or
export a whole filtered range as JSON Lines or CSV, streamed as it is read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC

import falcon
from attrs import field, frozen

from videoplatform.application.audit_trail import AuditFilter, AuditService
from videoplatform.application.ports.system import Clock
from videoplatform.domain.audit import AUDIT_FIELDS, AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.convert import dump
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Operation, Param, Reply, Route
from videoplatform.entrypoints.http.resources.common import (
    API,
    CURSOR,
    CURSOR_LENGTH,
    LIMIT,
    HttpContext,
    query_instant,
    query_int,
    query_str,
    reply,
)
from videoplatform.entrypoints.http.views import AuditEventView

JSONL = "application/jsonl"
CSV = "text/csv; charset=utf-8; header=present"
FORMATS = {"jsonl": JSONL, "csv": CSV}
CSV_COLUMNS = AUDIT_FIELDS
ROWS_PER_CHUNK = 100
# Cells a spreadsheet would run as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

FILTER_PARAMS = (
    Param("actor_id", "query", {"type": "string"}, "who acted"),
    Param("action", "query", {"type": "string", "enum": [a.value for a in AuditAction]}),
    Param("resource_type", "query", {"type": "string"}, "for example user, video, share"),
    Param("resource_id", "query", {"type": "string"}),
    Param("result", "query", {"type": "string", "enum": [r.value for r in AuditResult]}),
    Param(
        "since",
        "query",
        {"type": "string", "format": "date-time"},
        "inclusive; ISO 8601 with a time zone",
    ),
    Param(
        "until",
        "query",
        {"type": "string", "format": "date-time"},
        "exclusive; ISO 8601 with a time zone; must be later than since (else 422)",
    ),
)
FORMAT_PARAM = Param(
    "format", "query", {"type": "string", "enum": list(FORMATS), "default": "jsonl"}
)


ACCOUNT_DETAIL = (
    "Failed logins (user.login, failure) show which addresses have accounts to "
    "administrators only: to moderators they name no account (actor_id and "
    "resource_id null) and every refused password reads reason=invalid_credentials "
    "(too_many_attempts stays); filtered by actor_id or resource_id, moderators get "
    "none of them."
)


@frozen
class AuditPage:
    """One page of audit events, newest first."""

    items: list[AuditEventView]
    next_cursor: str | None = field(
        default=None, metadata={"doc": "pass as cursor for the next page; null on the last"}
    )


def _choice(req: falcon.Request, name: str, known: Iterable[str]) -> str | None:
    raw = query_str(req, name, 100)
    options = list(known)
    if raw is not None and raw not in options:
        raise ValidationError.field(name, f"must be one of {', '.join(options)}")
    return raw


def filters_of(req: falcon.Request) -> AuditFilter:
    action = _choice(req, "action", (a.value for a in AuditAction))
    result = _choice(req, "result", (r.value for r in AuditResult))
    actor = query_str(req, "actor_id")
    return AuditFilter(
        actor_id=UserId(actor) if actor is not None else None,
        action=AuditAction(action) if action is not None else None,
        resource_type=query_str(req, "resource_type"),
        resource_id=query_str(req, "resource_id"),
        result=AuditResult(result) if result is not None else None,
        since=query_instant(req, "since"),
        until=query_instant(req, "until"),
    )


def jsonl_lines(events: Iterable[AuditEvent]) -> Iterator[bytes]:
    """One JSON object per line; JSON escapes every newline inside a value."""
    for event in events:
        yield json.dumps(dump(AuditEventView.of(event)), sort_keys=True).encode() + b"\n"


def _cell(value: str | None) -> str:
    text = value or ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _row(event: AuditEvent) -> list[str]:
    view = AuditEventView.of(event)
    return [
        _cell(view.id),
        view.occurred_at.astimezone(UTC).isoformat(),
        _cell(view.actor_id),
        _cell(view.action),
        _cell(view.resource_type),
        _cell(view.resource_id),
        _cell(view.result),
        _cell(view.ip),
        _cell(view.user_agent),
        _cell(json.dumps(view.metadata, sort_keys=True) if view.metadata else ""),
    ]


def csv_rows(events: Iterable[AuditEvent]) -> Iterator[bytes]:
    """A header row, then one row per event (RFC 4180 quoting, CRLF line ends), sent
    in chunks of a few rows. Cells that a spreadsheet would run as a formula get a
    leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for count, event in enumerate(events, 1):
        writer.writerow(_row(event))
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


class Audit:
    def __init__(self, audit: AuditService) -> None:
        self._audit = audit

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._audit.ensure_reader(caller_of(req))  # 403 before a 422 on the filters
        page = self._audit.search(
            caller_of(req),
            filters_of(req),
            query_str(req, "cursor", CURSOR_LENGTH),
            query_int(req, "limit"),
        )
        reply(resp, AuditPage([AuditEventView.of(e) for e in page.items], page.next_cursor))


class AuditExport:
    def __init__(self, audit: AuditService, clock: Clock) -> None:
        self._audit = audit
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._audit.ensure_reader(caller_of(req))  # 403 before a 422 on the filters
        kind = _choice(req, "format", FORMATS) or "jsonl"
        filters = filters_of(req)
        # Checks the permission and audits the export now; the events are read lazily.
        events = self._audit.export(caller_of(req), filters)
        stamp = self._clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        resp.content_type = FORMATS[kind]
        resp.cache_control = ["no-store"]
        resp.set_header("Content-Disposition", f'attachment; filename="audit-{stamp}.{kind}"')
        resp.stream = csv_rows(events) if kind == "csv" else jsonl_lines(events)


class Activity:
    def __init__(self, audit: AuditService) -> None:
        self._audit = audit

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = self._audit.activity(
            caller_of(req), query_str(req, "cursor", CURSOR_LENGTH), query_int(req, "limit")
        )
        resp.cache_control = ["private", "no-store"]
        reply(resp, AuditPage([AuditEventView.of(e) for e in page.items], page.next_cursor))


def routes(c: HttpContext) -> list[Route]:
    tag = "audit"
    return [
        Route(
            f"{API}/me/activity",
            Activity(c.platform.audit),
            (
                Operation(
                    "GET",
                    "Your activity",
                    tag,
                    (Reply(200, "A page of the events you acted in, newest first", AuditPage),),
                    params=(CURSOR, LIMIT),
                    auth="required",
                    errors=(422,),
                    description=(
                        "Any signed-in user: the audit events whose actor is you (sign-ins, "
                        "failed ones on your account included, uploads, shares, changes), "
                        "as the trail holds them."
                    ),
                ),
            ),
        ),
        Route(
            f"{API}/audit",
            Audit(c.platform.audit),
            (
                Operation(
                    "GET",
                    "Search the audit trail",
                    tag,
                    (Reply(200, "A page of matching events, newest first", AuditPage),),
                    params=(*FILTER_PARAMS, CURSOR, LIMIT),
                    auth="required",
                    errors=(403, 422),
                    description=(
                        "Moderators and administrators; refusals are audited. " + ACCOUNT_DETAIL
                    ),
                    scope=Scope.ADMIN,
                ),
            ),
        ),
        Route(
            f"{API}/audit/export",
            AuditExport(c.platform.audit, c.platform.container.resolve(Clock)),
            (
                Operation(
                    "GET",
                    "Export the audit trail",
                    tag,
                    (
                        Reply(
                            200,
                            "Every matching event, newest first. format=jsonl: JSON Lines, "
                            "one event (this schema) per line; format=csv: text/csv with a "
                            "header row and the same fields (metadata as a JSON object)",
                            media=JSONL,
                            schema={
                                "type": "string",
                                "contentMediaType": JSONL,
                                "description": "one AuditEventView object per line",
                            },
                            headers={"Content-Disposition": "attachment with a file name"},
                            also={"text/csv": {"type": "string", "contentMediaType": "text/csv"}},
                        ),
                    ),
                    params=(FORMAT_PARAM, *FILTER_PARAMS),
                    auth="required",
                    errors=(403, 422),
                    description=(
                        "Moderators and administrators; the export itself is audited "
                        "(audit.search with export=true) and refusals too. The range is "
                        "streamed page by page as it is read, never held in memory, and "
                        "covers the trail as it stood when the export began. " + ACCOUNT_DETAIL
                    ),
                    scope=Scope.ADMIN,
                ),
            ),
        ),
    ]
