"""JSON Schemas generated from the attrs classes the API reads and writes.

The OpenAPI document is built from these, so it cannot drift from the code: a field
added to a model shows up in the document, and a test checks real responses against it.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Union

import attrs

Schema = dict[str, Any]


def schema_name(cls: type) -> str:
    return cls.__name__


def type_schema(tp: Any, components: dict[str, Schema]) -> Schema:
    """The schema of one annotation, registering attrs classes under ``components``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return {}
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        inner = (
            type_schema(options[0], components)
            if len(options) == 1
            else {"anyOf": [type_schema(a, components) for a in options]}
        )
        if type(None) in args:
            return {"anyOf": [inner, {"type": "null"}]}
        return inner
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, tuple, Sequence, set, frozenset) or tp in (list, tuple):
        item = args[0] if args else Any
        return {"type": "array", "items": type_schema(item, components)}
    if origin in (dict, Mapping):
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": type_schema(value, components)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [m.value for m in tp]}
    if isinstance(tp, type) and attrs.has(tp):
        name = schema_name(tp)
        if name not in components:
            components[name] = {}  # placeholder: breaks recursion
            components[name] = object_schema(tp, components)
        return {"$ref": f"#/components/schemas/{name}"}
    simple: dict[Any, Schema] = {
        str: {"type": "string"},
        bool: {"type": "boolean"},
        int: {"type": "integer"},
        float: {"type": "number"},
        datetime: {"type": "string", "format": "date-time"},
    }
    if tp in simple:
        return dict(simple[tp])
    raise TypeError(f"no JSON Schema for {tp!r}")


TEXT_PATTERN = r"\S"
"""Text the server trims and collapses: it must hold something besides spaces."""


def text_rules(max_length: int, min_length: int = 1) -> Schema:
    """The rules of a trimmed text field, for a field's ``metadata={"schema": ...}``:
    the same constants the domain validates with, so the document says what the
    server checks."""
    rules: Schema = {"maxLength": max_length}
    if min_length:
        rules |= {"minLength": min_length, "pattern": TEXT_PATTERN}
    return rules


def _constrained(prop: Schema, rules: Schema) -> Schema:
    """``prop`` with ``rules`` added; for a nullable property, to its non-null form."""
    options = prop.get("anyOf")
    if options and {"type": "null"} in options:
        return {"anyOf": [o if o == {"type": "null"} else {**o, **rules} for o in options]}
    return {**prop, **rules}


def object_schema(cls: type, components: dict[str, Schema]) -> Schema:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Schema] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        prop = type_schema(hints[field.name], components)
        rules = field.metadata.get("schema")
        if rules:
            prop = _constrained(prop, rules)
        doc = field.metadata.get("doc")
        if doc:
            prop = {**prop, "description": doc}
        properties[field.name] = prop
        if field.default is attrs.NOTHING:
            required.append(field.name)
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    if cls.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    return schema
