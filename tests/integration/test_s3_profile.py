"""Settings alone move the platform's object storage onto S3 (here moto's server mode
over HTTP on loopback; any S3-compatible service is reached the same way)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tests.unit.conftest import MP4_HEAD
from videoplatform.adapters.storage.s3 import S3ObjectStorage
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.storage import ByteRange, ObjectStorage
from videoplatform.application.users import RegisterUser
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.instruments import TimedStorage
from videoplatform.entrypoints.persistence import open_storage
from videoplatform.entrypoints.resilience import GuardedStorage
from videoplatform.entrypoints.settings import ConfigurationError, Settings

CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


@pytest.mark.usefixtures("aws_environment")
@pytest.mark.parametrize("database_url", ["memory://", ""], ids=["memory-db", "sqlite-db"])
def test_files_are_stored_in_and_read_from_the_bucket_that_settings_name(
    moto_endpoint: str, bucket: str, raw_client: Any, database_url: str, tmp_path: Path
) -> None:
    settings = Settings.from_env(
        {
            "VIDEOPLATFORM_DATABASE_URL": database_url,
            "VIDEOPLATFORM_DATA_DIR": str(tmp_path / "data"),
            "VIDEOPLATFORM_STORAGE_URL": f"s3://{bucket}",
            "VIDEOPLATFORM_S3_ENDPOINT_URL": moto_endpoint,
            "VIDEOPLATFORM_S3_REGION": "eu-west-1",
            **{f"VIDEOPLATFORM_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()},
        }
    )
    platform = create_platform(settings)
    try:
        timed = platform.container.resolve(ObjectStorage)
        assert isinstance(timed, TimedStorage)  # measured (a metric)...
        guarded = timed.inner
        assert isinstance(guarded, GuardedStorage)  # ... and behind its circuit breaker
        storage = guarded.inner
        assert isinstance(storage, S3ObjectStorage)
        assert storage.bucket == bucket
        alice = platform.users.register(RegisterUser("alice@example.com", "long passphrase!", "A"))
        me = Caller(alice.id)
        content = b"stored in S3 " * 10_000
        stored = platform.files.store(me, StoreFile("notes.txt", io.BytesIO(content)))

        # The bytes are in the bucket, under the key the platform chose...
        listed = raw_client.list_objects_v2(Bucket=bucket)
        assert [entry["Key"] for entry in listed["Contents"]] == [stored.storage_key]
        in_bucket = raw_client.get_object(Bucket=bucket, Key=stored.storage_key)
        assert in_bucket["Body"].read() == content
        # ... and come back through the file service, whole or as a range.
        info, chunks = platform.files.open(me, stored.id)
        assert info.size == len(content)
        assert not isinstance(chunks, io.IOBase)
        assert b"".join(chunks) == content
        _, part = platform.files.open(me, stored.id, ByteRange(13, 25))
        assert not isinstance(part, io.IOBase)
        assert b"".join(part) == content[13:26]
        assert platform.health.readiness().checks["storage"] == "ok"
    finally:
        platform.close()


@pytest.mark.usefixtures("aws_environment")
def test_readiness_reports_a_bucket_that_does_not_exist(moto_endpoint: str) -> None:
    settings = Settings.in_memory(
        storage_url="s3://no-such-bucket-here", s3_endpoint_url=moto_endpoint, **CHEAP_ARGON2
    )
    platform = create_platform(settings)  # builds a client; connects to nothing
    try:
        readiness = platform.health.readiness()
        assert not readiness.ready
        assert readiness.checks["storage"].startswith("unavailable")
    finally:
        platform.close()


@pytest.mark.usefixtures("aws_environment")
def test_building_s3_storage_connects_to_nothing() -> None:
    # Port 9 on loopback (discard) has no S3: building must not notice.
    storage = open_storage(
        Settings.in_memory(storage_url="s3://bucket", s3_endpoint_url="http://127.0.0.1:9")
    )
    assert isinstance(storage, S3ObjectStorage)


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"storage_url": "s3://"}, "STORAGE_URL"),
        ({"storage_url": "s3:///bucket"}, "STORAGE_URL"),
        ({"storage_url": "s3://bucket/some/prefix"}, "STORAGE_URL"),
        ({"storage_url": "s3://bucket?region=x"}, "STORAGE_URL"),
        ({"storage_url": "s3://bucket", "s3_endpoint_url": "minio:9000"}, "S3_ENDPOINT_URL"),
        ({"storage_url": "s3://bucket", "s3_endpoint_url": "ftp://host"}, "S3_ENDPOINT_URL"),
    ],
)
def test_malformed_s3_settings_are_refused_by_name(changes: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=f"VIDEOPLATFORM_{variable}"):
        open_storage(Settings.in_memory(**changes))


@pytest.mark.usefixtures("aws_environment")
def test_downloads_redirect_to_a_short_lived_url_with_safe_headers(
    moto_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    import urllib.request

    import falcon.testing

    from videoplatform.entrypoints.http.app import create_app

    settings = Settings.in_memory(
        storage_url=f"s3://{bucket}", s3_endpoint_url=moto_endpoint, **CHEAP_ARGON2
    )
    platform = create_platform(settings)
    try:
        client = falcon.testing.TestClient(create_app(platform))
        platform.users.register(RegisterUser("dl@example.com", "long passphrase!", "D"))
        token = client.simulate_post(
            "/api/v1/auth/session", json={"email": "dl@example.com", "password": "long passphrase!"}
        ).json["token"]
        auth = {"Authorization": f"Bearer {token}"}
        page = b"<html><script>alert(1)</script></html>"
        made = client.simulate_post(
            "/api/v1/files",
            params={"folder": "/", "name": "page.html"},
            body=page,
            headers={**auth, "Content-Type": "application/octet-stream"},
        )
        url = f"/api/v1/files/{made.json['id']}/content"

        moved = client.simulate_get(url, headers=auth, params={"disposition": "inline"})

        assert moved.status_code == 307
        assert moved.headers["cache-control"] == "no-store"
        with urllib.request.urlopen(moved.headers["location"], timeout=10) as fetched:  # noqa: S310
            assert fetched.read() == page
            # HTML is never shown inline, even when asked: the signed URL says attachment.
            assert fetched.headers["Content-Disposition"].startswith("attachment;")
        stranger = client.simulate_get(url)
        assert stranger.status_code == 401
    finally:
        platform.close()


@pytest.mark.usefixtures("aws_environment")
def test_playback_serves_playlists_and_redirects_segments_to_the_bucket(
    moto_endpoint: str, bucket: str
) -> None:
    """A player follows master → variant through the API, then the segment's redirect
    to a presigned URL that the S3 service answers (ranges included)."""
    import urllib.request
    from urllib.parse import urljoin, urlsplit

    import falcon.testing

    from tests.unit.http.test_playback import SEGMENT_0, publish_outputs
    from videoplatform.application.ports.persistence import UnitOfWorkFactory
    from videoplatform.application.ports.system import Clock
    from videoplatform.application.video_commands import UploadVideo
    from videoplatform.entrypoints.http.app import create_app

    settings = Settings.in_memory(
        storage_url=f"s3://{bucket}", s3_endpoint_url=moto_endpoint, **CHEAP_ARGON2
    )
    platform = create_platform(settings)
    try:
        client = falcon.testing.TestClient(create_app(platform))
        owner = platform.users.register(RegisterUser("pb@example.com", "long passphrase!", "P"))
        video = platform.videos.upload(
            Caller(owner.id), UploadVideo("Clip", io.BytesIO(MP4_HEAD + b"src"))
        )
        publish_outputs(
            platform.container.resolve(UnitOfWorkFactory),
            platform.container.resolve(Clock),
            platform.container.resolve(ObjectStorage),
            video.id,
            f"videos/{video.id}/hls-1/",
        )
        token = client.simulate_post(
            "/api/v1/auth/session", json={"email": "pb@example.com", "password": "long passphrase!"}
        ).json["token"]
        urls = client.simulate_get(
            f"/api/v1/videos/{video.id}/playback", headers={"Authorization": f"Bearer {token}"}
        ).json

        master = client.simulate_get(urlsplit(urls["master_url"]).path)
        assert master.status_code == 200  # playlists never leave the API
        variant_url = urljoin(urls["master_url"], master.text.splitlines()[-1])
        variant = client.simulate_get(urlsplit(variant_url).path)
        assert variant.status_code == 200
        segment_url = urljoin(variant_url, "segment_00000.ts")
        moved = client.simulate_get(urlsplit(segment_url).path)
        assert moved.status_code == 307
        assert moved.headers["cache-control"] == "no-store"
        with urllib.request.urlopen(moved.headers["location"], timeout=10) as fetched:  # noqa: S310
            assert fetched.read() == SEGMENT_0
            assert fetched.headers["Content-Type"] == "video/mp2t"
        location = moved.headers["location"]
        ranged = urllib.request.Request(location, headers={"Range": "bytes=0-9"})  # noqa: S310
        with urllib.request.urlopen(ranged, timeout=10) as part:  # noqa: S310
            assert part.status == 206
            assert part.read() == SEGMENT_0[:10]
        forged = client.simulate_get(urlsplit(segment_url).path.replace("/play/", "/play/x", 1))
        assert forged.status_code == 403
    finally:
        platform.close()
