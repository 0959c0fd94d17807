"""HTTP range requests (RFC 9110, section 14) for single byte ranges, and the
conditional-request and body helpers every byte download shares."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO, Literal
from urllib.parse import quote

import falcon

from videoplatform.application.ports.storage import ByteRange
from videoplatform.entrypoints.http.errors import coded

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


# -- answering conditional and range requests (shared by every byte download) -----------


def chosen_range(req: falcon.Request, size: int, etag: str) -> ByteRange | Unsatisfiable | None:
    """The range to send: ``Range`` applies only when ``If-Range`` is absent or names the
    representation's current (unquoted) ``etag``."""
    if_range = req.get_header("If-Range")
    if if_range is not None and if_range.strip('"') != etag:
        return None
    return parse_range(req.get_header("Range"), size)


def not_modified(req: falcon.Request, etag: str, modified: datetime | None) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since
    (unless ``modified`` is None: a representation without a modification time).
    A malformed validator is ignored, as RFC 9110 13.1 asks: the full reply goes out."""
    try:
        tags = req.if_none_match
    except falcon.HTTPInvalidHeader:
        tags = None
    if tags is not None:
        return any(tag == "*" or tag == etag for tag in tags)
    try:
        since = req.if_modified_since  # naive, in UTC
    except falcon.HTTPInvalidHeader:
        since = None
    if since is None or modified is None:
        return False
    changed = modified.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return changed <= since.replace(tzinfo=None)


def close_stream(chunks: object) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def unsatisfiable(resp: falcon.Response, size: int) -> falcon.HTTPError:
    """The 416 to raise for a range past the end (its Content-Range names the size)."""
    resp.set_header("Content-Range", f"bytes */{size}")
    return coded(falcon.HTTPRangeNotSatisfiable(size), "range_not_satisfiable")


def send_bytes(
    resp: falcon.Response, picked: ByteRange | None, size: int, chunks: Iterator[bytes] | BinaryIO
) -> None:
    """The whole representation (200) or the range (206) as the body. A stream with
    read() goes out through wsgi.file_wrapper (sendfile when the server can)."""
    resp.set_header("Accept-Ranges", "bytes")
    if picked is not None:
        resp.status = falcon.HTTP_206
        resp.set_header("Content-Range", f"bytes {picked.start}-{picked.end}/{size}")
        resp.content_length = picked.length
    else:
        resp.content_length = size
    resp.stream = chunks


def accel_redirect(resp: falcon.Response, prefix: str, key: str) -> None:
    """Hand the body to the front server (nginx ``X-Accel-Redirect``): it serves the
    storage key from its internal location, ranges included. Only after every check."""
    resp.set_header("X-Accel-Redirect", prefix + quote(key, safe="/"))
    resp.set_header("Accept-Ranges", "bytes")
    resp.content_length = None
    resp.text = None
