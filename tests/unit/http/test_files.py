"""Files over HTTP: streaming uploads with sniffed types, folders, quotas, safe
downloads, moves and deletion; and the streaming helpers underneath."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import attrs
import falcon
import falcon.testing
import pytest

from tests.unit.conftest import CHEAP_ARGON2
from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from tests.unit.http.test_videos import PNG, RecordingInput, form, streamed
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.application.streams import peek
from videoplatform.domain.errors import QuotaExceeded
from videoplatform.domain.users import Role
from videoplatform.entrypoints.http.resources.common import content_disposition
from videoplatform.entrypoints.http.uploads import CHUNK, BodyReader, request_body
from videoplatform.entrypoints.settings import Settings

FILES = "/api/v1/files"
LIMIT = 1024 * 1024
QUOTA = LIMIT * 5 // 2
MISSING = "01NOSUCHFILE0000000000000"
Client = falcon.testing.TestClient


@pytest.fixture
def settings() -> Settings:
    return attrs.evolve(CHEAP_ARGON2, max_upload_bytes=LIMIT, quota_bytes_per_user=QUOTA)


@pytest.fixture
def owner(account: MakeAccount) -> Account:
    return account(Role.CREATOR)


def store(
    client: Client,
    who: Account | None,
    body: bytes,
    name: str = "notes.txt",
    folder: str = "/",
    content_type: str = "application/octet-stream",
) -> falcon.testing.Result:
    return client.simulate_post(
        FILES,
        body=body,
        params={"name": name, "folder": folder},
        # As an HTTP client sends it, an empty body included (the test client leaves an
        # empty body without Content-Length, which means no body at all).
        headers={
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            **(who.headers if who else {}),
        },
    )


def content(storage: MemoryObjectStorage, file_id: str) -> bytes:
    return b"".join(storage.get(f"files/{file_id}"))


# -- uploads --------------------------------------------------------------------------


def test_a_raw_upload_is_stored_with_the_type_its_bytes_show(
    client: Client, owner: Account, storage: MemoryObjectStorage
) -> None:
    result = store(client, owner, PNG, "logo.png", "/brand", content_type="text/html")
    assert result.status_code == 201, result.text
    stored = result.json
    assert result.headers["location"] == f"{FILES}/{stored['id']}"
    assert (stored["name"], stored["folder"], stored["content_type"]) == (
        "logo.png",
        "/brand",
        "image/png",
    )
    assert (stored["size"], stored["sha256"]) == (len(PNG), hashlib.sha256(PNG).hexdigest())
    assert content(storage, stored["id"]) == PNG


@pytest.mark.parametrize(
    ("body", "name", "mime"),
    [
        (b"plain notes\n", "notes.png", "text/plain"),
        (b"<!doctype html><script>alert(1)</script>", "page.txt", "text/html"),
        (b"%PDF-1.7\n", "doc.txt", "application/pdf"),
        (b"PK\x03\x04\x14\x00", "archive.mp4", "application/zip"),
        (bytes(range(256)), "mystery.txt", "application/octet-stream"),
        (b"", "empty.bin", "application/octet-stream"),
    ],
)
def test_the_name_never_decides_the_stored_type(
    client: Client, owner: Account, body: bytes, name: str, mime: str
) -> None:
    result = store(client, owner, body, name)
    assert result.status_code == 201, result.text
    assert (result.json["content_type"], result.json["size"]) == (mime, len(body))


def test_a_multipart_upload_names_the_file_after_its_part(
    client: Client, owner: Account, storage: MemoryObjectStorage
) -> None:
    body, content_type = form([("folder", "/cv")], b"my life\n", filename="résumé.txt")
    result = client.simulate_post(
        FILES, body=body, headers={"Content-Type": content_type, **owner.headers}
    )
    assert result.status_code == 201, result.text
    assert (result.json["name"], result.json["folder"]) == ("résumé.txt", "/cv")
    assert content(storage, result.json["id"]) == b"my life\n"
    renamed_body, content_type = form([("name", "cv.txt")], b"again\n", filename="ignored.txt")
    renamed = client.simulate_post(
        FILES, body=renamed_body, headers={"Content-Type": content_type, **owner.headers}
    )
    assert (renamed.json["name"], renamed.json["folder"]) == ("cv.txt", "/")


def test_uploads_need_a_signed_in_user_allowed_to_manage_files(
    client: Client, account: MakeAccount, storage: MemoryObjectStorage
) -> None:
    source, extras = streamed(PNG)
    anonymous = client.simulate_post(FILES, params={"name": "a.png"}, extras=extras)
    assert anonymous.status_code == 401
    assert source.consumed == 0
    viewer = store(client, account(Role.VIEWER), PNG)
    assert viewer.status_code == 403
    assert storage.keys() == []


def test_the_same_name_in_the_same_folder_is_409(
    client: Client, owner: Account, storage: MemoryObjectStorage
) -> None:
    assert store(client, owner, b"one\n", "a.txt", "/x").status_code == 201
    again = store(client, owner, b"two\n", "a.txt", "/x/")
    assert again.status_code == 409
    assert problem_code(again) == "file_exists"
    assert len(storage.keys()) == 1
    assert store(client, owner, b"two\n", "a.txt", "/y").status_code == 201


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"name": "../etc/passwd"}, "name"),
        ({"name": "ok.txt", "folder": "/a/../b"}, "folder"),
        ({"name": "bad\x00name"}, "name"),
    ],
    ids=["slashes", "dot segment", "control character"],
)
def test_invalid_names_and_folders_are_422(
    client: Client,
    owner: Account,
    params: dict[str, str],
    field: str,
    storage: MemoryObjectStorage,
) -> None:
    result = client.simulate_post(FILES, body=b"x", params=params, headers=owner.headers)
    assert result.status_code == 422
    assert [e["field"] for e in result.json["errors"]] == [field]
    assert storage.keys() == []


@pytest.mark.parametrize(
    ("fields", "file", "field"),
    [
        ([("folder", "/")], None, "file"),
        ([("owner", "someone")], b"x", "owner"),
        ([], b"x", "name"),
    ],
    ids=["no file part", "unknown field", "no name at all"],
)
def test_malformed_multipart_uploads_are_422(
    client: Client,
    owner: Account,
    fields: list[tuple[str, str]],
    file: bytes | None,
    field: str,
) -> None:
    body, content_type = form(fields, file, filename="")
    result = client.simulate_post(
        FILES, body=body, headers={"Content-Type": content_type, **owner.headers}
    )
    assert result.status_code == 422, result.text
    assert [e["field"] for e in result.json["errors"]] == [field]


def test_a_form_whose_part_headers_are_not_utf8_is_400(client: Client, owner: Account) -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="caf\xe9.txt"'
        b"\r\n\r\ncoffee\r\n--b--\r\n"
    )
    result = client.simulate_post(
        FILES,
        body=body,
        headers={"Content-Type": "multipart/form-data; boundary=b", **owner.headers},
    )
    assert result.status_code == 400
    assert problem_code(result) == "bad_request"


def test_a_content_length_over_the_limit_is_413_before_reading(
    client: Client, owner: Account, storage: MemoryObjectStorage
) -> None:
    source = RecordingInput(PNG)
    result = client.simulate_post(
        FILES,
        params={"name": "big.bin"},
        headers=owner.headers,
        extras={"wsgi.input": source, "CONTENT_LENGTH": str(LIMIT + 1)},
    )
    assert result.status_code == 413
    assert source.asked == []
    assert storage.keys() == []


def test_a_chunked_body_over_the_limit_is_413(
    client: Client, owner: Account, storage: MemoryObjectStorage
) -> None:
    source, extras = streamed(b"\x00" * (3 * LIMIT), length=False)
    result = client.simulate_post(
        FILES,
        params={"name": "big.bin"},
        headers={"Transfer-Encoding": "chunked", **owner.headers},
        extras=extras,
    )
    assert result.status_code == 413
    assert problem_code(result) == "quota_exceeded"
    assert source.consumed <= LIMIT + CHUNK
    assert storage.keys() == []


def test_the_storage_quota_is_413_and_leaves_nothing_behind(
    client: Client, owner: Account, storage: MemoryObjectStorage
) -> None:
    megabyte = b"\x00" * LIMIT
    assert store(client, owner, megabyte, "1.bin").status_code == 201
    assert store(client, owner, megabyte, "2.bin").status_code == 201
    over = store(client, owner, megabyte, "3.bin")
    assert over.status_code == 413
    assert problem_code(over) == "quota_exceeded"
    assert len(storage.keys()) == 2


# -- listing and metadata ----------------------------------------------------------------


def test_a_folder_lists_its_subfolders_and_its_files_by_name_in_pages(
    client: Client, account: MakeAccount, owner: Account
) -> None:
    for name in ("c.txt", "a.txt", "b.txt"):
        store(client, owner, b"x\n", name, "/docs")
    store(client, owner, b"x\n", "deep.txt", "/docs/2026/q1")
    store(client, owner, b"x\n", "other.txt", "/photos")
    store(client, account(Role.CREATOR), b"x\n", "theirs.txt", "/docs")
    root = client.simulate_get(FILES, headers=owner.headers)
    assert root.status_code == 200
    assert root.json == {
        "folder": "/",
        "subfolders": ["docs", "photos"],
        "files": [],
        "next_cursor": None,
    }
    first = client.simulate_get(
        FILES, params={"folder": "/docs", "limit": "2"}, headers=owner.headers
    )
    assert [f["name"] for f in first.json["files"]] == ["a.txt", "b.txt"]
    assert first.json["subfolders"] == ["2026"]
    rest = client.simulate_get(
        FILES,
        params={"folder": "/docs", "limit": "2", "cursor": first.json["next_cursor"]},
        headers=owner.headers,
    )
    assert ([f["name"] for f in rest.json["files"]], rest.json["next_cursor"]) == (["c.txt"], None)


def test_listing_needs_a_user_and_a_valid_folder(client: Client, owner: Account) -> None:
    assert client.simulate_get(FILES).status_code == 401
    bad = client.simulate_get(FILES, params={"folder": "/a/../b"}, headers=owner.headers)
    assert bad.status_code == 422
    foreign = client.simulate_get(
        FILES, params={"folder": "/b", "cursor": "eyJ4Ijp9"}, headers=owner.headers
    )
    assert foreign.status_code == 422


def test_metadata_is_read_by_the_owner_and_hidden_from_others_like_a_missing_file(
    client: Client, account: MakeAccount, owner: Account
) -> None:
    stored = store(client, owner, b"secret\n", "s.txt").json
    path = f"{FILES}/{stored['id']}"
    assert client.simulate_get(path, headers=owner.headers).json == stored
    other = account(Role.CREATOR)
    hidden = client.simulate_get(path, headers=other.headers)
    missing = client.simulate_get(f"{FILES}/{MISSING}", headers=other.headers)
    assert hidden.status_code == missing.status_code == 404
    assert (problem_code(hidden), hidden.json["detail"]) == (
        problem_code(missing),
        missing.json["detail"],
    )
    assert client.simulate_get(f"{path}/content", headers=other.headers).status_code == 404
    assert client.simulate_get(path).status_code == 401
    admin = account(Role.ADMIN)
    assert client.simulate_get(path, headers=admin.headers).status_code == 200


# -- downloads ------------------------------------------------------------------------


def test_a_download_streams_the_bytes_with_safe_headers(client: Client, owner: Account) -> None:
    body = b"just text\n" * 10_000
    stored = store(client, owner, body, 'Grüße "draft".txt').json
    result = client.simulate_get(f"{FILES}/{stored['id']}/content", headers=owner.headers)
    assert result.status_code == 200
    assert result.content == body
    assert result.headers["content-type"] == "text/plain; charset=utf-8"
    assert result.headers["content-length"] == str(len(body))
    assert result.headers["etag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    assert result.headers["x-content-type-options"] == "nosniff"
    assert result.headers["content-security-policy"] == "sandbox"
    assert result.headers["content-disposition"] == (
        'attachment; filename="Gruße _draft_.txt"; '
        "filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%22draft%22.txt"
    ).replace("Gruße", "Gru_e")


def test_an_unchanged_file_is_304_with_its_etag(client: Client, owner: Account) -> None:
    stored = store(client, owner, PNG, "a.png").json
    path = f"{FILES}/{stored['id']}/content"
    etag = client.simulate_get(path, headers=owner.headers).headers["etag"]
    same = client.simulate_get(path, headers={"If-None-Match": etag, **owner.headers})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    changed = client.simulate_get(path, headers={"If-None-Match": '"other"', **owner.headers})
    assert changed.status_code == 200


@pytest.mark.parametrize(
    ("body", "inline"),
    [
        (PNG, True),
        (b"plain text\n", True),
        (b"<html><script>alert(document.cookie)</script>", False),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', False),
        (b'<?xml version="1.0"?><x/>', False),
        (b"%PDF-1.7\n", False),
        (bytes(range(256)), False),
    ],
    ids=["png", "text", "html", "svg", "xml", "pdf", "unknown"],
)
def test_only_passive_types_are_ever_served_inline(
    client: Client, owner: Account, body: bytes, inline: bool
) -> None:
    stored = store(client, owner, body, "file").json
    path = f"{FILES}/{stored['id']}/content"
    asked = client.simulate_get(path, params={"disposition": "inline"}, headers=owner.headers)
    default = client.simulate_get(path, headers=owner.headers)
    assert asked.headers["content-disposition"].startswith("inline" if inline else "attachment")
    assert default.headers["content-disposition"].startswith("attachment")
    assert asked.headers["content-type"].split(";")[0] == stored["content_type"]


@pytest.mark.parametrize(
    ("name", "fallback", "encoded"),
    [
        ("report.pdf", "report.pdf", "report.pdf"),
        ("résumé.pdf", "resume.pdf", "r%C3%A9sum%C3%A9.pdf"),
        ("日本.txt", "__.txt", "%E6%97%A5%E6%9C%AC.txt"),
        ('a"b\\c%d;e.txt', "a_b_c_d;e.txt", "a%22b%5Cc%25d%3Be.txt"),
        ("😀", "_", "%F0%9F%98%80"),
    ],
)
def test_content_disposition_has_an_ascii_fallback_and_the_exact_utf8_name(
    name: str, fallback: str, encoded: str
) -> None:
    header = content_disposition(name, inline=False)
    assert header == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    assert header.isascii()


# -- moving and deleting --------------------------------------------------------------


def test_a_file_is_renamed_and_moved(client: Client, owner: Account) -> None:
    stored = store(client, owner, b"x\n", "draft.txt", "/inbox").json
    path = f"{FILES}/{stored['id']}"
    renamed = client.simulate_patch(path, json={"name": "final.txt"}, headers=owner.headers)
    assert (renamed.status_code, renamed.json["name"], renamed.json["folder"]) == (
        200,
        "final.txt",
        "/inbox",
    )
    moved = client.simulate_patch(path, json={"folder": "/archive/2026"}, headers=owner.headers)
    assert (moved.json["name"], moved.json["folder"]) == ("final.txt", "/archive/2026")
    listing = client.simulate_get(FILES, params={"folder": "/archive/2026"}, headers=owner.headers)
    assert [f["id"] for f in listing.json["files"]] == [stored["id"]]


def test_moving_onto_an_existing_name_is_409_and_bad_names_422(
    client: Client, account: MakeAccount, owner: Account
) -> None:
    first = store(client, owner, b"1\n", "a.txt").json
    store(client, owner, b"2\n", "b.txt")
    path = f"{FILES}/{first['id']}"
    clash = client.simulate_patch(path, json={"name": "b.txt"}, headers=owner.headers)
    assert (clash.status_code, problem_code(clash)) == (409, "file_exists")
    bad = client.simulate_patch(path, json={"name": "a/b"}, headers=owner.headers)
    assert [e["field"] for e in bad.json["errors"]] == ["name"]
    wrong_type = client.simulate_patch(path, json={"folder": 3}, headers=owner.headers)
    assert [e["field"] for e in wrong_type.json["errors"]] == ["folder"]
    other = account(Role.CREATOR)
    hidden = client.simulate_patch(path, json={"name": "c.txt"}, headers=other.headers)
    assert hidden.status_code == 404
    assert client.simulate_patch(path, json={"name": "c.txt"}).status_code == 401


def test_delete_removes_the_file_and_its_bytes(
    client: Client, account: MakeAccount, owner: Account, storage: MemoryObjectStorage
) -> None:
    stored = store(client, owner, b"bye\n", "bye.txt").json
    path = f"{FILES}/{stored['id']}"
    assert client.simulate_delete(path, headers=account(Role.CREATOR).headers).status_code == 404
    assert client.simulate_delete(path).status_code == 401
    assert client.simulate_delete(path, headers=owner.headers).status_code == 204
    assert storage.keys() == []
    assert client.simulate_get(path, headers=owner.headers).status_code == 404


def test_file_responses_match_the_published_document(client: Client, owner: Account) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    stored = store(client, owner, b"x\n", "x.txt").json
    body, content_type = form([("folder", "/f")], b"y\n", filename="y.txt")
    path = f"{FILES}/{stored['id']}"
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", FILES, {"body": body, "headers": {"Content-Type": content_type, **owner.headers}}),
        ("POST", FILES, {"body": b"z", "params": {"name": "x.txt"}, "headers": owner.headers}),
        ("POST", FILES, {"body": b"z", "params": {"name": ".."}, "headers": owner.headers}),
        ("GET", FILES, {"headers": owner.headers}),
        ("GET", FILES, {}),
        ("GET", path, {"headers": owner.headers}),
        ("GET", f"{FILES}/{MISSING}", {"headers": owner.headers}),
        ("PATCH", path, {"json": {"name": "w.txt"}, "headers": owner.headers}),
        ("DELETE", path, {"headers": owner.headers}),
    ]
    for method, url, kwargs in calls:
        result = client.simulate_request(method, url, **kwargs)
        media = result.headers.get("content-type", "").split(";")[0]
        payload = result.json if media.endswith("json") else result.text
        docs.check(method, url, result.status_code, payload, media)
    download = docs.document["paths"][f"{FILES}/{{file_id}}/content"]["get"]["responses"]
    assert {"ETag", "Content-Disposition", "X-Content-Type-Options"} <= set(
        download["200"]["headers"]
    )


# -- the streaming helpers ------------------------------------------------------------


class Trickle:
    """A stream that hands out at most 7 bytes a read and records what was asked."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.asked: list[int] = []

    def read(self, size: int = -1, /) -> bytes:
        self.asked.append(size)
        return self._data.read(min(7, size) if size >= 0 else 7)


