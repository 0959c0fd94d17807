"""What the S3 adapter promises beyond the storage port: multipart uploads that are
aborted on any failure, exact round trips of bodies of many parts, presigned GET URLs.
The port's own contract runs on S3 through the ``object_storage`` fixture."""

from __future__ import annotations

import io
import random
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.auth
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from tests.contracts.conftest import S3Harness
from videoplatform.adapters.storage import s3 as s3_module
from videoplatform.adapters.storage.s3 import MIN_PART_SIZE, PART_SIZE, S3ObjectStorage
from videoplatform.application.ports.storage import ByteRange
from videoplatform.domain.errors import NotFound, ValidationError

MIB = 1024 * 1024


def random_bytes(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311 - test data, not a secret


def read_all(storage: S3ObjectStorage, key: str, byte_range: ByteRange | None = None) -> bytes:
    return b"".join(storage.get(key, byte_range))


def pending_uploads(harness: S3Harness) -> list[dict[str, Any]]:
    uploads: list[dict[str, Any]] = harness.client.list_multipart_uploads(
        Bucket=harness.bucket
    ).get("Uploads", [])
    return uploads


def etag(harness: S3Harness, key: str) -> str:
    tag: str = harness.client.head_object(Bucket=harness.bucket, Key=key)["ETag"]
    return tag.strip('"')


class FailsAfter:
    """Hands out ``good`` bytes, then raises; ``on_read`` sees every read first."""

    def __init__(self, good: bytes, on_read: Any = None) -> None:
        self._data = io.BytesIO(good)
        self._on_read = on_read

    def read(self, size: int = -1, /) -> bytes:
        if self._on_read is not None:
            self._on_read()
        chunk = self._data.read(size)
        if not chunk:
            raise ConnectionResetError("client went away")
        return chunk


class FaultyClient:
    """The real client, except that the named operations fail (S3 errors)."""

    def __init__(self, real: Any, *, fail: dict[str, Any]) -> None:
        self._real = real
        self._fail = fail
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            should_fail = self._fail.get(name)
            if should_fail is not None and should_fail(kwargs):
                raise ClientError(
                    {"Error": {"Code": "InternalError", "Message": f"{name} failed"}}, name
                )
            return operation(*args, **kwargs)

        return call


@pytest.fixture
def small_parts(s3_harness: S3Harness) -> S3ObjectStorage:
    """The adapter with S3's smallest part size, so multipart cases stay small."""
    return S3ObjectStorage(s3_harness.bucket, s3_harness.client, part_size=MIN_PART_SIZE)


# -- multipart: failures leave nothing behind ------------------------------------------


def test_a_source_failing_mid_multipart_leaves_no_object_and_no_pending_upload(
    s3_harness: S3Harness, small_parts: S3ObjectStorage
) -> None:
    pending_seen: list[int] = []
    source = FailsAfter(
        random_bytes(2 * MIN_PART_SIZE + 123),
        on_read=lambda: pending_seen.append(len(pending_uploads(s3_harness))),
    )
    with pytest.raises(ConnectionResetError):
        small_parts.put("videos/v1/source", source)
    # The upload was really under way (parts sent) before the source broke...
    assert max(pending_seen) == 1
    # ... and it is gone: no object, no parts left to linger or be billed.
    assert pending_uploads(s3_harness) == []
    assert not small_parts.exists("videos/v1/source")
    listed = s3_harness.client.list_objects_v2(Bucket=s3_harness.bucket)
    assert listed.get("KeyCount", 0) == 0


def test_a_source_failing_mid_multipart_leaves_the_previous_object_intact(
    s3_harness: S3Harness, small_parts: S3ObjectStorage
) -> None:
    previous = random_bytes(MIN_PART_SIZE + 5, seed=1)
    small_parts.put("k/obj", io.BytesIO(previous))
    with pytest.raises(ConnectionResetError):
        small_parts.put("k/obj", FailsAfter(random_bytes(3 * MIN_PART_SIZE, seed=2)))
    assert pending_uploads(s3_harness) == []
    assert read_all(small_parts, "k/obj") == previous


@pytest.mark.parametrize(
    "fail",
    [
        pytest.param({"upload_part": lambda kw: kw["PartNumber"] == 2}, id="second-part"),
        pytest.param({"complete_multipart_upload": lambda kw: True}, id="complete"),
    ],
)
def test_an_s3_error_mid_multipart_aborts_the_upload(
    s3_harness: S3Harness, fail: dict[str, Any]
) -> None:
    s3_harness.client.put_object(Bucket=s3_harness.bucket, Key="k/obj", Body=b"old")
    faulty = FaultyClient(s3_harness.client, fail=fail)
    storage = S3ObjectStorage(s3_harness.bucket, faulty, part_size=MIN_PART_SIZE)
    with pytest.raises(ClientError, match="failed"):
        storage.put("k/obj", io.BytesIO(random_bytes(2 * MIN_PART_SIZE + 1)))
    assert "abort_multipart_upload" in faulty.calls
    assert pending_uploads(s3_harness) == []
    assert read_all(storage, "k/obj") == b"old"


def test_a_failing_abort_does_not_hide_the_original_error(
    s3_harness: S3Harness,
) -> None:
    faulty = FaultyClient(s3_harness.client, fail={"abort_multipart_upload": lambda kw: True})
    storage = S3ObjectStorage(s3_harness.bucket, faulty, part_size=MIN_PART_SIZE)
    with pytest.raises(ConnectionResetError):
        storage.put("k/obj", FailsAfter(random_bytes(MIN_PART_SIZE + 1)))
    assert faulty.calls[-1] == "abort_multipart_upload"
    for upload in pending_uploads(s3_harness):  # what a lifecycle rule would reclaim
        s3_harness.client.abort_multipart_upload(
            Bucket=s3_harness.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )


# -- multipart: exact round trips ------------------------------------------------------


def test_a_large_body_round_trips_exactly_through_a_multipart_upload(
    s3_harness: S3Harness,
) -> None:
    body = random_bytes(20 * MIB + 12_345)
    info = s3_harness.storage.put("videos/v1/source", io.BytesIO(body))
    assert info.size == len(body)
    # A multipart object's ETag ends in "-<parts>": 8 MiB parts make three.
    assert etag(s3_harness, "videos/v1/source").endswith("-3")
    assert s3_harness.storage.stat("videos/v1/source").size == len(body)
    chunks = list(s3_harness.storage.get("videos/v1/source"))
    assert all(chunks)
    assert b"".join(chunks) == body
    # A range across the boundary of parts 1 and 2, and the tail of the last part.
    across = ByteRange(PART_SIZE - 10, PART_SIZE + 10)
    assert (
        read_all(s3_harness.storage, "videos/v1/source", across)
        == body[PART_SIZE - 10 : PART_SIZE + 11]
    )
    tail = ByteRange(len(body) - 7, len(body) + 100)
    assert read_all(s3_harness.storage, "videos/v1/source", tail) == body[-7:]


@pytest.mark.parametrize(
    ("size", "multipart"),
    [
        pytest.param(MIN_PART_SIZE - 1, False, id="one-byte-short-of-a-part"),
        pytest.param(MIN_PART_SIZE, True, id="exactly-one-part"),
        pytest.param(2 * MIN_PART_SIZE, True, id="exactly-two-parts"),
    ],
)
def test_bodies_at_part_boundaries_round_trip_from_short_reads(
    s3_harness: S3Harness, small_parts: S3ObjectStorage, size: int, multipart: bool
) -> None:
    body = random_bytes(size)

    class Trickle:
        def __init__(self) -> None:
            self._data = io.BytesIO(body)

        def read(self, size: int = -1, /) -> bytes:
            return self._data.read(min(size, 300_001) if size > 0 else 300_001)

    assert small_parts.put("k/obj", Trickle()).size == size
    assert ("-" in etag(s3_harness, "k/obj")) == multipart
    assert read_all(small_parts, "k/obj") == body
    assert pending_uploads(s3_harness) == []


def test_part_sizes_below_the_s3_minimum_are_refused(s3_harness: S3Harness) -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3ObjectStorage(s3_harness.bucket, s3_harness.client, part_size=MIN_PART_SIZE - 1)


# -- keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["../etc/passwd", "/videos/v1/source", "videos//source", "videos/../x", "", "k/.x"]
)
def test_keys_the_platform_never_builds_are_refused_or_name_nothing(
    s3_harness: S3Harness, key: str
) -> None:
    storage = s3_harness.storage
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put(key, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.presigned_get(key, 60)
    assert not storage.exists(key)
    with pytest.raises(NotFound):
        storage.get(key)
    with pytest.raises(NotFound):
        storage.stat(key)
    storage.delete(key)
    assert s3_harness.client.list_objects_v2(Bucket=s3_harness.bucket).get("KeyCount", 0) == 0


def test_delete_prefix_pages_through_listings_and_batches_its_deletes(
    s3_harness: S3Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages and batches of 10 (S3's are 1,000): 25 keys take three of each.
    monkeypatch.setattr(s3_module, "DELETE_BATCH", 10)
    faulty = FaultyClient(s3_harness.client, fail={})
    storage = S3ObjectStorage(s3_harness.bucket, faulty)
    for i in range(25):
        storage.put(f"videos/v1/hls/{i}", io.BytesIO(b""))
    storage.put("videos/v10/source", io.BytesIO(b""))
    assert storage.delete_prefix("videos/v1/") == 25
    assert faulty.calls.count("delete_objects") == 3
    listed = s3_harness.client.list_objects_v2(Bucket=s3_harness.bucket)
    assert [entry["Key"] for entry in listed["Contents"]] == ["videos/v10/source"]


# -- ranges a service answers with the whole object ------------------------------------


class IgnoresRanges:
    """A client whose GetObject answers 200 with the whole object, as HTTP allows a
    server to do with any Range header."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.closed = False

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        body = StreamingBody(io.BytesIO(self._data), len(self._data))
        original_close = body.close

        def close() -> None:
            self.closed = True
            original_close()

        body.close = close
        return {"Body": body, "ContentLength": len(self._data)}


def test_a_range_the_service_ignored_is_applied_by_the_adapter() -> None:
    data = random_bytes(3 * MIB + 17)
    storage = S3ObjectStorage("bucket", IgnoresRanges(data))
    assert (
        read_all(storage, "k/obj", ByteRange(MIB - 3, 2 * MIB + 3)) == data[MIB - 3 : 2 * MIB + 4]
    )
    assert read_all(storage, "k/obj", ByteRange(len(data) - 2, 10**12)) == data[-2:]
    client = IgnoresRanges(b"")
    with pytest.raises(ValidationError) as caught:
        S3ObjectStorage("bucket", client).get("k/empty", ByteRange(0, 0))
    assert caught.value.code == "range_not_satisfiable"
    assert client.closed


# -- presigned GET ---------------------------------------------------------------------


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - http on loopback
        data: bytes = response.read()
    return data


def test_a_presigned_get_url_serves_the_object_over_http(s3_harness: S3Harness) -> None:
    body = random_bytes(300_000)
    s3_harness.storage.put("files/f1", io.BytesIO(body))
    url = s3_harness.storage.presigned_get("files/f1", 60)
    assert url.startswith(f"{s3_harness.endpoint}/{s3_harness.bucket}/files/f1?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["60"]
    assert "X-Amz-Signature" in query
    assert fetch(url) == body


def test_a_presigned_get_url_carries_its_expiry(s3_harness: S3Harness) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    url = s3_harness.storage.presigned_get("files/f1", 900)
    query = parse_qs(urlsplit(url).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed <= datetime.now(UTC)
    assert int(query["X-Amz-Expires"][0]) == 900


@pytest.mark.parametrize("seconds", [0, -1, 7 * 24 * 3600 + 1])
def test_presigned_lifetimes_outside_what_sigv4_allows_are_refused(
    s3_harness: S3Harness, seconds: int
) -> None:
    with pytest.raises(ValueError, match="expires_seconds"):
        s3_harness.storage.presigned_get("files/f1", seconds)


@pytest.fixture
def signed_two_hours_ago(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Presigned URLs made now are signed as if two hours ago (botocore asks
    ``get_current_datetime`` for the signing time)."""
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: past)
    yield


# -- misconfiguration ------------------------------------------------------------------


def test_a_missing_bucket_is_an_error_not_a_missing_object(s3_harness: S3Harness) -> None:
    storage = S3ObjectStorage("vp-test-no-such-bucket", s3_harness.client)
    for attempt in (
        lambda: storage.stat("k/a"),
        lambda: storage.exists("k/a"),
        lambda: storage.get("k/a"),
        lambda: storage.put("k/a", io.BytesIO(b"x")),
    ):
        with pytest.raises(ClientError, match=r"NoSuchBucket|404"):
            attempt()


# -- partial writes left by a killed process --------------------------------------------


def test_the_sweep_aborts_multipart_uploads_begun_before_the_cutoff(
    s3_harness: S3Harness,
) -> None:
    # What a process killed in the middle of a put leaves: an upload never completed.
    left = s3_harness.client.create_multipart_upload(
        Bucket=s3_harness.bucket, Key="videos/v1/source"
    )
    s3_harness.client.upload_part(
        Bucket=s3_harness.bucket,
        Key="videos/v1/source",
        UploadId=left["UploadId"],
        PartNumber=1,
        Body=b"half",
    )
    # (The emulated S3 reports one fixed, long past start time for every upload, so
    # sparing an upload begun after the cutoff is shown on local disk only.)
    assert s3_harness.storage.sweep_partial(datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert pending_uploads(s3_harness) == []
    assert not s3_harness.storage.exists("videos/v1/source")
