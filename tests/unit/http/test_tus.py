"""Resumable uploads over HTTP: the tus 1.0.0 core and its extensions, problem+json
errors with the statuses the protocol names, owner-only access."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import timedelta

import attrs
import falcon.testing
import pytest

from tests.unit.conftest import CHEAP_ARGON2
from tests.unit.http.conftest import Account, MakeAccount, problem_code
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.application.context import Caller
from videoplatform.application.ports.storage import ByteRange
from videoplatform.domain.ids import UserId, VideoId
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.settings import Settings

UPLOADS = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_MEDIA = "application/offset+octet-stream"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
LIMIT = 64 * 1024
QUOTA = 100 * 1024
Client = falcon.testing.TestClient


@pytest.fixture
def settings() -> Settings:
    return attrs.evolve(
        CHEAP_ARGON2, max_upload_bytes=LIMIT, quota_bytes_per_user=QUOTA, max_open_uploads=3
    )


@pytest.fixture
def owner(account: MakeAccount) -> Account:
    return account(Role.CREATOR)


def metadata(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def create(
    client: Client, who: Account, length: int, body: bytes = b"", **meta: str
) -> falcon.testing.Result:
    headers = {
        **TUS,
        **who.headers,
        "Upload-Length": str(length),
        "Upload-Metadata": metadata(**(meta or {"kind": "video", "title": "Clip"})),
    }
    if body:
        headers["Content-Type"] = OFFSET_MEDIA
    return client.simulate_post(UPLOADS, headers=headers, body=body or None)


def patch(
    client: Client, who: Account, location: str, offset: int, body: bytes, **extra: str
) -> falcon.testing.Result:
    headers = {
        **TUS,
        **who.headers,
        "Upload-Offset": str(offset),
        "Content-Type": OFFSET_MEDIA,
        **extra,
    }
    return client.simulate_patch(location, headers=headers, body=body)


def uploaded_parts(storage: MemoryObjectStorage) -> list[str]:
    stored: list[str] = storage.keys()
    return [k for k in stored if k.startswith("uploads/")]


def head(client: Client, who: Account, location: str) -> falcon.testing.Result:
    return client.simulate_head(location, headers={**TUS, **who.headers})


def test_options_discovers_the_protocol_without_authentication(client: Client) -> None:
    result = client.simulate_options(UPLOADS)
    assert result.status_code == 204
    assert result.headers["Tus-Resumable"] == "1.0.0"
    assert result.headers["Tus-Version"] == "1.0.0"
    assert result.headers["Tus-Extension"] == (
        "creation,creation-with-upload,termination,checksum,expiration"
    )
    assert result.headers["Tus-Max-Size"] == str(LIMIT)
    assert result.headers["Tus-Checksum-Algorithm"] == "sha1,sha256,md5"


def test_a_video_uploaded_in_chunks_becomes_a_video_with_its_sha256(
    client: Client, owner: Account, platform: Platform
) -> None:
    created = create(client, owner, len(VIDEO))
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.startswith(f"{UPLOADS}/")
    assert created.headers["Upload-Offset"] == "0"
    assert created.headers["Upload-Expires"].endswith(" GMT")
    first = patch(client, owner, location, 0, VIDEO[:4000])
    assert first.status_code == 204, first.text
    assert first.headers["Upload-Offset"] == "4000"
    assert "Upload-Result" not in first.headers
    progress = head(client, owner, location)
    assert progress.status_code == 200
    assert progress.headers["Upload-Offset"] == "4000"
    assert progress.headers["Upload-Length"] == str(len(VIDEO))
    assert progress.headers["Cache-Control"] == "no-store"
    last = patch(client, owner, location, 4000, VIDEO[4000:])
    assert last.status_code == 204, last.text
    result = last.headers["Upload-Result"]
    assert result.startswith("/api/v1/videos/")
    video = client.simulate_get(result, headers=owner.headers)
    assert video.json["title"] == "Clip"
    stored = platform.videos.get(Caller(UserId(owner.user_id)), VideoId(video.json["id"]))
    assert stored.source_sha256 == hashlib.sha256(VIDEO).hexdigest()
    after = head(client, owner, location)
    assert after.headers["Upload-Offset"] == str(len(VIDEO))
    assert after.headers["Upload-Result"] == result


def test_creation_with_upload_stores_the_first_chunk_and_can_complete_a_file(
    client: Client, owner: Account
) -> None:
    text = b"all of it at once\n"
    created = create(client, owner, len(text), text, kind="file", filename="a.txt")
    assert created.status_code == 201, created.text
    assert created.headers["Upload-Offset"] == str(len(text))
    result = created.headers["Upload-Result"]
    assert result.startswith("/api/v1/files/")
    stored = client.simulate_get(result, headers=owner.headers)
    assert stored.json["name"] == "a.txt"
    assert stored.json["sha256"] == hashlib.sha256(text).hexdigest()


def test_the_tus_version_is_required_except_on_options(client: Client, owner: Account) -> None:
    missing = client.simulate_post(UPLOADS, headers={**owner.headers, "Upload-Length": "10"})
    assert missing.status_code == 412
    assert problem_code(missing) == "tus_version_unsupported"
    assert missing.headers["Tus-Version"] == "1.0.0"
    assert missing.headers["Tus-Resumable"] == "1.0.0"
    other = client.simulate_post(
        UPLOADS, headers={**owner.headers, "Tus-Resumable": "0.2.2", "Upload-Length": "10"}
    )
    assert other.status_code == 412


def test_a_wrong_offset_is_409_and_changes_nothing(client: Client, owner: Account) -> None:
    location = create(client, owner, len(VIDEO)).headers["Location"]
    patch(client, owner, location, 0, VIDEO[:100])
    wrong = patch(client, owner, location, 0, VIDEO[:100])
    assert wrong.status_code == 409
    assert problem_code(wrong) == "offset_mismatch"
    assert wrong.headers["Tus-Resumable"] == "1.0.0"
    assert head(client, owner, location).headers["Upload-Offset"] == "100"


def test_a_patch_with_another_content_type_is_415(client: Client, owner: Account) -> None:
    location = create(client, owner, len(VIDEO)).headers["Location"]
    wrong = patch(client, owner, location, 0, VIDEO[:10], **{"Content-Type": "video/mp4"})
    assert wrong.status_code == 415
    assert head(client, owner, location).headers["Upload-Offset"] == "0"


def test_a_chunk_past_the_upload_length_is_413_with_nothing_stored(
    client: Client, owner: Account, storage: MemoryObjectStorage
) -> None:
    location = create(client, owner, 10, kind="file", filename="f").headers["Location"]
    over = patch(client, owner, location, 0, b"x" * 11)
    assert over.status_code == 413
    assert problem_code(over) == "upload_length_exceeded"
    assert head(client, owner, location).headers["Upload-Offset"] == "0"
    assert not uploaded_parts(storage)


def test_checksums_460_on_mismatch_400_on_unknown_algorithm(client: Client, owner: Account) -> None:
    location = create(client, owner, len(VIDEO)).headers["Location"]
    chunk = VIDEO[:500]
    wrong = base64.b64encode(hashlib.sha1(b"other", usedforsecurity=False).digest()).decode()
    mismatch = patch(client, owner, location, 0, chunk, **{"Upload-Checksum": f"sha1 {wrong}"})
    assert mismatch.status_code == 460
    assert problem_code(mismatch) == "checksum_mismatch"
    unknown = patch(client, owner, location, 0, chunk, **{"Upload-Checksum": "crc32 AAAA"})
    assert unknown.status_code == 400
    assert problem_code(unknown) == "checksum_algorithm_unsupported"
    for malformed in ("sha1", "sha1 ", "SHA256 AAAA", f"md5 {wrong}"):
        refused = patch(client, owner, location, 0, chunk, **{"Upload-Checksum": malformed})
        assert refused.status_code == 400, malformed
        assert problem_code(refused) == "checksum_malformed"
    assert head(client, owner, location).headers["Upload-Offset"] == "0"
    right = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
    good = patch(client, owner, location, 0, chunk, **{"Upload-Checksum": f"sha256 {right}"})
    assert good.status_code == 204
    assert good.headers["Upload-Offset"] == "500"


def test_an_expired_upload_is_410(client: Client, owner: Account, clock: ManualClock) -> None:
    location = create(client, owner, len(VIDEO)).headers["Location"]
    clock.advance(timedelta(hours=24))
    gone = patch(client, owner, location, 0, VIDEO[:10])
    assert gone.status_code == 410
    assert problem_code(gone) == "upload_expired"
    assert head(client, owner, location).status_code == 410


def test_termination_is_204_and_the_upload_is_gone(
    client: Client, owner: Account, storage: MemoryObjectStorage
) -> None:
    location = create(client, owner, len(VIDEO)).headers["Location"]
    patch(client, owner, location, 0, VIDEO[:10])
    deleted = client.simulate_delete(location, headers={**TUS, **owner.headers})
    assert deleted.status_code == 204
    assert deleted.headers["Tus-Resumable"] == "1.0.0"
    assert head(client, owner, location).status_code == 404
    assert not uploaded_parts(storage)


def test_someone_else_gets_404_on_every_operation(
    client: Client, owner: Account, account: MakeAccount
) -> None:
    location = create(client, owner, len(VIDEO)).headers["Location"]
    intruder = account(Role.ADMIN)
    assert head(client, intruder, location).status_code == 404
    assert patch(client, intruder, location, 0, VIDEO[:10]).status_code == 404
    assert client.simulate_delete(location, headers={**TUS, **intruder.headers}).status_code == 404
    assert head(client, owner, location).headers["Upload-Offset"] == "0"


def test_creation_needs_a_signed_in_user(client: Client) -> None:
    result = client.simulate_post(UPLOADS, headers={**TUS, "Upload-Length": "10"})
    assert result.status_code == 401


def test_invalid_metadata_is_refused_before_any_byte(client: Client, owner: Account) -> None:
    no_title = create(client, owner, 10, kind="video")
    assert no_title.status_code == 422
    assert no_title.json["errors"] == [{"field": "title", "message": "is required"}]
    sneaky = create(client, owner, 10, kind="file", filename="../../etc/passwd")
    assert sneaky.status_code == 422
    malformed = client.simulate_post(
        UPLOADS,
        headers={**TUS, **owner.headers, "Upload-Length": "10", "Upload-Metadata": "kind !!!"},
    )
    assert malformed.status_code == 400
    assert problem_code(malformed) == "tus_metadata"
    no_length = client.simulate_post(UPLOADS, headers={**TUS, **owner.headers})
    assert no_length.status_code == 400


def test_a_length_past_the_quota_or_the_limit_is_413_at_creation(
    client: Client, owner: Account
) -> None:
    over_limit = create(client, owner, LIMIT + 1)
    assert over_limit.status_code == 413
    assert problem_code(over_limit) == "quota_exceeded"


def test_bytes_that_are_not_a_video_are_415_when_the_upload_completes(
    client: Client, owner: Account
) -> None:
    location = create(client, owner, 100).headers["Location"]
    refused = patch(client, owner, location, 0, b"plain text " * 9 + b"z")
    assert refused.status_code == 415
    assert problem_code(refused) == "unsupported_media_type"


def test_a_patch_completing_an_upload_another_request_completes_is_409(
    client: Client, owner: Account, storage: MemoryObjectStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = create(client, owner, len(VIDEO)).headers["Location"]
    original = storage.get
    meanwhile: list[falcon.testing.Result] = []

    def get(key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        if "/parts/" in key and not meanwhile:
            # While the last chunk's request streams the parts into the video: an empty
            # PATCH at the full offset, then a HEAD.
            meanwhile.append(patch(client, owner, location, len(VIDEO), b""))
            meanwhile.append(head(client, owner, location))
        return original(key, byte_range)

    monkeypatch.setattr(storage, "get", get)
    last = patch(client, owner, location, 0, VIDEO)
    assert last.status_code == 204, last.text
    lost, progress = meanwhile
    assert lost.status_code == 409
    assert problem_code(lost) == "upload_completing"
    assert progress.status_code == 200
    assert progress.headers["Upload-Offset"] == str(len(VIDEO))
    assert "Upload-Result" not in progress.headers
    mine = client.simulate_get("/api/v1/videos", params={"mine": "true"}, headers=owner.headers)
    assert [f"/api/v1/videos/{v['id']}" for v in mine.json["items"]] == [
        last.headers["Upload-Result"]
    ]
    assert head(client, owner, location).headers["Upload-Result"] == last.headers["Upload-Result"]


def test_open_uploads_hold_quota_and_at_most_max_open_uploads_are_open(
    client: Client, owner: Account
) -> None:
    big = create(client, owner, 60 * 1024)
    assert big.status_code == 201, big.text
    over = create(client, owner, 60 * 1024)  # fits the quota alone, not beside the first
    assert over.status_code == 413
    assert problem_code(over) == "quota_exceeded"
    for _ in range(2):
        assert create(client, owner, 10).status_code == 201
    too_many = create(client, owner, 10)
    assert too_many.status_code == 403
    assert problem_code(too_many) == "too_many_open_uploads"
    ended = client.simulate_delete(big.headers["Location"], headers={**TUS, **owner.headers})
    assert ended.status_code == 204
    assert create(client, owner, 60 * 1024).status_code == 201