def test_peek_collects_the_head_across_short_reads_and_replays_it() -> None:
    data = bytes(range(256)) * 40
    head, replay = peek(Trickle(data), 100)
    assert head == data[:100]
    out = b""
    while chunk := replay.read(33):
        assert len(chunk) <= 33
        out += chunk
    assert out == data


def test_peek_of_a_short_stream_returns_all_of_it() -> None:
    head, replay = peek(io.BytesIO(b"tiny"), 4096)
    assert (head, replay.read(-1), replay.read(10)) == (b"tiny", b"tiny", b"")


def test_the_body_reader_never_asks_for_more_than_a_chunk() -> None:
    source = Trickle(b"x" * (3 * CHUNK))
    reader = BodyReader(source)
    reader.read(-1)
    reader.read(10 * CHUNK)
    reader.read(5)
    assert source.asked == [CHUNK, CHUNK, 5]
    assert reader.read(0) == b""


def test_the_body_reader_stops_once_past_its_limit() -> None:
    reader = BodyReader(io.BytesIO(b"y" * 100), 50, chunk=30)
    assert reader.read(30) == b"y" * 30
    with pytest.raises(QuotaExceeded):
        reader.read(30)


def test_a_request_without_length_or_terminated_input_has_an_empty_body() -> None:
    req = falcon.testing.create_req(method="POST")
    assert request_body(req, 10).read(10) == b""


