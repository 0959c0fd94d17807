"""Resumable uploads: bytes that arrive in chunks, possibly over days and connections,
and become a video or a file once the last byte is in.

The aggregate keeps what was declared (length, what the upload becomes) and what has
arrived (the ordered parts and the offset). Parts live in object storage under keys the
platform builds; nothing a client sends ever becomes part of a key.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import NewType

from attrs import define, field, frozen

from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.errors import Conflict, DomainError, QuotaExceeded, ValidationError
from videoplatform.domain.files import FolderPath, clean_file_name
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import Permission
from videoplatform.domain.videos import Visibility, clean_description, clean_title

UploadId = NewType("UploadId", str)

OFFSET_MISMATCH = "offset_mismatch"
"""The ``Conflict.code`` of a chunk sent at an offset other than the upload's."""

UPLOAD_COMPLETING = "upload_completing"
"""The ``Conflict.code`` of a request that would complete an upload another request is
already completing."""

COMPLETION_LEASE = timedelta(minutes=15)
"""How long a completion claim holds. A claim older than this is taken to belong to a
completion that died (a crashed process) and may be taken over."""


class UploadGone(DomainError):
    """The upload expired (or was finished and forgotten): it takes no more bytes."""

    code = "upload_expired"


class ChecksumMismatch(ValidationError):
    """A chunk's bytes do not match the checksum the client declared for them."""

    code = "checksum_mismatch"


class UnsupportedMedia(ValidationError):
    """The bytes are not of a kind the upload may become (a video that is not a video)."""

    code = "unsupported_media_type"


class TooManyOpenUploads(QuotaExceeded):
    """The user already has as many open (unfinished, unexpired) uploads as allowed."""

    code = "too_many_open_uploads"


class UploadKind(enum.Enum):
    VIDEO = "video"
    FILE = "file"

    @property
    def permission(self) -> Permission:
        return Permission.VIDEO_UPLOAD if self is UploadKind.VIDEO else Permission.FILE_MANAGE


def parse_target(metadata: Mapping[str, str]) -> tuple[UploadKind, dict[str, str]]:
    """What the upload becomes, from its metadata, validated by the same rules as a plain
    upload of that kind. Returns the kind and the cleaned metadata kept for completion;
    unknown keys are dropped (clients add their own, such as a file type)."""
    raw_kind = metadata.get("kind", "").strip().lower()
    try:
        kind = UploadKind(raw_kind)
    except ValueError:
        raise ValidationError.field("kind", "must be video or file") from None
    if kind is UploadKind.VIDEO:
        title = metadata.get("title")
        if title is None:
            raise ValidationError.field("title", "is required")
        cleaned = {"title": clean_title(title)}
        description = metadata.get("description", "")
        cleaned["description"] = clean_description(description)
        chosen = metadata.get("visibility", "").strip().lower()
        visibility = Visibility.PRIVATE
        if chosen:
            try:
                visibility = Visibility(chosen)
            except ValueError:
                raise ValidationError.field(
                    "visibility", "must be one of public, unlisted, private"
                ) from None
        cleaned["visibility"] = visibility.value
        return kind, cleaned
    filename = metadata.get("filename")
    if not filename:
        raise ValidationError.field("filename", "is required")
    folder = FolderPath.parse(metadata.get("folder") or "/")
    return kind, {"filename": clean_file_name(filename), "folder": folder.value}


@frozen
class UploadPart:
    """One accepted chunk: where its bytes are and how many there are."""

    key: str
    size: int


@frozen
class UploadResult:
    """What a completed upload became."""

    kind: UploadKind
    id: str


@define(eq=False, slots=False)
class ResumableUpload(Aggregate):
    id: UploadId
    owner_id: UserId
    kind: UploadKind
    metadata: dict[str, str]
    length: int
    created_at: datetime
    expires_at: datetime
    offset: int = 0
    parts: list[UploadPart] = field(factory=list)
    result: UploadResult | None = None
    completing_since: datetime | None = None
    """When a request claimed the completion (streaming the parts into a video or a
    file); None when no completion is under way."""

    @classmethod
    def start(
        cls,
        *,
        id: UploadId,
        owner_id: UserId,
        metadata: Mapping[str, str],
        length: int,
        now: datetime,
        lifetime: timedelta,
    ) -> ResumableUpload:
        if length < 0:
            raise ValidationError.field("length", "must not be negative")
        kind, cleaned = parse_target(metadata)
        return cls(
            id=id,
            owner_id=owner_id,
            kind=kind,
            metadata=cleaned,
            length=length,
            created_at=now,
            expires_at=now + lifetime,
        )

    @property
    def remaining(self) -> int:
        return self.length - self.offset

    @property
    def is_complete(self) -> bool:
        """Every declared byte has arrived."""
        return self.offset == self.length

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def check_chunk(self, offset: int, now: datetime) -> None:
        """Whether a chunk may be sent at ``offset`` now (before any byte is read)."""
        if self.is_expired(now):
            raise UploadGone("the upload has expired")
        if offset != self.offset:
            raise Conflict(
                f"the upload is at offset {self.offset}, not {offset}", code=OFFSET_MISMATCH
            )

    def accept_chunk(self, offset: int, part: UploadPart, now: datetime) -> None:
        """Append a stored chunk. It must start where the upload stands and fit within
        the declared length; otherwise nothing changes."""
        self.check_chunk(offset, now)
        if part.size < 0 or part.size > self.remaining:
            raise QuotaExceeded(
                f"the chunk would pass the declared length of {self.length} bytes",
                code="upload_length_exceeded",
            )
        self.parts.append(part)
        self.offset += part.size

    def is_completing(self, now: datetime) -> bool:
        """A completion claimed within the lease is under way."""
        since = self.completing_since
        return since is not None and now - since < COMPLETION_LEASE

    def begin_completion(self, now: datetime) -> None:
        """Claim the completion for one request. Refused with Conflict (code
        ``upload_completing``) while another request holds a claim younger than
        :data:`COMPLETION_LEASE`; an older claim is taken over."""
        self._check_completable()
        if self.is_completing(now):
            raise Conflict("another request is completing the upload", code=UPLOAD_COMPLETING)
        self.completing_since = now

    def abandon_completion(self) -> None:
        """Release the claim after a refused completion, so that it may be tried again."""
        self.completing_since = None

    def complete(self, result: UploadResult) -> list[UploadPart]:
        """Record what the upload became and release the completion claim; returns the
        parts, which are no longer needed."""
        self._check_completable()
        self.result = result
        self.completing_since = None
        done, self.parts = self.parts, []
        return done

    def _check_completable(self) -> None:
        if not self.is_complete:
            raise Conflict("the upload is not complete yet", code="upload_incomplete")
        if self.result is not None:
            raise Conflict("the upload is already complete", code="upload_completed")
