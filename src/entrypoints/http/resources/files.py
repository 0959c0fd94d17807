"""Files in per-user virtual folders: streaming upload, listing, metadata, move and
rename, deletion, and a download that no browser will run as active content.

An upload is a raw body (``?folder=&name=``) or ``multipart/form-data`` with the fields
folder and name before the part named ``file`` (name defaults to that part's filename).
The stored content type is the one sniffed from the bytes, never the client's claim.
"""

from __future__ import annotations

import functools
import secrets
import unicodedata

import falcon
from attrs import field, frozen

from videoplatform.application.context import Caller
from videoplatform.application.files import FileService, MoveFile, StoreFile
from videoplatform.application.ports.storage import ByteRange, ReadableStream
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.files import (
    DOT_SEGMENTS,
    MAX_FOLDER_DEPTH,
    MAX_FOLDER_LENGTH,
    MAX_NAME,
    StoredFile,
    forbidden_in_name,
)
from videoplatform.domain.ids import FileId
from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.convert import read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Param, Reply, Route
from videoplatform.entrypoints.http.ranges import (
    Unsatisfiable,
    accel_redirect,
    chosen_range,
    close_stream,
    not_modified,
    send_bytes,
    unsatisfiable,
)
from videoplatform.entrypoints.http.resources.common import (
    API,
    LIMIT,
    HttpContext,
    content_disposition,
    cursor_param,
    no_content,
    query_int,
    query_str,
    reply,
)
from videoplatform.entrypoints.http.schema import END, Schema, char_class, space
from videoplatform.entrypoints.http.uploads import (
    authenticated,
    file_name,
    form_only,
    form_parts,
    has_body,
    is_multipart,
    query_fields,
    read_fields,
    request_body,
    sniffed,
)
from videoplatform.entrypoints.http.views import FileView
from videoplatform.entrypoints.settings import Settings

STORE_FIELDS = frozenset({"folder", "name"})
# Types a browser only displays: anything else (HTML, SVG, XML, PDF, scripts, unknown
# bytes) is always sent as an attachment, whatever the client asks for.
PASSIVE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "text/plain",
    }
)
PASSIVE_FAMILIES = ("video/", "audio/")
# Defence in depth should a browser render a download anyway: no script, form or plugin.
# (No fetch directives: a browser's own media document re-fetches the URL it shows.)
DOWNLOAD_CSP = "sandbox"


@frozen
class FolderView:
    """A folder: its direct subfolders (on the first page only) and one page of its
    files by name; send ``next_cursor`` back as ``cursor`` for the next page."""

    folder: str
    subfolders: list[str]
    files: list[FileView]
    next_cursor: str | None = None


@frozen
class FileMove:
    """A new folder and/or name; a field left out (or null) keeps its current value."""

    folder: str | None = field(default=None, metadata={"schema": lambda: folder_rules()})
    name: str | None = field(default=None, metadata={"schema": lambda: name_rules()})


@functools.cache
def _segment() -> str:
    """One file name or folder segment, as the domain checks it (``_check_segment``):
    no forbidden character, not a dot segment or a look-alike of one, no whitespace
    at either end."""
    forbidden = char_class("file_name_refused", forbidden_in_name)
    dot = char_class(
        "dot_look_alike", lambda c: unicodedata.normalize("NFKC", c) == DOT_SEGMENTS[0]
    )
    dots = char_class(
        "dots_look_alike", lambda c: unicodedata.normalize("NFKC", c) == DOT_SEGMENTS[1]
    )
    return (
        rf"(?!{space()})(?!(?:[{dot}]{{1,2}}|[{dots}])(?:/|{END}))"
        rf"[^{forbidden}]{{1,{MAX_NAME}}}(?<!{space()})"
    )


def name_rules() -> Schema:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_NAME,
        "pattern": f"^{_segment()}{END}",
    }


def folder_rules() -> Schema:
    return {
        "type": "string",
        "maxLength": MAX_FOLDER_LENGTH,
        "pattern": f"^/*(?:{_segment()}(?:/+|{END})){{0,{MAX_FOLDER_DEPTH}}}{END}",
        "description": "a folder such as /projects/2026 (empty segments and a trailing "
        f"slash are collapsed; at most {MAX_FOLDER_DEPTH} levels)",
    }


