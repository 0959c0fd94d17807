"""Files in per-user virtual folders: store, list, read, move, delete."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from attrs import frozen

from videoplatform.application import quota
from videoplatform.application.context import Caller, Hidden, require_permission, require_user
from videoplatform.application.essentials import Essentials, UseCases
from videoplatform.application.limits import Limits
from videoplatform.application.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.ports.storage import ByteRange, ObjectStorage, ReadableStream
from videoplatform.application.streams import MeteredReader
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import Conflict, ValidationError
from videoplatform.domain.files import FolderPath, StoredFile, clean_file_name
from videoplatform.domain.ids import FileId
from videoplatform.domain.search import file_match, parse_query
from videoplatform.domain.users import Permission, User

DEFAULT_CONTENT_TYPE = "application/octet-stream"
DOWNLOAD_URL_SECONDS = 300


def file_key(file_id: FileId) -> str:
    return f"files/{file_id}"


FILE_SEARCH_SCAN = 50_000
"""The most of one owner's files a search of them reads."""


@frozen
class StoreFile:
    name: str
    content: ReadableStream
    folder: str = "/"
    content_type: str = DEFAULT_CONTENT_TYPE
    declared_size: int | None = None
    """The size announced before the bytes (a Content-Length), refused early if too big."""


@frozen
class MoveFile:
    """New folder and/or name; ``None`` keeps the current one."""

    folder: str | None = None
    name: str | None = None


@frozen
class FolderListing:
    folder: FolderPath
    subfolders: tuple[str, ...]
    files: Page[StoredFile]


