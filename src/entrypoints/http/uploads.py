"""Upload bodies as streams: nothing here ever holds a whole body in memory.

A raw body is read from the WSGI input in chunks of at most :data:`CHUNK` bytes. A
``multipart/form-data`` body is parsed while it streams (Falcon's multipart parser over
a buffered reader of the same input): the metadata fields, which must come *before*
the file part, are read (each bounded), then the file part's own stream is handed on.

Limits: a declared Content-Length above the limit is refused with 413 before a byte is
read. A body without one (``Transfer-Encoding: chunked``, which the server has already
de-chunked and terminated, PEP 3333 ``wsgi.input_terminated``) is counted as it is read
and stopped with 413 once past the limit; the application's MeteredReader holds the
file itself to the exact limit either way.

The type of an upload is decided from its first bytes (:func:`domain.media_types.sniff`):
``peek`` (in the application's streams) reads them and returns a stream that replays
them before the rest. Whether a video upload is a video is the upload use case's rule.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

import falcon
from falcon.media.multipart import BodyPart, MultipartForm, MultipartFormHandler
from falcon.util import BufferedReader

from videoplatform.application.context import Caller
from videoplatform.application.ports.storage import ReadableStream
from videoplatform.application.streams import Replay, peek
from videoplatform.domain.errors import AuthenticationFailed, QuotaExceeded, ValidationError
from videoplatform.domain.media_types import MediaType, sniff
from videoplatform.entrypoints.http.errors import body_read_failed, incomplete_body
from videoplatform.entrypoints.http.middleware import caller_of

CHUNK = 64 * 1024
"""The most any single read of the request input asks for."""
FORM_ALLOWANCE = 256 * 1024
"""What a multipart body may carry besides the file: boundaries, part headers and the
metadata fields (each at most FIELD_LIMIT)."""
FIELD_LIMIT = 48 * 1024
FILE_FIELD = "file"
LIST_FIELDS = frozenset({"tags"})
"""Fields that may be repeated (their values are joined with commas)."""


class BodyReader:
    """Reads ``source`` in chunks of at most ``chunk`` bytes (whatever size the caller
    asks for) and, when ``limit`` is set, stops with QuotaExceeded once past it."""

    def __init__(
        self,
        source: ReadableStream,
        limit: int | None = None,
        *,
        chunk: int = CHUNK,
        expected: int | None = None,
    ) -> None:
        self._source = source
        self._limit = limit
        self._chunk = chunk
        self._expected = expected
        self.consumed = 0

    def read(self, size: int = -1, /) -> bytes:
        wanted = self._chunk if size < 0 else min(size, self._chunk)
        if wanted == 0:
            return b""
        try:
            data = self._source.read(wanted)
        except OSError as error:  # reset, or too slow: the client's doing, not a fault here
            of = f" of {self._expected}" if self._expected is not None else ""
            raise body_read_failed(
                error, f"the connection was reset after {self.consumed}{of} bytes of the body"
            ) from None
        if not data and self._expected is not None and self.consumed < self._expected:
            # The client went away mid-body: never store the part as if it were whole.
            raise incomplete_body(f"the body ended after {self.consumed} of {self._expected} bytes")
        self.consumed += len(data)
        if self._limit is not None and self.consumed > self._limit:
            raise QuotaExceeded(f"the upload is larger than the {self._limit}-byte limit")
        return data


def sniffed(stream: ReadableStream) -> tuple[MediaType, bytes, Replay]:
    """What ``stream`` holds, judged by its first bytes; the replaying stream to store."""
    head, replay = peek(stream)
    return sniff(head), head, replay


def authenticated(req: falcon.Request) -> Caller:
    """The caller, who must be signed in: uploads refuse anonymous callers before
    reading a byte rather than after sniffing the body."""
    caller = caller_of(req)
    if caller.user_id is None:
        raise AuthenticationFailed("authentication required")
    return caller


def is_multipart(req: falcon.Request) -> bool:
    media = (req.content_type or "").split(";", 1)[0].strip().lower()
    return media == falcon.MEDIA_MULTIPART


def has_body(req: falcon.Request) -> bool:
    """Whether the request carries a body at all (an empty one counts): HTTP/1.1 says so
    with Content-Length or Transfer-Encoding, and a request with neither has none."""
    return req.content_length is not None or bool(req.get_header("Transfer-Encoding"))


def request_body(req: falcon.Request, limit: int) -> BodyReader:
    """The request body as a chunked stream of at most ``limit`` bytes (413 otherwise)."""
    length = req.content_length
    if not has_body(req):
        return BodyReader(_Empty())
    if length is not None:
        if length > limit:
            raise QuotaExceeded(f"the upload is larger than the {limit}-byte limit")
        return BodyReader(req.bounded_stream, expected=length)
    if req.env.get("wsgi.input_terminated"):
        # The server de-chunked the body and ends the input with it: safe to read to EOF.
        return BodyReader(req.stream, limit)
    # Chunked, and the server does not end the input with the body.
    raise falcon.HTTPLengthRequired(
        description="this server needs a Content-Length for a body of unknown length"
    )


class LaterBody:
    """The request body of at most ``limit`` bytes, opened on the first read: the
    service settles the caller's right first, so someone who may not write hears
    403/404, not 413. A Content-Length over the limit is then 413 before a byte is
    read."""

    def __init__(self, req: falcon.Request, limit: int) -> None:
        self._req = req
        self._limit = limit
        self._body: BodyReader | None = None

    def read(self, size: int = -1, /) -> bytes:
        if self._body is None:
            self._body = request_body(self._req, self._limit)
        return self._body.read(size)


class _Empty:
    def read(self, size: int = -1, /) -> bytes:
        return b""


def form_parts(req: falcon.Request, limit: int) -> Iterator[BodyPart]:
    """The parts of a ``multipart/form-data`` body whose file may be ``limit`` bytes,
    parsed as they stream in.

    Falcon's ``req.get_media()`` would build the same parser, but it insists on a
    Content-Length; here the parser reads through :func:`request_body` instead, which
    also bounds and chunks every read of a chunked body.
    """
    body = request_body(req, limit + FORM_ALLOWANCE)
    handler = req.options.media_handlers.get(falcon.MEDIA_MULTIPART)
    if not isinstance(handler, MultipartFormHandler):
        handler = MultipartFormHandler()
    length = req.content_length
    buffered = BufferedReader(body.read, sys.maxsize if length is None else length, CHUNK)
    form: MultipartForm = handler.deserialize(buffered, req.content_type, length)
    return iter(form)


def read_fields(
    parts: Iterator[BodyPart], allowed: frozenset[str]
) -> tuple[dict[str, str], BodyPart | None]:
    """The metadata fields before the file part (each read whole, within FIELD_LIMIT)
    and that part, still unread; None if the form has no file part."""
    fields: dict[str, str] = {}
    for part in parts:
        name = _part_name(part)
        if name == FILE_FIELD:
            return fields, part
        if name is None:
            raise ValidationError.field("form", "every part needs a name")
        if name not in allowed:
            raise ValidationError.field(name, "unknown field (the file part is named 'file')")
        value = _field_text(part, name)
        if not value:
            raise ValidationError.field(name, "must not be empty (leave the field out)")
        if name in fields:
            if name not in LIST_FIELDS:
                raise ValidationError.field(name, "given more than once")
            value = f"{fields[name]},{value}"
        fields[name] = value
    return fields, None


def file_name(part: BodyPart) -> str | None:
    """The file part's filename (``filename*`` or UTF-8 ``filename``), if it has one."""
    try:
        return part.filename
    except UnicodeDecodeError:  # Falcon decodes part headers as UTF-8 and lets this out
        raise _not_utf8() from None


