"""What the video use cases take: an upload, a metadata change, a list filter."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from videoplatform.application.ports.persistence import (
    VideoSort,
)
from videoplatform.application.ports.storage import ReadableStream
from videoplatform.domain.ids import CategoryId, UserId
from videoplatform.domain.videos import (
    VideoStatus,
    Visibility,
)


@frozen
class UploadVideo:
    title: str
    source: ReadableStream
    description: str = ""
    category_id: CategoryId | None = None
    tags: Sequence[str] = ()
    visibility: Visibility | None = None
    """None: the uploader's default (their profile's; private unless they changed it)."""
    declared_size: int | None = None
    """The size announced before the bytes (a Content-Length), refused early if too big."""


@frozen
class UpdateVideo:
    """Fields left as ``None`` are unchanged; ``clear_category`` removes the category."""

    title: str | None = None
    description: str | None = None
    category_id: CategoryId | None = None
    clear_category: bool = False
    tags: Sequence[str] | None = None
    visibility: Visibility | None = None
    poster_at_seconds: float | None = None


@frozen
class VideoFilter:
    owner_id: UserId | None = None
    category_id: CategoryId | None = None
    tag: str | None = None
    visibility: Visibility | None = None
    status: VideoStatus | None = None
    sort: VideoSort = VideoSort.NEWEST
