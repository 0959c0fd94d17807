"""What the resumable-upload use cases take, and where an upload's parts live."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from videoplatform.application.ports.storage import ReadableStream
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.uploads import UploadId

CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
SWEEP_BATCH = 100


def upload_prefix(upload_id: UploadId) -> str:
    """Every part of an upload lives under this prefix; keys never come from user input."""
    return f"uploads/{upload_id}/"


def _valid_algorithm(_: object, __: object, value: str) -> None:
    if value not in CHECKSUM_ALGORITHMS:
        raise ValidationError(
            f"checksum algorithm {value!r} is not supported; use one of "
            + ", ".join(CHECKSUM_ALGORITHMS),
            code="checksum_algorithm_unsupported",
        )


@frozen
class Checksum:
    """The digest a client declares for one chunk's bytes."""

    algorithm: str = field(validator=_valid_algorithm)
    digest: bytes


@frozen
class CreateUpload:
    length: int
    metadata: Mapping[str, str]


@frozen
class AppendChunk:
    upload_id: UploadId
    offset: int
    content: ReadableStream
    declared_size: int | None = None
    """The chunk's size announced before its bytes (a Content-Length)."""
    checksum: Checksum | None = None
