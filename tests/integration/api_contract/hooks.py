"""What the property-based API tests need to know beyond the OpenAPI document.

Loaded by schemathesis (``SCHEMATHESIS_HOOKS=hooks``, this folder on ``PYTHONPATH``),
from the integration test and from ``nox -s api_fuzz`` alike. Each hook states a rule
the document describes in words because JSON Schema cannot say it:

- a cursor is opaque, issued by the server as ``next_cursor``: positive examples
  leave it out rather than make one up (negative examples still send made-up
  cursors, which must be refused; tests elsewhere page through real ones);
- ``until`` must be later than ``since``;
- a form sends its text fields before the file, and the query string's fields are
  for a raw body only;
- a tus chunk is raw bytes (``application/offset+octet-stream``);
- an audit export in JSON Lines holds one audit event per line: its lines (the first
  500) are checked against the event's schema.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import jsonschema
import schemathesis
from schemathesis.core.deserialization import DeserializationContext
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


def _positive_query(case: Any) -> bool:
    if case.meta is None:
        return True
    info = case.meta.components.get(ParameterLocation.QUERY)
    mode = info.mode if info is not None else case.meta.generation.mode
    return bool(mode is GenerationMode.POSITIVE)


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if case.media_type == "multipart/form-data" and isinstance(case.body, dict):
        if "file" in case.body:  # the fields, then the file
            case.body = {
                **{k: v for k, v in case.body.items() if k != "file"},
                "file": case.body["file"],
            }
        if _positive_query(case):
            case.query = {}  # the query's fields are for a raw body only
    query = case.query
    if not query or not _positive_query(case):
        return case
    query.pop("cursor", None)
    since, until = _instant(query.get("since")), _instant(query.get("until"))
    if since is not None and until is not None and until <= since:
        try:
            query["until"] = (since + timedelta(seconds=1)).isoformat()
        except OverflowError:
            del query["since"]
    return case


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Cases whose negation cannot reach the server are left out:

    - Python's HTTP client sends a POST without a body as ``Content-Length: 0``, which is
      an empty file to ``POST /files`` (a request with no body at all is refused with
      422, as a test of its own shows);
    - a form's part is text on the wire: a field "made" a boolean or a number arrives as
      the text ``false`` or ``12``, which may well be valid (negations of the text
      itself, such as lengths and patterns, are kept)."""
    if case.meta is None:
        return True
    body = case.meta.components.get(ParameterLocation.BODY)
    if body is None or body.mode is not GenerationMode.NEGATIVE:
        return True
    if case.operation.label == "POST /api/v1/files" and _no_body(case):
        return False
    if case.media_type == "multipart/form-data" and isinstance(case.body, dict):
        return all(isinstance(value, str | bytes) for value in case.body.values())
    return True


def _no_body(case: Any) -> bool:
    return case.body is None or type(case.body).__name__ == "NotSet"


LINES_CHECKED = 500
"""Lines of an export checked: every line comes from the same code, and the trail grows
with every request of a long run (an export of all of it would take seconds to check)."""
_LINE_VALIDATORS: dict[int, jsonschema.Draft202012Validator] = {}


def _line_validator(document: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """One validator per document (checking the schema itself again for each line of
    a long export would take most of the run)."""
    key = id(document)
    if key not in _LINE_VALIDATORS:
        schema = {
            "$ref": "#/components/schemas/AuditEventView",
            "components": document["components"],
        }
        _LINE_VALIDATORS[key] = jsonschema.Draft202012Validator(schema)
    return _LINE_VALIDATORS[key]


@schemathesis.deserializer("application/jsonl")
def jsonl(ctx: DeserializationContext, response: Any) -> Any:
    """The body as text, once its lines are audit events as the document describes."""
    validator = _line_validator(ctx.operation.schema.raw_schema)
    text = response.content.decode("utf-8")
    for number, line in enumerate(text.splitlines()[:LINES_CHECKED], 1):
        try:
            error = jsonschema.exceptions.best_match(validator.iter_errors(json.loads(line)))
        except ValueError as malformed:
            raise ValueError(f"line {number} is not JSON: {malformed}") from None
        if error is not None:
            raise ValueError(f"line {number} is not an audit event: {error.message}")
    return text
