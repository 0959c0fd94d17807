"""Stored files in per-user virtual folders. Names and folders are validated here, once,
so no user-supplied text ever becomes a storage key or a filesystem path."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from attrs import define, field, frozen

from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.events import FileDeleted, FileStored
from videoplatform.domain.ids import FileId, UserId
from videoplatform.domain.users import Permission, User

MAX_NAME = 255
MAX_FOLDER_DEPTH = 32
MAX_FOLDER_LENGTH = 1024


INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
"""Unicode categories no name holds: controls, format (invisible) characters,
surrogates, private use, line and paragraph separators."""
DOT_SEGMENTS = (".", "..")


def forbidden_in_name(char: str) -> bool:
    """Whether no file name or folder segment may hold ``char``: a control or invisible
    character, a slash or a backslash, or a look-alike that a compatibility normalization
    (as some file systems and tools apply) turns into one (fullwidth solidus...)."""
    if unicodedata.category(char) in INVISIBLE_CATEGORIES:
        return True
    folded = unicodedata.normalize("NFKC", char)
    return "/" in folded or "\\" in folded


def _check_segment(segment: str, field: str) -> str:
    segment = unicodedata.normalize("NFC", segment)
    if segment == "" or segment in DOT_SEGMENTS:
        raise ValidationError.field(field, f"{segment!r} is not allowed as a name")
    if len(segment) > MAX_NAME:
        raise ValidationError.field(field, f"names are at most {MAX_NAME} characters")
    if "/" in segment or "\\" in segment:
        raise ValidationError.field(field, "must not contain slashes")
    if any(unicodedata.category(c) in INVISIBLE_CATEGORIES for c in segment):
        raise ValidationError.field(field, "must not contain control or invisible characters")
    # Look-alikes of a separator or a dot segment (fullwidth solidus, fullwidth full stops).
    if unicodedata.normalize("NFKC", segment) in DOT_SEGMENTS or any(
        forbidden_in_name(c) for c in segment
    ):
        raise ValidationError.field(field, f"{segment!r} is not allowed as a name")
    if segment != segment.strip():
        raise ValidationError.field(field, "must not start or end with whitespace")
    return segment


def clean_file_name(raw: str) -> str:
    return _check_segment(raw, "name")


def _valid_folder(_: object, __: object, value: str) -> None:
    if value != "/" + "/".join(_check_segment(s, "folder") for s in value.split("/")[1:] if s) or (
        value != "/" and value.endswith("/")
    ):
        raise ValidationError.field("folder", f"{value!r} is not a normalized folder path")


@frozen(order=True)
class FolderPath:
    """A normalized absolute virtual folder such as ``/`` or ``/projects/2026``.

    Empty segments and a trailing slash are collapsed; ``.``, ``..``, NUL, control
    characters and backslashes are refused rather than interpreted.
    """

    value: str = field(validator=_valid_folder)

    @classmethod
    def parse(cls, raw: str) -> FolderPath:
        if len(raw) > MAX_FOLDER_LENGTH:
            raise ValidationError.field("folder", f"at most {MAX_FOLDER_LENGTH} characters")
        segments = [s for s in raw.split("/") if s != ""]
        if len(segments) > MAX_FOLDER_DEPTH:
            raise ValidationError.field("folder", f"at most {MAX_FOLDER_DEPTH} levels deep")
        cleaned = [_check_segment(s, "folder") for s in segments]
        return cls("/" + "/".join(cleaned))

    @classmethod
    def root(cls) -> FolderPath:
        return cls("/")

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(s for s in self.value.split("/") if s)

    def path_of(self, name: str) -> str:
        """The path of the file ``name`` in this folder (``/a.txt``, ``/docs/a.txt``)."""
        return f"{self.value.rstrip('/')}/{name}"

    def child_of(self, parent: FolderPath) -> str | None:
        """The name of the immediate subfolder of ``parent`` this folder lies in, if any."""
        mine, theirs = self.segments, parent.segments
        if len(mine) > len(theirs) and mine[: len(theirs)] == theirs:
            return mine[len(theirs)]
        return None

    def __str__(self) -> str:
        return self.value


@define(eq=False, kw_only=True)
class StoredFile(Aggregate):
    id: FileId
    owner_id: UserId
    name: str
    folder: FolderPath
    size: int
    content_type: str
    sha256: str
    storage_key: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def store(
        cls,
        *,
        id: FileId,
        owner: User,
        name: str,
        folder: FolderPath,
        size: int,
        content_type: str,
        sha256: str,
        storage_key: str,
        now: datetime,
    ) -> StoredFile:
        stored = cls(
            id=id,
            owner_id=owner.id,
            name=clean_file_name(name),
            folder=folder,
            size=size,
            content_type=content_type,
            sha256=sha256,
            storage_key=storage_key,
            created_at=now,
            updated_at=now,
        )
        stored.record(FileStored(occurred_at=now, file_id=id, owner_id=owner.id))
        return stored

    def move(self, *, folder: FolderPath | None, name: str | None, now: datetime) -> None:
        new_name = clean_file_name(name) if name is not None else self.name
        self.folder = folder if folder is not None else self.folder
        self.name = new_name
        self.updated_at = now

    def mark_deleted(self, now: datetime) -> None:
        self.record(FileDeleted(occurred_at=now, file_id=self.id))

    def is_accessible_to(self, user: User | None) -> bool:
        """Files are private to their owner; administrators may reach them to moderate."""
        if user is None or not user.is_active:
            return False
        if user.id == self.owner_id and user.can(Permission.FILE_MANAGE):
            return True
        return user.can(Permission.FILE_MODERATE)
