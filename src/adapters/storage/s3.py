"""Object storage in an S3 bucket (AWS S3 or any S3-compatible service), through boto3."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, BinaryIO, Concatenate, ParamSpec, TypeVar

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.storage import ByteRange, ObjectInfo, ReadableStream
from videoplatform.domain.errors import NotFound, ValidationError

log = structlog.get_logger(__name__)

MIB = 1024 * 1024
PART_SIZE = 8 * MIB
"""Bytes per part of a multipart upload (and the most ``put`` holds in memory)."""
MIN_PART_SIZE = 5 * MIB
"""S3's smallest part (every part but the last must be at least this big)."""
MAX_PARTS = 10_000
"""S3's most parts per upload: with 8 MiB parts, objects up to 78 GiB."""
CHUNK = 1024 * 1024
"""Bytes per chunk that ``get`` yields."""
DELETE_BATCH = 1000
"""S3's most keys per DeleteObjects request (and per ListObjectsV2 page)."""
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""The longest a SigV4 presigned URL may live."""

# The same rule as the local adapter: keys are the platform's own (videos/<id>/source),
# and checking them segment by segment keeps the two adapters in step.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})


P = ParamSpec("P")
R = TypeVar("R")


def unavailable(error: BotoCoreError | ClientError) -> Unavailable | None:
    """``error`` as the port says "storage unavailable" (the service unreachable, silent,
    or failing on its side: 5xx, throttling), or None for any other error."""
    if isinstance(error, ConnectionError | HTTPClientError):
        return Unavailable("storage", f"S3 did not answer ({type(error).__name__})")
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        code = error.response.get("Error", {}).get("Code", "")
        if status >= 500 or code in ("SlowDown", "RequestTimeout"):
            return Unavailable("storage", f"S3 answered {status} {code}")
    return None


def _service(
    method: Callable[Concatenate[S3ObjectStorage, P], R],
) -> Callable[Concatenate[S3ObjectStorage, P], R]:
    """Report the service's own failures as :class:`Unavailable` (a 503 for a request,
    a retry for a job); other errors pass unchanged."""

    @functools.wraps(method)
    def calling(self: S3ObjectStorage, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except (BotoCoreError, ClientError) as error:
            reported = unavailable(error)
            if reported is None:
                raise
            raise reported from error

    return calling


def valid_key(key: str) -> bool:
    """Whether ``key`` can name an object: "/"-separated segments of letters, digits,
    ".", "_" and "-", none empty and none starting with a dot (so no "..", no leading
    or trailing "/")."""
    return all(_SEGMENT.match(segment) for segment in key.split("/"))


def s3_client(
    *,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    connect_timeout: float = 3.0,
    read_timeout: float = 15.0,
    attempts: int = 2,
    **extra: Any,
) -> Any:
    """A boto3 S3 client for :class:`S3ObjectStorage`. Credentials come from boto3's
    default chain (AWS_* environment variables, shared config files, instance roles)
    unless ``extra`` passes them (tests do). Creating it connects to nothing.

    With ``endpoint_url`` (an S3-compatible service: MinIO, Ceph, moto...) buckets are
    addressed by path (``http://host/bucket/key``), since such hosts rarely resolve bucket
    subdomains; AWS itself is addressed as boto3 chooses."""
    config = Config(
        region_name=region,
        # SigV4 everywhere, presigned URLs included (boto3 would presign some with the
        # deprecated SigV2, which newer regions and many S3-compatible services refuse).
        signature_version="s3v4",
        retries={"mode": "standard", "total_max_attempts": attempts},
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        # Every call is bounded: connecting, and each wait for data; a dead peer is
        # found by TCP keepalive on pooled connections.
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tcp_keepalive=True,
    )
    # A session of its own: boto3's default session is not safe to share across threads.
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config, **extra)


class S3ObjectStorage:
    """Objects in ``bucket``, through a boto3 S3 ``client`` built by the caller.

    ``put`` streams: it reads the source one part (``part_size``, default 8 MiB) at a
    time. A source that ends within the first part is stored with one PutObject; a longer
    one becomes a multipart upload, and S3 shows the object only when the upload is
    completed, so readers see the old object or the new one, never a partial one. On any
    failure (the source raising, S3 refusing a part, even KeyboardInterrupt) the multipart
    upload is aborted, so its parts do not linger (and are not billed); an existing object
    under the key is untouched. Should the abort itself fail (the service unreachable), the
    failure is logged and the original error propagates; a bucket lifecycle rule
    (AbortIncompleteMultipartUpload) reclaims such leftovers.

    Keys are checked as the local adapter checks them: ``put`` and ``presigned_get``
    refuse a key that fails the check (ValueError); reading, ``exists`` and ``delete``
    treat it as naming no object, as they treat a folder (``videos/<id>/``).

    The service unreachable, silent or failing on its side is ``Unavailable``; other
    errors than "no such object" and "range not satisfiable" (no such bucket, access
    denied) propagate as botocore's exceptions; for
    ``stat`` and ``exists`` a missing key costs a second request (HeadBucket) to tell
    the two apart.
    """

    def __init__(self, bucket: str, client: Any, *, part_size: int = PART_SIZE) -> None:
        if not bucket:
            raise ValueError("a bucket name is required")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self._bucket = bucket
        self._client = client
        self._part_size = part_size

    @property
    def bucket(self) -> str:
        return self._bucket

    # -- writing -----------------------------------------------------------------------

    @_service
    def put(self, key: str, stream: ReadableStream) -> ObjectInfo:
        if not valid_key(key):
            raise ValueError(f"invalid storage key {key!r}")
        first = _read_part(stream, self._part_size)
        if len(first) < self._part_size:
            # The whole source fitted in one part: one request, atomic by itself.
            self._client.put_object(Bucket=self._bucket, Key=key, Body=first)
            return ObjectInfo(key, len(first))
        upload_id: str = self._client.create_multipart_upload(Bucket=self._bucket, Key=key)[
            "UploadId"
        ]
        try:
            size = self._upload_parts(key, upload_id, first, stream)
        except BaseException:
            self._abort(key, upload_id)
            raise
        return ObjectInfo(key, size)

    def _upload_parts(self, key: str, upload_id: str, first: bytes, stream: ReadableStream) -> int:
        parts: list[dict[str, Any]] = []
        size = 0
        data = first
        while data:
            number = len(parts) + 1
            if number > MAX_PARTS:
                raise ValueError(
                    f"object {key} exceeds {MAX_PARTS} parts of {self._part_size} bytes"
                )
            response = self._client.upload_part(
                Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
            parts.append({"PartNumber": number, "ETag": response["ETag"]})
            size += len(data)
            data = _read_part(stream, self._part_size)
        self._client.complete_multipart_upload(
            Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        return size

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except Exception as error:  # the original failure matters more; keep it
            log.warning(
                "s3_abort_multipart_failed",
                bucket=self._bucket,
                key=key,
                upload_id=upload_id,
                error=repr(error),
            )

    # -- reading -----------------------------------------------------------------------

    @_service
    def get(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        if not valid_key(key):
            raise NotFound(f"object {key} not found")
        request: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if byte_range is not None:
            request["Range"] = f"bytes={byte_range.start}-{byte_range.end}"
        try:
            response = self._client.get_object(**request)
        except ClientError as error:
            if _is_not_found(error):
                raise NotFound(f"object {key} not found") from None
            if _is_invalid_range(error):
                raise _unsatisfiable() from None
            raise
        body = response["Body"]
        skip, length = 0, int(response["ContentLength"])
        if byte_range is not None and not response.get("ContentRange"):
            # The service ignored the Range header (HTTP allows it; some do so for empty
            # objects) and sent the whole object: apply the range here.
            size = length
            if byte_range.start >= size:
                body.close()
                raise _unsatisfiable()
            skip = byte_range.start
            length = min(byte_range.end, size - 1) - byte_range.start + 1
        return _BodyChunks(body, skip, length)

    @_service
    def stat(self, key: str) -> ObjectInfo:
        if not valid_key(key):
            raise NotFound(f"object {key} not found")
        try:
            response = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if not _is_not_found(error):
                raise
            # A HEAD answer has no body, so its 404 cannot say whether the key or the
            # bucket is missing. A missing bucket is a misconfiguration, not an absent
            # object: HeadBucket raises it (and readiness, which asks ``exists``, sees it).
            self._client.head_bucket(Bucket=self._bucket)
            raise NotFound(f"object {key} not found") from None
        return ObjectInfo(key, int(response["ContentLength"]))

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except NotFound:
            return False
        return True

    @_service
    def open_file(self, key: str) -> BinaryIO | None:
        self.stat(key)  # NotFound if absent
        return None  # the bytes are in a bucket, not on a local filesystem

    def presigned_get(
        self, key: str, expires_seconds: int, response_headers: dict[str, str] | None = None
    ) -> str:
        """A URL that lets its holder GET the object, without credentials, for
        ``expires_seconds`` (1 s to 7 days). Signing is local: it neither checks that the
        object exists nor contacts the service. ``response_headers`` (S3's Response*
        overrides, e.g. ResponseContentDisposition) are part of the signature."""
        if not valid_key(key):
            raise ValueError(f"invalid storage key {key!r}")
        if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"expires_seconds must be from 1 to {MAX_PRESIGN_SECONDS}")
        url: str = self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key, **(response_headers or {})},
            ExpiresIn=expires_seconds,
        )
        return url

    def download_url(
        self, key: str, *, expires_seconds: int, content_type: str, content_disposition: str
    ) -> str | None:
        return self.presigned_get(
            key,
            expires_seconds,
            {
                "ResponseContentType": content_type,
                "ResponseContentDisposition": content_disposition,
                "ResponseCacheControl": "private, no-store",
            },
        )

    # -- deleting ----------------------------------------------------------------------

    @_service
    def delete(self, key: str) -> None:
        if not valid_key(key):
            return
        # S3 answers 204 whether or not the key existed: idempotent as it is.
        self._client.delete_object(Bucket=self._bucket, Key=key)

    @_service
    def delete_prefix(self, prefix: str) -> int:
        if not prefix.endswith("/"):
            raise ValueError("a prefix must end with '/'")
        if not valid_key(prefix[:-1]):
            return 0
        removed = 0
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self._bucket, Prefix=prefix, PaginationConfig={"PageSize": DELETE_BATCH}
        )
        for page in pages:
            # Deleting a page before listing the next is safe: the continuation token
            # names the last key listed, not a position.
            keys = [entry["Key"] for entry in page.get("Contents", [])]
            for start in range(0, len(keys), DELETE_BATCH):
                removed += self._delete_batch(keys[start : start + DELETE_BATCH])
        return removed

    @_service
    def sweep_partial(self, started_before: datetime) -> int:
        """Abort the multipart uploads begun before ``started_before``: a put whose
        process died leaves one, holding its parts (and their cost) until aborted. S3
        tells when an upload began, not when it was last written to: keep the cutoff
        longer than the longest upload."""
        aborted = 0
        paginator = self._client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self._bucket):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < started_before:
                    self._client.abort_multipart_upload(
                        Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
        return aborted

    def _delete_batch(self, keys: list[str]) -> int:
        response = self._client.delete_objects(
            Bucket=self._bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise OSError(
                f"S3 refused to delete {len(errors)} of {len(keys)} objects in bucket "
                f"{self._bucket}, e.g. {first.get('Key')}: {first.get('Code')} "
                f"{first.get('Message')}"
            )
        return len(keys)


class _BodyChunks(Iterator[bytes]):
    """The bytes of a streaming response body in chunks of at most ``CHUNK`` bytes,
    after skipping ``skip`` bytes and stopping after ``length``. The body (and with it
    the HTTP connection) is released at the end, on an error, on ``close()``, or when
    the iterator is dropped unfinished."""

    def __init__(self, body: Any, skip: int, length: int) -> None:
        self._body = body
        self._skip = skip
        self._remaining = length
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            while self._skip > 0 and not self._closed:
                dropped = self._body.read(min(CHUNK, self._skip))
                if not dropped:
                    self._remaining = 0
                    break
                self._skip -= len(dropped)
            if self._remaining <= 0 or self._closed:
                raise StopIteration
            chunk: bytes = self._body.read(min(CHUNK, self._remaining))
            if not chunk:
                raise StopIteration
        except BaseException:
            self.close()
            raise
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._body.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _read_part(stream: ReadableStream, size: int) -> bytes:
    """Up to ``size`` bytes from ``stream``, fewer only at its end (reads may be short)."""
    pieces: list[bytes] = []
    wanted = size
    while wanted > 0:
        piece = stream.read(min(wanted, CHUNK))
        if not piece:
            break
        pieces.append(piece)
        wanted -= len(piece)
    return b"".join(pieces)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _is_not_found(error: ClientError) -> bool:
    # NoSuchBucket is a misconfiguration, not a missing object: it propagates.
    code = _error_code(error)
    return code in _NOT_FOUND_CODES or (_status(error) == 404 and code != "NoSuchBucket")


def _is_invalid_range(error: ClientError) -> bool:
    return _error_code(error) == "InvalidRange" or _status(error) == 416


def _unsatisfiable() -> ValidationError:
    return ValidationError("range starts past the end", code="range_not_satisfiable")