def renders_passively(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in PASSIVE_TYPES or media.startswith(PASSIVE_FAMILIES)


def served_type(content_type: str) -> str:
    # Only text the sniffer recognized as UTF-8 (or BOM-marked) is stored as text/plain.
    return "text/plain; charset=utf-8" if content_type == "text/plain" else content_type


class Files:
    def __init__(self, files: FileService, settings: Settings) -> None:
        self._files = files
        self._settings = settings

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        listing = self._files.list_folder(
            caller_of(req),
            req.get_param("folder") or "/",
            query_str(req, "cursor", FILES_CURSOR_LENGTH),  # it carries the folder path
            query_int(req, "limit"),
        )
        view = FolderView(
            listing.folder.value,
            list(listing.subfolders),
            [FileView.of(f) for f in listing.files.items],
            listing.files.next_cursor,
        )
        reply(resp, view)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = authenticated(req)
        limit = self._settings.max_upload_bytes
        if is_multipart(req):
            form_only(req, STORE_FIELDS)
            fields, file_part = read_fields(form_parts(req, limit), STORE_FIELDS)
            if file_part is None:
                raise ValidationError.field("file", "is required (after the other fields)")
            name = fields.get("name") or file_name(file_part)
            stored = self._store(caller, fields.get("folder"), name, file_part.stream)
        else:
            fields = query_fields(req, STORE_FIELDS)
            if not has_body(req):
                raise ValidationError.field(
                    "body", "is required: the file's bytes (Content-Length: 0 for an empty file)"
                )
            stored = self._store(
                caller,
                fields.get("folder"),
                fields.get("name") or untitled(),
                request_body(req, limit),
                req.content_length,  # the file's size: checked against the quota first
            )
        resp.location = f"{API}/files/{stored.id}"
        reply(resp, FileView.of(stored), 201)

    def _store(
        self,
        caller: Caller,
        folder: str | None,
        name: str | None,
        content: ReadableStream,
        declared_size: int | None = None,
    ) -> StoredFile:
        if not name:
            raise ValidationError.field("name", "is required")
        media, _, replay = sniffed(content)
        command = StoreFile(
            name=name,
            content=replay,
            folder=folder or "/",
            content_type=media.mime,
            declared_size=declared_size,
        )
        return self._files.store(caller, command)


def untitled() -> str:
    """The name of a file sent as a raw body without one: ``untitled-`` and eight hex
    digits, unlikely to meet another in its folder (a clash is a 409 like any other)."""
    return f"untitled-{secrets.token_hex(4)}"


class FileItem:
    def __init__(self, files: FileService, json_limit: int) -> None:
        self._files = files
        self._json_limit = json_limit

    def on_get(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        reply(resp, FileView.of(self._files.get(caller_of(req), FileId(file_id))))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        body = read_json(req, FileMove, self._json_limit)
        moved = self._files.move(
            caller_of(req), FileId(file_id), MoveFile(folder=body.folder, name=body.name)
        )
        reply(resp, FileView.of(moved))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        self._files.delete(caller_of(req), FileId(file_id))
        no_content(resp)


class FileContent:
    def __init__(
        self, redirect_downloads: bool, accel_redirect_prefix: str, files: FileService
    ) -> None:
        self._redirect_downloads = redirect_downloads
        self._accel_redirect_prefix = accel_redirect_prefix
        self._files = files

    def on_get(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        if self._redirect_downloads:
            self._redirect(req, resp, file_id)
            return
        if self._accel_redirect_prefix:
            self._accel(req, resp, file_id)
            return
        chosen: list[ByteRange | Unsatisfiable | None] = [None]

        def select(stored: StoredFile) -> ByteRange | None:
            chosen[0] = chosen_range(req, stored.size, stored.sha256)
            picked = chosen[0]
            return picked if isinstance(picked, ByteRange) else None

        # A whole local file goes out through wsgi.file_wrapper (sendfile when the server
        # can); Falcon uses the wrapper for any stream with read().
        stored, chunks = self._files.open(caller_of(req), FileId(file_id), select, prefer_file=True)
        try:
            wants_inline(req)  # a bad ?disposition= is a 422 even where a 304 would follow
        except ValidationError:
            close_stream(chunks)
            raise
        _validators(resp, stored)
        resp.set_header("Accept-Ranges", "bytes")
        if not_modified(req, stored.sha256, stored.updated_at):
            close_stream(chunks)
            resp.status = falcon.HTTP_304
            return
        if chosen[0] == "unsatisfiable":
            close_stream(chunks)
            raise unsatisfiable(resp, stored.size)
        _representation(req, resp, stored)
        picked = chosen[0]
        send_bytes(resp, picked if isinstance(picked, ByteRange) else None, stored.size, chunks)

    def _accel(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        """Checked here, sent by the front server (which answers ranges itself)."""
        stored = self._files.get(caller_of(req), FileId(file_id))
        _validators(resp, stored)
        if not_modified(req, stored.sha256, stored.updated_at):
            resp.status = falcon.HTTP_304
            return
        _representation(req, resp, stored)
        accel_redirect(resp, self._accel_redirect_prefix, stored.storage_key)

    def _redirect(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        """Send the client to a short-lived presigned URL whose response headers (type,
        disposition, no-store) are signed in; ranges go straight to the storage."""

        def headers(stored: StoredFile) -> tuple[str, str]:
            inline = wants_inline(req) and renders_passively(stored.content_type)
            return served_type(stored.content_type), content_disposition(stored.name, inline=inline)

        stored, url = self._files.download_url(caller_of(req), FileId(file_id), headers)
        _validators(resp, stored)
        if not_modified(req, stored.sha256, stored.updated_at):
            resp.status = falcon.HTTP_304
            return
        if url is None:  # pragma: no cover - S3 always signs; guards a misconfiguration
            raise falcon.HTTPServiceUnavailable(description="no download URL available")
        resp.status = falcon.HTTP_307
        resp.location = url
        resp.set_header("Cache-Control", "no-store")


def _validators(resp: falcon.Response, stored: StoredFile) -> None:
    resp.set_header("ETag", f'"{stored.sha256}"')
    resp.last_modified = stored.updated_at


def wants_inline(req: falcon.Request) -> bool:
    """``?disposition=inline`` or ``attachment`` (the default); anything else is refused.
    Read once the caller's right to the file is settled."""
    wanted = req.get_param("disposition")
    if wanted not in (None, "inline", "attachment"):
        raise ValidationError.field("disposition", "must be inline or attachment")
    return wanted == "inline"


def _representation(req: falcon.Request, resp: falcon.Response, stored: StoredFile) -> None:
    inline = wants_inline(req) and renders_passively(stored.content_type)
    resp.content_type = served_type(stored.content_type)
    resp.set_header("Content-Disposition", content_disposition(stored.name, inline=inline))
    resp.set_header("X-Content-Type-Options", "nosniff")
    resp.set_header("Content-Security-Policy", DOWNLOAD_CSP)


TEXT = {"type": "string"}
FOLDER = Param("folder", "query", lambda: folder_rules(), "a folder (default /)")
FILES_CURSOR_LENGTH = 12_000
STORE_PARAMS = (
    Param("folder", "query", lambda: folder_rules(), "raw body only (default /)"),
    Param(
        "name",
        "query",
        lambda: name_rules(),
        "raw body only (default untitled- and eight hex digits)",
    ),
)
STORE_DESCRIPTION = (
    "Send the file either as the raw request body with ?folder=&name=, "
    "or as multipart/form-data with the text fields folder and name FIRST, followed by "
    "the part named `file` (name defaults to that part's filename; anything after the "
    "file part is ignored). The body streams into storage within the caller's quota; "
    "its content type is sniffed from its first bytes, never taken from a name or a "
    "Content-Type. A Content-Length over the upload limit is refused with 413 before the "
    "body is read; a chunked body is stopped with 413 as soon as it passes a limit."
)
DOWNLOAD_DESCRIPTION = (
    "Streams the bytes with their sniffed type, Content-Length, a strong ETag (the "
    "SHA-256; If-None-Match gives 304) and nosniff. Content-Disposition carries the "
    "name as an ASCII fallback and as UTF-8 filename*. It is `attachment` unless "
    "disposition=inline is asked for AND the type only displays (raster images, video, "
    "audio, plain text): HTML, SVG, XML, PDF and anything unknown are always attachments."
)
DOWNLOAD_HEADERS = {
    "ETag": "the SHA-256 of the content, quoted",
    "Content-Disposition": "attachment or inline, with filename and filename*",
    "Content-Length": "the size in bytes",
    "X-Content-Type-Options": "nosniff",
}


def routes(c: HttpContext) -> list[Route]:
    tag = "files"
    return [
        Route(
            f"{API}/files",
            Files(c.platform.files, c.platform.settings),
            (
                Operation(
                    "GET",
                    "List a folder",
                    tag,
                    (Reply(200, "The folder's subfolders and files", FolderView),),
                    params=(FOLDER, cursor_param(FILES_CURSOR_LENGTH), LIMIT),
                    auth="required",
                    errors=(403, 422),
                ),
                Operation(
                    "POST",
                    "Upload a file",
                    tag,
                    (
                        Reply(
                            201,
                            "Stored",
                            FileView,
                            headers={"Location": "the new file's URL"},
                        ),
                    ),
                    params=STORE_PARAMS,
                    body=Body(
                        None,
                        (falcon.MEDIA_MULTIPART, "application/octet-stream"),
                        "the file: raw bytes (any Content-Type but multipart/form-data is "
                        "taken as raw bytes), or a form (see description)",
                        form=STORE_PARAMS,
                    ),
                    auth="required",
                    errors=(403, 409, 413, 422),
                    description=STORE_DESCRIPTION,
                    scope=Scope.UPLOAD,
                ),
            ),
        ),
        Route(
            f"{API}/files/{{file_id}}",
            FileItem(c.platform.files, c.json_limit),
            (
                Operation(
                    "GET",
                    "Get a file's metadata",
                    tag,
                    (Reply(200, "The file", FileView),),
                    auth="required",
                    errors=(404,),
                    description="Another user's file is 404, exactly like a missing one.",
                ),
                Operation(
                    "PATCH",
                    "Move or rename a file",
                    tag,
                    (Reply(200, "The moved file", FileView),),
                    body=Body(FileMove),
                    auth="required",
                    errors=(404, 409),
                ),
                Operation(
                    "DELETE",
                    "Delete a file",
                    tag,
                    (Reply(204, "Deleted, with its shares revoked"),),
                    auth="required",
                    errors=(404,),
                ),
            ),
        ),
        Route(
            f"{API}/files/{{file_id}}/content",
            FileContent(c.redirect_downloads, c.accel_redirect_prefix, c.platform.files),
            (
                Operation(
                    "GET",
                    "Download a file",
                    tag,
                    (
                        Reply(
                            200,
                            "The bytes, as the file's sniffed content type",
                            media="*/*",
                            schema={"type": "string", "contentMediaType": "*/*"},
                            headers=DOWNLOAD_HEADERS,
                        ),
                        Reply(
                            206,
                            "The requested byte range",
                            media="*/*",
                            schema={"type": "string", "contentMediaType": "*/*"},
                            headers={**DOWNLOAD_HEADERS, "Content-Range": "bytes START-END/SIZE"},
                        ),
                        Reply(
                            304,
                            "Unchanged (If-None-Match, or else If-Modified-Since)",
                            headers={"ETag": "as before"},
                        ),
                        Reply(
                            307,
                            "With S3 storage: fetch the bytes from this short-lived URL",
                            headers={"Location": "a presigned URL valid for 5 minutes"},
                        ),
                    ),
                    params=(
                        Param(
                            "disposition",
                            "query",
                            {"type": "string", "enum": ["attachment", "inline"]},
                            "inline is honoured only for types that merely display",
                        ),
                        Param("If-None-Match", "header", TEXT, "an ETag from a previous download"),
                        Param("If-Modified-Since", "header", TEXT, "an HTTP date"),
                        Param(
                            "Range",
                            "header",
                            TEXT,
                            "one byte range: bytes=0-99, bytes=100-, bytes=-50",
                        ),
                        Param("If-Range", "header", TEXT, "the ETag the range applies to"),
                    ),
                    auth="required",
                    errors=(404, 416),
                    description=DOWNLOAD_DESCRIPTION,
                ),
            ),
        ),
    ]
