"""Object storage for uploaded sources, files and processing outputs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO, Protocol

from attrs import frozen

from videoplatform.domain.errors import ValidationError


class ReadableStream(Protocol):
    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""
        ...


@frozen
class ByteRange:
    """Inclusive byte range ``start`` to ``end`` as HTTP Range uses it."""

    start: int
    end: int

    def __attrs_post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValidationError.field("range", "invalid byte range")

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@frozen
class ObjectInfo:
    key: str
    size: int


class ObjectStorage(Protocol):
    def put(self, key: str, stream: ReadableStream) -> ObjectInfo:
        """Stream ``stream`` into ``key`` until it ends. Atomic: the object becomes visible
        only once complete; if reading or writing fails, nothing is left under ``key``
        and the exception propagates. Overwrites an existing object atomically."""
        ...

    def get(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        """The object's bytes (or the range, clipped to its size) in chunks.
        NotFound if absent; ValidationError(code="range_not_satisfiable") if the range
        starts past the end."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Size of the object; NotFound if absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def download_url(
        self, key: str, *, expires_seconds: int, content_type: str, content_disposition: str
    ) -> str | None:
        """A short-lived URL from which a client fetches the object directly, answered
        with these ``Content-Type`` and ``Content-Disposition`` headers; or None when
        this adapter has no such URLs (the bytes are then served through the API).
        Signing may be local: it need not check that the object exists."""
        ...

    def open_file(self, key: str) -> BinaryIO | None:
        """The object as an open file on a local filesystem (so a server can send it with
        sendfile), or None when the adapter keeps objects elsewhere. NotFound if absent.
        The caller closes the file."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting an absent key is not an error (idempotent)."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix`` (which must end in "/");
        returns how many were removed."""
        ...

    def sweep_partial(self, started_before: datetime) -> int:
        """Remove what writes that never finished left behind (a process killed in the
        middle of ``put``): never visible as objects, yet holding space. Only what was
        last written to (or, where the store cannot tell, started) before
        ``started_before`` is touched, so a write in progress is left alone. Returns
        how many partial writes were removed."""
        ...
