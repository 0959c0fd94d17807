"""HTTP range requests (RFC 9110, section 14) for single byte ranges."""

from __future__ import annotations

import re
from typing import Literal

from application.ports.storage import ByteRange

_SINGLE = re.compile(r"^bytes=(\d*)-(\d*)$")

Unsatisfiable = Literal["unsatisfiable"]


def parse_range(header: str | None, size: int) -> ByteRange | Unsatisfiable | None:
    """The single byte range ``header`` asks of a ``size``-byte representation.

    None means "send everything": no header, another unit, several ranges (which a
    server may answer in full) or a malformed value (which it must ignore).
    """
    if not header:
        return None
    match = _SINGLE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignore the header
    if start >= size:
        return "unsatisfiable"
    return ByteRange(start, min(end, size - 1))
