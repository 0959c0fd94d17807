"""The audit trail's hash chain: each event's hash covers its content and the hash
before it, so changing, removing or reordering a stored event is detectable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

GENESIS = "0" * 64


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    return value


def event_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    body = json.dumps(_canonical(content), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@frozen
class ChainReport:
    checked: int
    broken_at: str | None
    """The id of the first event whose hash does not match, or None if all match."""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(rows: Iterable[tuple[Mapping[str, Any], str, str]]) -> ChainReport:
    """Check ``(content, prev_hash, hash)`` rows in append order.

    The first row's ``prev_hash`` is taken as the anchor (events before it may have been
    removed by retention); every later row must link to the one before it.
    """
    checked = 0
    expected_prev: str | None = None
    for content, prev_hash, stored_hash in rows:
        if expected_prev is not None and prev_hash != expected_prev:
            return ChainReport(checked, str(content["id"]))
        if event_hash(prev_hash, content) != stored_hash:
            return ChainReport(checked, str(content["id"]))
        expected_prev = stored_hash
        checked += 1
    return ChainReport(checked, None)