def _part_name(part: BodyPart) -> str | None:
    try:
        return part.name
    except UnicodeDecodeError:
        raise _not_utf8() from None


def _not_utf8() -> falcon.HTTPError:
    return falcon.HTTPBadRequest(title="Malformed form", description="part headers must be UTF-8")


def _field_text(part: BodyPart, name: str) -> str:
    data = b""
    while len(data) <= FIELD_LIMIT:
        chunk = part.stream.read(FIELD_LIMIT + 1 - len(data))
        if not chunk:
            break
        data += chunk
    if len(data) > FIELD_LIMIT:
        raise ValidationError.field(name, f"at most {FIELD_LIMIT} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError.field(name, "must be UTF-8 text") from None
    # Browsers send every line break of a form field as CRLF (HTML form submission).
    return text.replace("\r\n", "\n")


def query_fields(req: falcon.Request, allowed: frozenset[str]) -> dict[str, str]:
    """The metadata of a raw upload, from the query string (other parameters ignored);
    a repeated one is refused, except list fields such as tags, which are joined."""
    fields: dict[str, str] = {}
    params: Mapping[str, str | list[str]] = req.params
    for name in sorted(allowed & params.keys()):
        value = params[name]
        if isinstance(value, list):
            if name not in LIST_FIELDS:
                raise ValidationError.field(name, "given more than once")
            value = ",".join(value)
        fields[name] = value
    return fields


def form_only(req: falcon.Request, allowed: frozenset[str]) -> None:
    """A form carries its metadata as fields: the same names in the query string beside
    it are refused rather than silently ignored."""
    given = sorted(allowed & req.params.keys())
    if given:
        raise ValidationError(
            "with multipart/form-data, send the metadata as form fields",
            fields={name: "goes in the form, not the query string" for name in given},
        )


def split_list(raw: str) -> list[str]:
    """``"a, b,,c"`` as ``["a", "b", "c"]``."""
    return [item.strip() for item in raw.split(",") if item.strip()]
