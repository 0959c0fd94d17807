"""The per-user quota: files and video sources count together, in items and in bytes.

Enforced three times over one upload: before a byte is read (the user has an item and
some bytes left, and a declared size fits), while streaming (the reader stops at the
room that was left), and when the upload is recorded (against what parallel uploads of
the same user committed meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from videoplatform.application.concurrency import retry_stale
from videoplatform.application.limits import Limits
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.ports.storage import ObjectStorage, ReadableStream
from videoplatform.application.streams import MeteredReader
from videoplatform.domain.errors import QuotaExceeded, ValidationError
from videoplatform.domain.ids import UserId

T = TypeVar("T")

RECORD_ATTEMPTS = 5
"""Runs of an upload's recording transaction when it loses a race (a category edited
meanwhile...). Parallel uploads of one owner do not race: each locks the owner before
checking the quota, so they take turns."""


def usage(uow: UnitOfWork, owner_id: UserId) -> tuple[int, int]:
    """(items, bytes) the owner has stored: files plus videos and their sources."""
    files, file_bytes = uow.files.usage(owner_id)
    videos, video_bytes = uow.videos.usage(owner_id)
    return files + videos, file_bytes + video_bytes


def room(limits: Limits, uow: UnitOfWork, owner_id: UserId, declared: int | None = None) -> int:
    """How many bytes one more upload of the owner may hold (at most the per-upload
    limit). QuotaExceeded when no item or byte is left, or when ``declared`` (a size
    announced before the bytes, such as a Content-Length) does not fit."""
    if declared is not None and declared > limits.max_upload_bytes:
        raise QuotaExceeded(f"the upload is larger than the {limits.max_upload_bytes}-byte limit")
    count, used = usage(uow, owner_id)
    _check_items(limits, count)
    left = limits.quota_bytes_per_user - used
    if left <= 0 or (declared is not None and declared > left):
        raise QuotaExceeded("storage quota is used up")
    return min(limits.max_upload_bytes, left)


def check_commit(limits: Limits, uow: UnitOfWork, owner_id: UserId, size: int) -> None:
    """Whether ``size`` more bytes in one more item still fit, against committed usage."""
    count, used = usage(uow, owner_id)
    if used + size > limits.quota_bytes_per_user:
        raise QuotaExceeded("storage quota is used up")
    _check_items(limits, count)


def _check_items(limits: Limits, count: int) -> None:
    if count >= limits.quota_files_per_user:
        raise QuotaExceeded(f"at most {limits.quota_files_per_user} files and videos per user")


def store_then_record(
    storage: ObjectStorage,
    key: str,
    source: ReadableStream,
    limit: int | None,
    record: Callable[[MeteredReader], T],
    *,
    what: str,
    discard: Callable[[], object],
    empty_field: str | None = None,
) -> T:
    """The one flow of every upload (videos, files, completed resumable uploads): stream
    ``source`` into storage under ``key`` (measured, hashed and held to ``limit``), then
    ``record`` it in a unit of work of its own (which locks the owner before checking
    the quota), run again when it loses a race. Until ``record`` commits, any failure
    ``discard``s what was stored. With ``empty_field``, an empty upload is a
    ValidationError on that field."""
    metered = MeteredReader(source, limit, what=what)
    storage.put(key, metered)
    committed = False
    try:
        if empty_field is not None and metered.size == 0:
            raise ValidationError.field(empty_field, "the upload is empty")
        result = retry_stale(RECORD_ATTEMPTS, lambda: record(metered))
        committed = True
    except BaseException:
        if not committed:  # what was committed keeps its bytes, whatever came after
            discard()
        raise
    return result
