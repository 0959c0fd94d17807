"""Object storage in a directory tree, with atomic writes."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from videoplatform.application.ports.storage import ByteRange, ObjectInfo, ReadableStream
from videoplatform.domain.errors import NotFound, ValidationError

CHUNK = 1024 * 1024
# A put writes a temporary file named so beside its target, then renames it: one left
# behind is a write that never finished (keys never start with a dot).
INCOMING = ".incoming-"
DELETE_PASSES = 5
"""How many times ``delete_prefix`` goes over a prefix that writers keep adding to."""
PARTIAL = ".part"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class LocalObjectStorage:
    """Objects as files under ``root``.

    ``put`` writes a temporary file in the destination directory, fsyncs it, renames it
    over the key and fsyncs the directory: a reader sees the old object or the new one,
    never a partial file, even across a crash. Keys are the platform's own
    (``videos/<id>/source``); they are still checked segment by segment so that no key
    can ever name a path outside ``root``. ``put`` refuses a key that fails the check
    (ValueError); reading, ``exists`` and ``delete`` treat it as naming no object, as they
    treat a folder (``videos/<id>/``).
    """

    def __init__(self, root: Path | str) -> None:
        self._root = Path(root).resolve()
        self._root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = self._path_or_none(key)
        if path is None:
            raise ValueError(f"invalid storage key {key!r}")
        return path

    def _path_or_none(self, key: str) -> Path | None:
        """The file ``key`` names, or None if ``key`` cannot name an object (an empty
        segment, as in a folder's ``k/``, or a segment a key is never built from)."""
        segments = key.split("/")
        if not all(_SEGMENT.match(s) for s in segments):
            return None
        return self._root.joinpath(*segments)

    def put(self, key: str, stream: ReadableStream) -> ObjectInfo:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=INCOMING, suffix=PARTIAL)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        _fsync_directory(target.parent)
        return ObjectInfo(key, size)

    def get(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        path = self._path_or_none(key)
        try:
            if path is None or path.is_dir():
                raise FileNotFoundError(key)
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"object {key} not found") from None
        size = os.fstat(handle.fileno()).st_size
        start, end = 0, size - 1
        if byte_range is not None:
            if byte_range.start >= size:
                handle.close()
                raise ValidationError("range starts past the end", code="range_not_satisfiable")
            start, end = byte_range.start, min(byte_range.end, size - 1)
        return _chunks(handle, start, end - start + 1)

    def stat(self, key: str) -> ObjectInfo:
        path = self._path_or_none(key)
        try:
            if path is None:
                raise FileNotFoundError(key)
            status = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"object {key} not found") from None
        if not S_ISREG(status.st_mode):
            raise NotFound(f"object {key} not found")
        return ObjectInfo(key, status.st_size)

    def download_url(
        self, key: str, *, expires_seconds: int, content_type: str, content_disposition: str
    ) -> str | None:
        return None  # served through the API (with sendfile when the server can)

    def open_file(self, key: str) -> BinaryIO | None:
        path = self._path_or_none(key)
        try:
            if path is None:
                raise FileNotFoundError(key)
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"object {key} not found") from None

    def exists(self, key: str) -> bool:
        path = self._path_or_none(key)
        return path is not None and path.is_file()

    def delete(self, key: str) -> None:
        path = self._path_or_none(key)
        if path is None or path.is_dir():
            return
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            path.unlink()

    def delete_prefix(self, prefix: str) -> int:
        if not prefix.endswith("/"):
            raise ValueError("a prefix must end with '/'")
        folder = self._path_or_none(prefix[:-1])
        if folder is None or not folder.is_dir():
            return 0
        # A writer may still be adding under the prefix (a video deleted while it is
        # processed): what it adds during a pass is removed by the next one; what it adds
        # after the last is left, as an object store's listing would leave it.
        removed = 0
        for _ in range(DELETE_PASSES):
            try:
                found = sorted(folder.rglob("*"), reverse=True)
            except FileNotFoundError:  # a folder went while it was listed
                continue
            for path in found:
                try:
                    if path.is_dir():
                        path.rmdir()
                    else:
                        path.unlink()
                        if not path.name.startswith(INCOMING):
                            removed += 1
                except FileNotFoundError:  # gone meanwhile (renamed into place, deleted)
                    continue
                except OSError as error:
                    if error.errno != errno.ENOTEMPTY:  # written to meanwhile: next pass
                        raise
            try:
                folder.rmdir()
            except FileNotFoundError:
                return removed
            except OSError as error:
                if error.errno != errno.ENOTEMPTY:
                    raise
                continue
            return removed
        return removed

    def sweep_partial(self, started_before: datetime) -> int:
        if not self._root.is_dir():
            return 0
        return _sweep_folder(self._root, started_before.timestamp(), self._root)


def _sweep_folder(folder: Path, cutoff: float, root: Path) -> int:
    """Remove stale ``.incoming-*.part`` files below ``folder``, then the folders that
    leaves empty (never ``root``); how many files were removed."""
    removed = 0
    for path in sorted(folder.rglob(f"{INCOMING}*{PARTIAL}"), reverse=True):
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime <= cutoff:
                path.unlink()
                removed += 1
                parent = path.parent
                while parent != root and not any(parent.iterdir()):
                    parent.rmdir()
                    parent = parent.parent
    return removed


def _chunks(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