def test_a_raw_upload_without_a_body_is_refused_but_an_empty_one_is_stored(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    owner = account()
    bare = client.simulate_post(
        "/api/v1/files", params={"folder": "/", "name": "nothing.txt"}, headers=owner.headers
    )
    assert bare.status_code == 422, bare.text
    assert (
        bare.json["errors"] == [{"field": "body", "message": bare.json["errors"][0]["message"]}]
        and "Content-Length: 0" in bare.json["errors"][0]["message"]
    )
    empty = client.simulate_post(
        "/api/v1/files",
        params={"folder": "/", "name": "empty.txt"},
        body=b"",
        headers={**owner.headers, "Content-Type": "text/plain", "Content-Length": "0"},
    )
    assert empty.status_code == 201, empty.text
    assert empty.json["size"] == 0


def test_a_name_taken_in_the_root_folder_is_named_once(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    owner = account()
    for expected in (201, 409):
        made = client.simulate_post(
            "/api/v1/files",
            params={"folder": "/", "name": "hello.txt"},
            body=b"hi",
            headers={**owner.headers, "Content-Type": "text/plain"},
        )
        assert made.status_code == expected, made.text
    assert made.json["detail"] == "/hello.txt already exists"


def test_an_owner_searches_their_files_by_name_and_folder(
    client: Client, owner: Account, account: MakeAccount
) -> None:
    for name, folder in [
        ("Quarterly report.pdf", "/work"),
        ("Café menu.txt", "/"),
        ("notes.txt", "/reports/2026"),
        ("report draft.txt", "/old"),
    ]:
        assert store(client, owner, b"x", name=name, folder=folder).status_code == 201
    assert store(client, account(Role.CREATOR), b"x", name="report.txt").status_code == 201

    def search(who: Account | None, **params: str) -> falcon.testing.Result:
        return client.simulate_get(
            "/api/v1/search/files", params=params, headers=who.headers if who else {}
        )

    def names(**params: str) -> list[str]:
        found = search(owner, **params)
        assert found.status_code == 200, found.text
        return [f["name"] for f in found.json["items"]]

    # By name first (then by folder and name), then those whose folder matches.
    assert names(q="rep") == ["report draft.txt", "Quarterly report.pdf", "notes.txt"]
    assert names(q="rep -draft") == ["Quarterly report.pdf", "notes.txt"]
    assert names(q="cafe") == ["Café menu.txt"]
    assert names(q='"quarterly rep"') == ["Quarterly report.pdf"]
    assert names(q="reports 2026 notes") == ["notes.txt"]
    assert names(q="rep", limit="1") == ["report draft.txt"]
    # Who asks is decided before what is asked; nobody finds another's files.
    assert search(None, q="").status_code == 401
    assert search(owner, q="").status_code == 422
    assert search(owner, q="x" * 201).status_code == 422
    stranger = account(Role.CREATOR)
    assert search(stranger, q="rep").json["items"] == []
