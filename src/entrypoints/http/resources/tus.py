"""Resumable uploads over the tus 1.0.0 protocol (https://tus.io/protocols/resumable-upload).

Extensions: creation, creation-with-upload, termination, checksum (sha1, sha256, md5)
and expiration. ``Upload-Metadata`` says what the upload becomes: ``kind`` = ``video``
(with ``title``, optional ``description`` and ``visibility``) or ``file`` (with
``filename``, optional ``folder``). It is validated when the upload is created, before
any byte. When the last byte arrives the upload becomes that video or file; the
completing PATCH (and every HEAD afterwards) carries ``Upload-Result``, the URL of the
created resource.

Only the upload's owner may see it (anyone else gets 404). Errors are problem+json like
everywhere else in the API, with the status the protocol names (409 wrong offset, 410
expired, 412 unsupported protocol version, 413 past the declared length or the quota,
415 wrong content type, 460 checksum mismatch).

The declared lengths of a user's unfinished uploads count against their quota when they
create another, and they may have ``MAX_OPEN_UPLOADS`` of them at once (403
``too_many_open_uploads`` past that: finish or terminate one). One request completes an
upload: a PATCH that would complete it while another is doing so gets 409
``upload_completing``; HEAD (which reports the full offset meanwhile) shows
``Upload-Result`` once it is done.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import falcon

from videoplatform.application.resumable import (
    CHECKSUM_ALGORITHMS,
    AppendChunk,
    Checksum,
    CreateUpload,
    ResumableUploadService,
)
from videoplatform.domain.uploads import ResumableUpload, UploadId, UploadKind
from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.convert import check_text
from videoplatform.entrypoints.http.errors import coded
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Param, Reply, Route
from videoplatform.entrypoints.http.resources.common import API, HttpContext
from videoplatform.entrypoints.http.schema import END, any_case, space
from videoplatform.entrypoints.http.uploads import authenticated, request_body

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_MEDIA = "application/offset+octet-stream"
METADATA_LIMIT = 16 * 1024
RESULT_HEADER = "Upload-Result"
RESULT_PATHS = {UploadKind.VIDEO: f"{API}/videos/", UploadKind.FILE: f"{API}/files/"}


class TusResource:
    """Base of the resources that speak tus (the protocol middleware looks for it)."""

    def __init__(
        self, uploads: ResumableUploadService, max_upload_bytes: int, public_url: str
    ) -> None:
        self._uploads = uploads
        self._max_upload_bytes = max_upload_bytes
        self._public_url = public_url

    def on_options(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
        resp.status = falcon.HTTP_204
        resp.set_header("Tus-Version", TUS_VERSION)
        resp.set_header("Tus-Extension", TUS_EXTENSIONS)
        resp.set_header("Tus-Max-Size", str(self._max_upload_bytes))
        resp.set_header("Tus-Checksum-Algorithm", ",".join(CHECKSUM_ALGORITHMS))

    def _append(self, req: falcon.Request, upload_id: UploadId, offset: int) -> ResumableUpload:
        limit = self._max_upload_bytes
        command = AppendChunk(
            upload_id=upload_id,
            offset=offset,
            content=request_body(req, limit),
            declared_size=req.content_length,
            checksum=_checksum(req.get_header("Upload-Checksum")),
        )
        return self._uploads.append(caller_of(req), command)


class TusProtocol:
    """Every response of a tus resource says ``Tus-Resumable: 1.0.0``; every request but
    OPTIONS must say it too (412 otherwise), checked before anything else happens."""

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]
    ) -> None:
        if not isinstance(resource, TusResource) or req.method == "OPTIONS":
            return
        if (req.get_header("Tus-Resumable") or "").strip() != TUS_VERSION:
            raise coded(
                falcon.HTTPPreconditionFailed(
                    description=f"send Tus-Resumable: {TUS_VERSION}, the version spoken here",
                    headers={"Tus-Version": TUS_VERSION},
                ),
                "tus_version_unsupported",
            )

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, succeeded: bool
    ) -> None:
        if isinstance(resource, TusResource):
            resp.set_header("Tus-Resumable", TUS_VERSION)


class Uploads(TusResource):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = authenticated(req)
        if req.get_header("Upload-Defer-Length") is not None:
            raise _bad("Upload-Defer-Length is not supported; send Upload-Length", "tus_header")
        length = _non_negative(req, "Upload-Length")
        metadata = parse_metadata(req.get_header("Upload-Metadata") or "")
        has_body = bool(req.content_length) or (
            req.content_length is None and req.get_header("Transfer-Encoding") is not None
        )
        if has_body:
            _require_offset_media(req)
        upload = self._uploads.create(caller, CreateUpload(length=length, metadata=metadata))
        resp.status = falcon.HTTP_201
        resp.location = f"{self._public_url.rstrip('/')}{API}/uploads/{upload.id}"
        if has_body and upload.result is None:
            upload = self._append(req, upload.id, 0)
        _describe(resp, upload)


class UploadItem(TusResource):
    def on_head(self, req: falcon.Request, resp: falcon.Response, upload_id: str) -> None:
        upload = self._uploads.status(caller_of(req), UploadId(upload_id))
        resp.status = falcon.HTTP_200
        resp.set_header("Upload-Length", str(upload.length))
        resp.set_header("Upload-Metadata", encode_metadata(upload))
        resp.set_header("Cache-Control", "no-store")
        _describe(resp, upload)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, upload_id: str) -> None:
        authenticated(req)
        _require_offset_media(req)
        offset = _non_negative(req, "Upload-Offset")
        upload = self._append(req, UploadId(upload_id), offset)
        resp.status = falcon.HTTP_204
        _describe(resp, upload)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, upload_id: str) -> None:
        self._uploads.terminate(caller_of(req), UploadId(upload_id))
        resp.status = falcon.HTTP_204


def _describe(resp: falcon.Response, upload: ResumableUpload) -> None:
    resp.set_header("Upload-Offset", str(upload.offset))
    resp.set_header("Upload-Expires", falcon.dt_to_http(upload.expires_at.astimezone(UTC)))
    if upload.result is not None:
        resp.set_header(RESULT_HEADER, RESULT_PATHS[upload.result.kind] + upload.result.id)


def _bad(description: str, code: str) -> falcon.HTTPError:
    return coded(falcon.HTTPBadRequest(description=description), code)


def _require_offset_media(req: falcon.Request) -> None:
    media = (req.content_type or "").split(";", 1)[0].strip().lower()
    if media != OFFSET_MEDIA:
        raise coded(
            falcon.HTTPUnsupportedMediaType(description=f"chunks are sent as {OFFSET_MEDIA}"),
            "unsupported_media_type",
        )


def _non_negative(req: falcon.Request, header: str) -> int:
    raw = (req.get_header(header) or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise _bad(f"{header} must be a non-negative integer", "tus_header")
    return int(raw)


def _checksum(header: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``; 400 for anything else."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise _bad(
            f"checksum algorithm {algorithm!r} is not supported; use one of "
            + ", ".join(CHECKSUM_ALGORITHMS),
            "checksum_algorithm_unsupported",
        )
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _bad("the checksum is not base64", "checksum_malformed") from None
    if len(digest) != hashlib.new(algorithm, usedforsecurity=False).digest_size:
        raise _bad(f"the checksum is not a {algorithm} digest", "checksum_malformed")
    return Checksum(algorithm, digest)


def parse_metadata(header: str) -> dict[str, str]:
    """``key base64value,key2 base64value2`` (a key may come without a value); keys are
    unique, values UTF-8 text. Anything else is a 400."""
    if len(header) > METADATA_LIMIT:
        raise _bad(f"Upload-Metadata is longer than {METADATA_LIMIT} characters", "tus_metadata")
    result: dict[str, str] = {}
    for pair in header.split(","):
        if not pair.strip():
            continue
        key, _, encoded = pair.strip().partition(" ")
        if not key.isascii() or not key.isprintable() or key in result:
            raise _bad(f"Upload-Metadata key {key!r} is malformed or repeated", "tus_metadata")
        try:
            value = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            result[key] = check_text(value)
        except (binascii.Error, ValueError):
            raise _bad(
                f"Upload-Metadata {key!r} is not base64 of UTF-8 text", "tus_metadata"
            ) from None
    return result


def encode_metadata(upload: ResumableUpload) -> str:
    pairs: Mapping[str, str] = {"kind": upload.kind.value, **upload.metadata}
    return ",".join(
        f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
        for key, value in pairs.items()
    )


TUS_HEADER = Param(
    "Tus-Resumable", "header", {"type": "string", "const": TUS_VERSION}, required=True
)
DISCOVERY_HEADERS = {
    "Tus-Resumable": "1.0.0",
    "Tus-Version": "the protocol versions spoken: 1.0.0",
    "Tus-Extension": TUS_EXTENSIONS,
    "Tus-Max-Size": "the largest Upload-Length accepted, in bytes",
    "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
}
PROGRESS_HEADERS = {
    "Tus-Resumable": "1.0.0",
    "Upload-Offset": "the bytes received so far",
    "Upload-Expires": "when the upload expires (RFC 9110 date)",
    RESULT_HEADER: "once complete: the URL of the created video or file",
}
CHECKSUM = Param(
    "Upload-Checksum",
    "header",
    lambda: {
        "type": "string",
        "pattern": (
            f"^{space()}*(?:{'|'.join(any_case(a) for a in CHECKSUM_ALGORITHMS)})"
            f" {space()}*[A-Za-z0-9+/]*={{0,2}}{space()}*{END}"
        ),
    },
    "`<algorithm> <base64 digest>` of this chunk; a mismatch is 460 and stores nothing",
)
CREATE_DESCRIPTION = (
    "tus creation (and creation-with-upload when the body carries the first chunk as "
    f"{OFFSET_MEDIA}). Upload-Metadata (comma-separated `key base64(value)` pairs) must "
    "carry kind=video with title (description, visibility optional) or kind=file with "
    "filename (folder optional); it is validated and the quota checked against "
    "Upload-Length before any byte is accepted."
)


def tus_needs(c: HttpContext) -> tuple[ResumableUploadService, int, str]:
    """What the tus resources are built with."""
    platform = c.platform
    return (
        platform.resolve(ResumableUploadService),
        platform.settings.max_upload_bytes,
        c.public_url,
    )


def routes(c: HttpContext) -> list[Route]:
    tag = "uploads"

    def discovery(where: str) -> Operation:
        return Operation(
            "OPTIONS",
            f"Discover tus support {where}",
            tag,
            (
                Reply(
                    204, "The protocol versions, extensions and limits", headers=DISCOVERY_HEADERS
                ),
            ),
            auth="none",
        )

    return [
        Route(
            f"{API}/uploads",
            Uploads(*tus_needs(c)),
            (
                discovery("for uploads"),
                Operation(
                    "POST",
                    "Create a resumable upload",
                    tag,
                    (
                        Reply(
                            201,
                            "Created (with the first chunk stored when one was sent)",
                            headers={"Location": "the upload's URL", **PROGRESS_HEADERS},
                        ),
                    ),
                    params=(
                        TUS_HEADER,
                        Param(
                            "Upload-Length",
                            "header",
                            {"type": "integer", "minimum": 0},
                            "the upload's total size in bytes",
                            required=True,
                        ),
                        Param("Upload-Metadata", "header", {"type": "string"}, "see description"),
                        CHECKSUM,
                    ),
                    body=Body(None, (OFFSET_MEDIA,), "optionally, the first chunk", required=False),
                    auth="required",
                    errors=(403, 409, 412, 413, 415, 422, 460),
                    description=CREATE_DESCRIPTION,
                    scope=Scope.UPLOAD,
                ),
            ),
        ),
        Route(
            f"{API}/uploads/{{upload_id}}",
            UploadItem(*tus_needs(c)),
            (
                discovery("for an upload"),
                Operation(
                    "HEAD",
                    "Upload progress",
                    tag,
                    (
                        Reply(
                            200,
                            "Where the upload stands",
                            headers={
                                "Upload-Length": "the declared size",
                                "Upload-Metadata": "what the upload becomes",
                                **PROGRESS_HEADERS,
                            },
                        ),
                    ),
                    params=(TUS_HEADER,),
                    auth="required",
                    errors=(404, 410, 412),
                    scope=Scope.UPLOAD,
                ),
                Operation(
                    "PATCH",
                    "Append a chunk",
                    tag,
                    (
                        Reply(
                            204,
                            "Stored; the upload became a video or file when this was the last"
                            " chunk",
                            headers=PROGRESS_HEADERS,
                        ),
                    ),
                    params=(
                        TUS_HEADER,
                        Param(
                            "Upload-Offset",
                            "header",
                            {"type": "integer", "minimum": 0},
                            "where this chunk starts: the upload's current offset",
                            required=True,
                        ),
                        CHECKSUM,
                    ),
                    body=Body(None, (OFFSET_MEDIA,), "the chunk"),
                    auth="required",
                    errors=(403, 404, 409, 410, 412, 413, 415, 422, 460),
                    description=(
                        "A wrong Upload-Offset is 409 and changes nothing; a chunk past the "
                        "declared length is 413; a cut-off chunk stores nothing. The "
                        "completing chunk runs the plain upload's checks (type, quota)."
                    ),
                    scope=Scope.UPLOAD,
                ),
                Operation(
                    "DELETE",
                    "Terminate an upload",
                    tag,
                    (
                        Reply(
                            204,
                            "Removed, with every byte received",
                            headers={"Tus-Resumable": "1.0.0"},
                        ),
                    ),
                    params=(TUS_HEADER,),
                    auth="required",
                    errors=(404, 412),
                    scope=Scope.UPLOAD,
                ),
            ),
        ),
    ]
