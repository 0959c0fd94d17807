"""Keyset pagination with opaque cursors.

A cursor encodes the sort key of the last item a client saw, so pages stay stable when
rows are inserted before it; clients must treat it as an opaque string.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Generic, TypeVar

from attrs import frozen

from videoplatform.domain.errors import ValidationError

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@frozen
class Page(Generic[T]):
    items: tuple[T, ...]
    next_cursor: str | None


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError.field("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def encode_cursor(kind: str, key: Sequence[str | int | float]) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> list[str | int | float]:
    """Decode a cursor made by :func:`encode_cursor` for the same list ``kind``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationError.field("cursor", "malformed cursor") from None
    if not isinstance(data, list) or not data or data[0] != kind:
        raise ValidationError.field("cursor", "cursor does not belong to this list")
    key = data[1:]
    if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in key):
        raise ValidationError.field("cursor", "malformed cursor")
    for value in key:
        if isinstance(value, int) and not 0 <= value < 2**63:
            raise ValidationError.field("cursor", "malformed cursor")
        if isinstance(value, str) and ("\x00" in value or not value.isprintable()):
            raise ValidationError.field("cursor", "malformed cursor")
    return key


def time_keyset(kind: str, cursor: str) -> tuple[datetime, str]:
    """Decode a cursor whose key is ``(timestamp, id)``."""
    key = decode_cursor(kind, cursor)
    if len(key) != 2 or not isinstance(key[0], str) or not isinstance(key[1], str):
        raise ValidationError.field("cursor", "malformed cursor")
    return parse_instant(key[0]), key[1]


def parse_instant(text: str) -> datetime:
    """A timezone-aware timestamp from a cursor; anything else is a malformed cursor."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError.field("cursor", "malformed cursor") from None
    if moment.tzinfo is None:
        raise ValidationError.field("cursor", "malformed cursor")
    try:
        moment.astimezone(UTC)  # e.g. 9999-12-31T23:59:59-23:59 has no UTC equivalent
    except OverflowError:
        raise ValidationError.field("cursor", "malformed cursor") from None
    return moment


def time_cursor(kind: str, moment: datetime, last_id: str) -> str:
    return encode_cursor(kind, [moment.isoformat(), last_id])
