"""JSON Schemas generated from the attrs classes the API reads and writes.

The OpenAPI document is built from these, so it cannot drift from the code: a field
added to a model shows up in the document, and a test checks real responses against it.
"""

from __future__ import annotations

import enum
import functools
import re
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Union

import attrs

from videoplatform.entrypoints.http import code_point_classes as stored

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
        str: {"type": "string", **NO_NUL},
        bool: {"type": "boolean"},
        int: {"type": "integer", "minimum": -INT64, "maximum": INT64},
        float: {"type": "number"},
        datetime: {"type": "string", "format": "date-time"},
    }
    if tp in simple:
        return dict(simple[tp])
    raise TypeError(f"no JSON Schema for {tp!r}")


INT64 = 2**63 - 1
"""The largest magnitude of an integer the server takes (a database's BIGINT)."""

END = r"(?![\s\S])"
"""The end of the text, said the same in every regular-expression dialect (a ``$``
also matches before a final line break in some, such as Python's)."""

NO_NUL: Schema = {"not": {"pattern": r"\u0000"}}
"""No text holds NUL: the server refuses it in any string (no database stores it)."""


@functools.cache
def _whitespace() -> str:
    return char_class("whitespace", str.isspace)


def space() -> str:
    """A class of the whitespace the server trims and collapses (``str.isspace``), in
    literal characters: ``\\s`` means other characters in other dialects (JavaScript's
    leaves out U+001C..U+001F and U+0085 and adds U+FEFF)."""
    return f"[{_whitespace()}]"


def not_space() -> str:
    """A class of any character but that whitespace."""
    return f"[^{_whitespace()}]"


def any_case(text: str) -> str:
    """A pattern of ``text`` in any case (no flags: dialects spell them differently)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)


def text_rules(max_length: int, refused: str = "") -> Callable[[], Schema]:
    """The rules of a one-line text field that the server trims and collapses (see
    ``domain.text.one_line``), for a field's ``metadata={"schema": ...}``: at most
    ``max_length`` characters as sent, something besides whitespace among them.
    ``refused``: characters the text must not hold (inside a class). Built when the
    document is."""

    def rules() -> Schema:
        pattern = rf"^(?=[\s\S]*{not_space()})[^{refused}]*{END}" if refused else not_space()
        return {"minLength": 1, "maxLength": max_length, "pattern": pattern}

    return rules


def char_class(name: str, holds: Callable[[str], bool]) -> str:
    """The inside of a regular-expression class (``[...]``) of every code point ``holds``
    for, as ranges of literal characters. Surrogates are left out: no JSON text carries
    them.

    Finding them means asking ``holds`` about each of the 1,114,112 code points: about a
    second each, nine classes, in every process that builds the OpenAPI document. So the
    ranges are stored, under ``name``, in :mod:`code_point_classes` for the Unicode
    version that made them, and scanned only where that is not this Python's (or the
    name is not there). A test scans them all again and compares;
    ``scripts/code_point_classes.py`` writes them anew."""
    _NAMED[name] = holds
    ranges = stored_ranges(name)
    if ranges is None:
        ranges = scan_ranges(holds)
    return class_text(ranges)


_NAMED: dict[str, Callable[[str], bool]] = {}
"""Every class built in this process, by name (what the stored ranges must match)."""


def named_classes() -> dict[str, Callable[[str], bool]]:
    return dict(_NAMED)


def stored_ranges(name: str) -> list[tuple[int, int]] | None:
    if unicodedata.unidata_version != stored.UNICODE_VERSION:
        return None
    packed = stored.RANGES.get(name)
    if packed is None:
        return None
    ranges: list[tuple[int, int]] = []
    for item in packed.split():
        first, _, last = item.partition("-")
        ranges.append((int(first, 16), int(last or first, 16)))
    return ranges


def scan_ranges(holds: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Every code point but surrogates that ``holds`` for, as inclusive ranges."""
    ranges: list[tuple[int, int]] = []
    for point in range(0x110000):
        if 0xD800 <= point <= 0xDFFF or not holds(chr(point)):
            continue
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    return ranges


def class_text(ranges: list[tuple[int, int]]) -> str:
    def literal(point: int) -> str:
        char = chr(point)
        return "\\" + char if char in "\\]^-[" else char

    return "".join(literal(a) if a == b else f"{literal(a)}-{literal(b)}" for a, b in ranges)


Rules = Schema | Callable[[], Schema]
"""A field's or parameter's rules, or a function that builds them when the document is
(rules that take a while to build, such as patterns from a scan of Unicode)."""


def rules_of(rules: Rules) -> Schema:
    return rules() if callable(rules) else rules


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
            prop = _constrained(prop, rules_of(rules))
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
    # Rules across fields that the class states itself (such as "exactly one of").
    schema.update(getattr(cls, "__schema_rules__", {}))
    return schema


def exactly_one_of(*names: str) -> Schema:
    """For ``__schema_rules__``: exactly one of the nullable fields ``names`` is given
    (present and not null)."""
    return {
        "oneOf": [
            {
                "required": [name],
                "properties": {
                    other: ({"not": {"type": "null"}} if other == name else {"type": "null"})
                    for other in names
                },
            }
            for name in names
        ]
    }