class FileService(UseCases):
    def __init__(
        self,
        essentials: Essentials,
        storage: ObjectStorage,
        limits: Limits,
    ) -> None:
        super().__init__(essentials)
        self._storage = storage
        self._limits = limits

    def store(self, caller: Caller, command: StoreFile) -> StoredFile:
        """Stream bytes into storage within the caller's quota, then record the file.

        Name and folder are validated before a byte is read; the quota is enforced while
        streaming, so an oversized upload stops early and leaves nothing behind.
        """
        name = clean_file_name(command.name)
        folder = FolderPath.parse(command.folder)
        content_type = _clean_content_type(command.content_type)
        file_id = FileId(self._ids.new_id())
        with (
            self._audit.refusals(caller, AuditAction.FILE_UPLOAD, "file", None),
            self._uow() as uow,
        ):
            owner = require_permission(uow, caller, Permission.FILE_MANAGE)
            self._check_free_name(uow, owner, folder, name)
            limit = quota.room(self._limits, uow, owner.id, command.declared_size)
        key = file_key(file_id)
        return quota.store_then_record(
            self._storage,
            key,
            command.content,
            limit,
            lambda metered: self._record_once(
                caller, file_id, name, folder, content_type, key, metered
            ),
            what="file",
            discard=lambda: self._storage.delete(key),
        )

    def _record_once(
        self,
        caller: Caller,
        file_id: FileId,
        name: str,
        folder: FolderPath,
        content_type: str,
        key: str,
        metered: MeteredReader,
    ) -> StoredFile:
        with self._uow() as uow:
            owner = require_permission(uow, caller, Permission.FILE_MANAGE)
            uow.users.lock(owner.id)  # the owner's parallel uploads take turns from here
            quota.check_commit(self._limits, uow, owner.id, metered.size)
            stored = StoredFile.store(
                id=file_id,
                owner=owner,
                name=name,
                folder=folder,
                size=metered.size,
                content_type=content_type,
                sha256=metered.sha256,
                storage_key=key,
                now=self._clock.now(),
            )
            uow.files.add(stored)
            self._audit.record(
                uow,
                caller,
                AuditAction.FILE_UPLOAD,
                "file",
                file_id,
                metadata={"size": str(metered.size), "sha256": metered.sha256},
            )
            uow.commit()
            return stored

    @staticmethod
    def _check_free_name(uow: UnitOfWork, owner: User, folder: FolderPath, name: str) -> None:
        # Repositories enforce this too; checking first avoids storing bytes for nothing.
        for existing in uow.files.list_folder(owner.id, folder, (name, ""), 1):
            if existing.name == name:
                raise Conflict(f"{folder.path_of(name)} already exists", code="file_exists")

    def get(self, caller: Caller, file_id: FileId) -> StoredFile:
        with (
            self._audit.refusals(caller, AuditAction.FILE_READ, "file", file_id),
            self._uow() as uow,
        ):
            stored = self._accessible(uow, caller, file_id)
            if stored.owner_id != caller.user_id:
                # An administrator reading someone else's file: worth a trace.
                self._audit.privileged_read(uow, caller, AuditAction.FILE_READ, "file", file_id)
            return stored

    @staticmethod
    def _accessible(uow: UnitOfWork, caller: Caller, file_id: FileId) -> StoredFile:
        user = require_user(uow, caller)
        stored = uow.files.get(file_id)
        if not stored.is_accessible_to(user):
            raise Hidden("file not found")
        return stored

    def open(
        self,
        caller: Caller,
        file_id: FileId,
        byte_range: ByteRange | Callable[[StoredFile], ByteRange | None] | None = None,
        *,
        prefer_file: bool = False,
    ) -> tuple[StoredFile, Iterator[bytes] | BinaryIO]:
        """Metadata plus the bytes (or a range of them) of a file the caller may read.
        ``byte_range`` may be a function of the file (its size decides a range): the
        permission check and its audit happen once either way. With ``prefer_file``, a
        whole file kept on a local filesystem comes as an open file (for sendfile)."""
        stored = self.get(caller, file_id)
        wanted = byte_range(stored) if callable(byte_range) else byte_range
        if prefer_file and wanted is None:
            local = self._storage.open_file(stored.storage_key)
            if local is not None:
                return stored, local
        return stored, self._storage.get(stored.storage_key, wanted)

    def download_url(
        self,
        caller: Caller,
        file_id: FileId,
        disposition: Callable[[StoredFile], tuple[str, str]],
        expires_seconds: int = DOWNLOAD_URL_SECONDS,
    ) -> tuple[StoredFile, str | None]:
        """A short-lived direct URL for a file the caller may read, when the storage
        offers one. ``disposition`` gives the (content type, Content-Disposition) the
        download must carry; the permission check and its audit happen here, once."""
        stored = self.get(caller, file_id)
        content_type, content_disposition = disposition(stored)
        url = self._storage.download_url(
            stored.storage_key,
            expires_seconds=expires_seconds,
            content_type=content_type,
            content_disposition=content_disposition,
        )
        return stored, url

    def list_folder(
        self,
        caller: Caller,
        folder: str = "/",
        cursor: str | None = None,
        limit: int | None = None,
    ) -> FolderListing:
        """The caller's files directly in ``folder`` by name, plus its subfolders."""
        path = FolderPath.parse(folder)
        size = clamp_limit(limit)
        after: tuple[str, str] | None = None
        if cursor:
            key = decode_cursor("files", cursor)
            if len(key) != 3 or key[0] != path.value or not all(isinstance(k, str) for k in key):
                raise ValidationError.field("cursor", "cursor does not belong to this folder")
            after = (str(key[1]), str(key[2]))
        with self._uow() as uow:
            owner = require_permission(uow, caller, Permission.FILE_MANAGE)
            rows = uow.files.list_folder(owner.id, path, after, size + 1)
            subfolders = tuple(uow.files.subfolders(owner.id, path)) if cursor is None else ()
        more = len(rows) > size
        rows = rows[:size]
        nxt = encode_cursor("files", [path.value, rows[-1].name, rows[-1].id]) if more else None
        return FolderListing(path, subfolders, Page(tuple(rows), nxt))

    def search(self, caller: Caller, query: str, limit: int | None = None) -> list[StoredFile]:
        """The caller's own files whose name and folder match ``query`` (the syntax of
        a video search; see :func:`domain.search.file_match`): those matching by name
        first, then by folder and name. ValidationError for a query
        :func:`domain.search.parse_query` refuses. Searches the first
        :data:`FILE_SEARCH_SCAN` of the caller's files (by folder and name)."""
        size = clamp_limit(limit)
        with self._uow() as uow:
            owner = require_permission(uow, caller, Permission.FILE_MANAGE)
            terms = parse_query(query)
            if not terms.wanted:
                return []
            found = []
            for file_id, folder, name in uow.files.names(owner.id, FILE_SEARCH_SCAN):
                how = file_match(terms, name, folder)
                if how is not None:
                    found.append((-how, folder, name, file_id))
            found.sort()
            return [uow.files.get(each[3]) for each in found[:size]]

    def move(self, caller: Caller, file_id: FileId, command: MoveFile) -> StoredFile:
        folder = FolderPath.parse(command.folder) if command.folder is not None else None
        name = clean_file_name(command.name) if command.name is not None else None
        with (
            self._audit.refusals(caller, AuditAction.FILE_MOVE, "file", file_id),
            self._uow() as uow,
        ):
            stored = self._accessible(uow, caller, file_id)
            before = f"{stored.folder}/{stored.name}"
            stored.move(folder=folder, name=name, now=self._clock.now())
            uow.files.save(stored)
            self._audit.record(
                uow,
                caller,
                AuditAction.FILE_MOVE,
                "file",
                file_id,
                metadata={"from": before, "to": f"{stored.folder}/{stored.name}"},
            )
            uow.commit()
        return stored

    def delete(self, caller: Caller, file_id: FileId) -> None:
        """Delete the record, then its bytes. Its share links stop working at once (they
        need the file) and are revoked by a durable handler of FileDeleted."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.FILE_DELETE, "file", file_id),
            self._uow() as uow,
        ):
            stored = self._accessible(uow, caller, file_id)
            stored.mark_deleted(now)
            uow.files.delete(file_id)
            self._audit.record(
                uow,
                caller,
                AuditAction.FILE_DELETE,
                "file",
                file_id,
                metadata={"name": stored.name},
            )
            uow.commit()
        self._storage.delete(stored.storage_key)


def _clean_content_type(raw: str) -> str:
    value = raw.strip().lower()
    if not value:
        return DEFAULT_CONTENT_TYPE
    main, _, sub = value.partition("/")
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-")
    if not main or not sub or len(value) > 127 or not set(main + sub) <= allowed:
        raise ValidationError.field("content_type", "not a valid media type")
    return value
