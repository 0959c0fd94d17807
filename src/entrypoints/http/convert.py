"""Conversion at the edge (cattrs): JSON bodies into request models, views into JSON."""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime
from typing import Any, TypeVar

import cattrs
import falcon
import orjson
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from videoplatform.domain.errors import ValidationError
from videoplatform.entrypoints.http.errors import body_read_failed
from videoplatform.entrypoints.http.schema import INT64

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=True)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC (itself when it already is)."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def instant(moment: datetime) -> str:
    """An instant as the API writes it: ISO 8601 in UTC."""
    return utc(moment).isoformat()


converter.register_unstructure_hook(datetime, instant)


def _structure_datetime(value: Any, _: type) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date-time string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("the date-time needs a time zone (for example Z)")
    return moment


def check_text(value: str) -> str:
    """Refuse text no database can store: NUL, and lone surrogates (not Unicode)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _strict(kind: type) -> Any:
    def structure_value(value: Any, _: type) -> Any:
        # JSON true is not 1 and "1" is not 1: clients get an error, not a guess. But 52.0
        # is the integer 52 (JSON Schema's "integer" is any number with no fraction).
        if kind is int and type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not kind and not (kind is float and type(value) is int):
            raise ValueError(f"expected {'a number' if kind is float else kind.__name__}")
        if isinstance(value, str):
            return check_text(value)
        if kind is int and isinstance(value, int) and not -INT64 <= value <= INT64:
            raise ValueError("out of range")
        return value

    return structure_value


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) in (list, tuple) or tp in (list, tuple)


def _list_hook(tp: Any) -> Any:
    item = (typing.get_args(tp) or (Any,))[0]
    as_tuple = typing.get_origin(tp) is tuple or tp is tuple

    def structure_list(value: Any, _: type) -> Any:
        # A JSON string is iterable but is not a list: "music" must not become 5 tags.
        if not isinstance(value, list):
            raise ValueError("expected a list")
        items: list[Any] = []
        errors: list[Exception] = []
        for index, element in enumerate(value):
            try:
                items.append(converter.structure(element, item))
            except Exception as error:
                # The same shape cattrs itself reports, so each item keeps its path.
                note = IterableValidationNote(f"Structuring {tp} @ index {index}", index, item)
                error.__notes__ = [*getattr(error, "__notes__", []), note]
                errors.append(error)
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
        return tuple(items) if as_tuple else items

    return structure_list


converter.register_structure_hook(datetime, _structure_datetime)
for _kind in (str, int, float, bool):
    converter.register_structure_hook(_kind, _strict(_kind))
converter.register_structure_hook_factory(_is_list, _list_hook)


def _paths(error: BaseException, prefix: str = "") -> dict[str, str]:
    """One readable message per offending field, keyed by its dotted path."""
    problems: dict[str, str] = {}
    if isinstance(error, ForbiddenExtraKeysError):
        for key in sorted(error.extra_fields):
            problems[f"{prefix}{key}"] = "unknown field"
        return problems
    if isinstance(error, ClassValidationError):
        with_notes, without = error.group_exceptions()
        for inner, note in with_notes:
            problems.update(_paths(inner, f"{prefix}{note.name}."))
        for inner in without:
            problems.update(_paths(inner, prefix))
        return problems
    if isinstance(error, IterableValidationError):
        indexed, plain = error.group_exceptions()
        for inner, position in indexed:
            problems.update(_paths(inner, f"{prefix}{position.index}."))
        for inner in plain:
            problems.update(_paths(inner, prefix))
        return problems
    where = prefix.rstrip(".") or "body"
    if isinstance(error, KeyError):
        return {where: "is required"}
    return {where: str(error) or type(error).__name__}


def structure(data: Any, cls: type[T]) -> T:
    """``data`` as ``cls``, or ValidationError with one message per offending field."""
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", fields={"body": "not an object"})
    try:
        return converter.structure(data, cls)
    except (
        ClassValidationError,
        ForbiddenExtraKeysError,
        ValueError,
        TypeError,
        KeyError,
    ) as error:
        raise ValidationError("the request body is invalid", fields=_paths(error)) from None


def read_json(req: falcon.Request, cls: type[T], limit: int) -> T:
    """Parse a bounded JSON body into ``cls``."""
    if req.content_length is not None and req.content_length > limit:
        raise falcon.HTTPContentTooLarge(description=f"JSON bodies are limited to {limit} bytes")
    media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise falcon.HTTPUnsupportedMediaType(description="send application/json")
    try:
        if req.content_length is None and req.env.get("wsgi.input_terminated"):
            raw = req.stream.read(limit + 1)  # a chunked body the server ends for us
        else:
            raw = req.bounded_stream.read(limit + 1)
    except OSError as error:  # reset, or too slow: the client's doing, not a fault here
        raise body_read_failed(error, "the connection was reset before the body ended") from None
    if len(raw) > limit:
        raise falcon.HTTPContentTooLarge(description=f"JSON bodies are limited to {limit} bytes")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise falcon.HTTPBadRequest(
            title="Malformed JSON", description="the body is not valid JSON"
        ) from None
    return structure(data, cls)


def dump(view: Any) -> Any:
    return converter.unstructure(view)


def json_bytes(data: Any) -> bytes:
    """JSON-ready ``data`` as a JSON document in UTF-8: orjson (the API's replies spent
    more time in the standard library's encoder than in their queries), or the standard
    library for what orjson refuses (integers past 64 bits).

    An instant in ``data`` may be left a UTC datetime: orjson writes it as
    :func:`instant` does, in a seventh of the time (a page holds forty of them)."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, default=_instant_or_refuse).encode()


def _instant_or_refuse(value: Any) -> str:
    if isinstance(value, datetime):
        return instant(value)
    raise TypeError(f"{type(value).__name__} is not JSON-ready")
