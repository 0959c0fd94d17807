"""Range and conditional downloads (RFC 9110)."""

from __future__ import annotations

import falcon.testing
import pytest

from tests.unit.http.conftest import Account, MakeAccount, problem_code
from videoplatform.application.ports.storage import ByteRange
from videoplatform.domain.users import Role
from videoplatform.entrypoints.http.ranges import parse_range

BODY = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=1000-", ByteRange(1000, 1023)),
        ("bytes=-24", ByteRange(1000, 1023)),
        ("bytes=-5000", ByteRange(0, 1023)),
        ("bytes=1000-99999", ByteRange(1000, 1023)),
        ("bytes=1024-", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=5-1", None),
        ("bytes=0-1,5-9", None),
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
    ],
)
def test_single_byte_ranges_are_parsed_as_rfc_9110_says(
    header: str | None, expected: object
) -> None:
    assert parse_range(header, 1024) == expected


def test_an_empty_representation_has_no_satisfiable_suffix() -> None:
    assert parse_range("bytes=-10", 0) == "unsatisfiable"
    assert parse_range("bytes=0-", 0) == "unsatisfiable"


@pytest.fixture
def me(account: MakeAccount) -> Account:
    return account(Role.CREATOR)


@pytest.fixture
def file_url(client: falcon.testing.TestClient, me: Account) -> str:
    made = client.simulate_post(
        "/api/v1/files",
        params={"folder": "/", "name": "data.bin"},
        body=BODY,
        headers={**me.headers, "Content-Type": "application/octet-stream"},
    )
    assert made.status_code == 201, made.text
    return f"/api/v1/files/{made.json['id']}/content"


def test_a_range_request_gets_206_with_exactly_those_bytes(
    client: falcon.testing.TestClient, me: Account, file_url: str
) -> None:
    result = client.simulate_get(file_url, headers={**me.headers, "Range": "bytes=100-199"})
    assert result.status_code == 206
    assert result.content == BODY[100:200]
    assert result.headers["content-range"] == "bytes 100-199/1024"
    assert result.headers["content-length"] == "100"
    assert result.headers["accept-ranges"] == "bytes"


def test_a_suffix_range_gets_the_tail(
    client: falcon.testing.TestClient, me: Account, file_url: str
) -> None:
    result = client.simulate_get(file_url, headers={**me.headers, "Range": "bytes=-10"})
    assert result.status_code == 206
    assert result.content == BODY[-10:]


def test_a_range_past_the_end_is_416_with_the_size(
    client: falcon.testing.TestClient, me: Account, file_url: str
) -> None:
    result = client.simulate_get(file_url, headers={**me.headers, "Range": "bytes=5000-"})
    assert result.status_code == 416
    assert problem_code(result) == "range_not_satisfiable"
    assert result.headers["content-range"] == "bytes */1024"


def test_if_range_with_another_etag_gets_the_whole_file(
    client: falcon.testing.TestClient, me: Account, file_url: str
) -> None:
    result = client.simulate_get(
        file_url, headers={**me.headers, "Range": "bytes=0-9", "If-Range": '"not-the-etag"'}
    )
    assert result.status_code == 200
    assert result.content == BODY


def test_if_range_with_the_current_etag_gets_the_range(
    client: falcon.testing.TestClient, me: Account, file_url: str
) -> None:
    etag = client.simulate_get(file_url, headers=me.headers).headers["etag"]
    result = client.simulate_get(
        file_url, headers={**me.headers, "Range": "bytes=0-9", "If-Range": etag}
    )
    assert result.status_code == 206
    assert result.content == BODY[:10]


def test_if_modified_since_gives_304_for_an_unchanged_file(
    client: falcon.testing.TestClient, me: Account, file_url: str
) -> None:
    first = client.simulate_get(file_url, headers=me.headers)
    last_modified = first.headers["last-modified"]
    again = client.simulate_get(
        file_url, headers={**me.headers, "If-Modified-Since": last_modified}
    )
    assert again.status_code == 304
    older = client.simulate_get(
        file_url, headers={**me.headers, "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )
    assert older.status_code == 200


def test_another_users_file_is_404_even_with_a_range(
    client: falcon.testing.TestClient, account: MakeAccount, file_url: str
) -> None:
    stranger = account(Role.CREATOR)
    result = client.simulate_get(file_url, headers={**stranger.headers, "Range": "bytes=0-9"})
    assert result.status_code == 404


def test_a_whole_local_file_goes_out_through_the_servers_file_wrapper(
    settings: object, clock: object, tmp_path: object
) -> None:
    from pathlib import Path

    from tests.unit.conftest import PASSWORD
    from videoplatform.adapters.storage.local import LocalObjectStorage
    from videoplatform.application.ports.storage import ObjectStorage
    from videoplatform.application.ports.system import Clock
    from videoplatform.entrypoints.bootstrap import create_platform
    from videoplatform.entrypoints.http.app import create_app
    from videoplatform.entrypoints.settings import Settings

    assert isinstance(settings, Settings)
    storage = LocalObjectStorage(Path(str(tmp_path)) / "objects")
    platform = create_platform(settings, overrides={ObjectStorage: storage, Clock: clock})
    client = falcon.testing.TestClient(create_app(platform))
    from videoplatform.application.users import RegisterUser

    platform.users.register(RegisterUser("w@example.com", PASSWORD, "W"))
    token = client.simulate_post(
        "/api/v1/auth/session", json={"email": "w@example.com", "password": PASSWORD}
    ).json["token"]
    auth = {"Authorization": f"Bearer {token}"}
    made = client.simulate_post(
        "/api/v1/files",
        params={"folder": "/", "name": "big.bin"},
        body=BODY,
        headers={**auth, "Content-Type": "application/octet-stream"},
    )
    wrapped: list[object] = []

    def file_wrapper(handle: object, block_size: int = 8192) -> object:
        wrapped.append(handle)
        read = handle.read  # type: ignore[attr-defined]
        return iter(lambda: read(block_size), b"")

    url = f"/api/v1/files/{made.json['id']}/content"
    result = client.simulate_get(url, headers=auth, extras={"wsgi.file_wrapper": file_wrapper})

    assert result.status_code == 200
    assert result.content == BODY
    assert len(wrapped) == 1
    ranged = client.simulate_get(
        url, headers={**auth, "Range": "bytes=0-9"}, extras={"wsgi.file_wrapper": file_wrapper}
    )
    assert ranged.content == BODY[:10]
    assert len(wrapped) == 1  # a range is read from storage, not sent as the whole file
