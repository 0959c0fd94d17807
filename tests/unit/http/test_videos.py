"""Videos over HTTP: streaming uploads (raw and multipart), sniffing, limits, lists,
reads, updates, deletion, views and processing state."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import falcon.testing
import imageio_ffmpeg
import pytest

from tests.unit.conftest import CHEAP_ARGON2
from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.ports.storage import ObjectInfo, ReadableStream
from videoplatform.domain.ids import VideoId
from videoplatform.domain.media_types import SNIFF_LENGTH
from videoplatform.domain.users import Role
from videoplatform.domain.videos import MediaInfo, PlaybackAssets, Rendition
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.resources.videos import UNTITLED, title_from_file_name
from videoplatform.entrypoints.http.uploads import CHUNK
from videoplatform.entrypoints.settings import Settings

VIDEOS = "/api/v1/videos"
LIMIT = 6 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
MISSING = "01NOSUCHVIDEO000000000000"
Client = falcon.testing.TestClient


# -- fixtures and helpers -------------------------------------------------------------


class WatchedStorage(MemoryObjectStorage):
    """Memory storage that notes, at every chunk it receives, how far ahead of it the
    request input has been read (set ``source`` to the input to watch)."""

    def __init__(self) -> None:
        super().__init__()
        self.source: RecordingInput | None = None
        self.lead: list[int] = []

    def put(self, key: str, stream: ReadableStream) -> ObjectInfo:
        storage = self
        received = 0

        class Watch:
            def read(self, size: int = -1, /) -> bytes:
                nonlocal received
                chunk = stream.read(size)
                received += len(chunk)
                if storage.source is not None:
                    storage.lead.append(storage.source.consumed - received)
                return chunk

        return super().put(key, Watch())

    def content(self, key: str) -> bytes:
        return b"".join(self.get(key))


class RecordingInput:
    """A WSGI input over ``data`` that records the size every read asks for."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self.consumed = 0
        self.asked: list[int] = []

    def read(self, size: int = -1, /) -> bytes:
        self.asked.append(size)
        end = len(self._data) if size < 0 else self.consumed + size
        chunk = bytes(self._data[self.consumed : end])
        self.consumed += len(chunk)
        return chunk

    def readline(self, size: int = -1, /) -> bytes:
        raise AssertionError("uploads never read lines")

    def readlines(self, hint: int = -1, /) -> list[bytes]:
        raise AssertionError("uploads never read lines")

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("uploads never iterate the input")


@pytest.fixture
def settings() -> Settings:
    return attrs.evolve(CHEAP_ARGON2, max_upload_bytes=LIMIT)


@pytest.fixture
def storage() -> WatchedStorage:
    return WatchedStorage()


@pytest.fixture(scope="session")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real, tiny MP4 made once per session by ffmpeg's lavfi test source."""
    return make_clip(tmp_path_factory.mktemp("clips"), "mp4")


def make_clip(folder: Path, muxer: str, *options: str) -> bytes:
    target = folder / f"clip.{muxer}"
    source = "testsrc=size=64x64:rate=10:duration=0.5"
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error"]
    command += ["-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", *options]
    subprocess.run([*command, "-f", muxer, "-y", str(target)], check=True, timeout=60)
    return target.read_bytes()


def form(
    fields: list[tuple[str, str]],
    file: bytes | None = None,
    *,
    filename: str = "clip.mp4",
    file_first: bool = False,
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = "vp-test-boundary-7f3a"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    ]
    if file is not None:
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        part = head.encode() + file + b"\r\n"
        parts = [part, *parts] if file_first else [*parts, part]
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def streamed(data: bytes, *, length: bool = True) -> tuple[RecordingInput, dict[str, Any]]:
    """A request input over ``data``, with a Content-Length or (``length=False``) as a
    chunked body the server has de-chunked and terminated."""
    source = RecordingInput(data)
    extras: dict[str, Any] = {"wsgi.input": source}
    if length:
        extras["CONTENT_LENGTH"] = str(len(data))
    else:
        extras["wsgi.input_terminated"] = True
    return source, extras


def upload(
    client: Client,
    who: Account | None,
    body: bytes,
    content_type: str = "video/mp4",
    **params: str,
) -> falcon.testing.Result:
    return client.simulate_post(
        VIDEOS,
        body=body,
        params={"title": "A clip", **params},
        headers={"Content-Type": content_type, **(who.headers if who else {})},
    )


def make_ready(uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock, video_id: str) -> None:
    info = MediaInfo(1.0, 64, 64, "h264", None, 25.0, 100_000)
    rung = Rendition("360p", 64, 64, 100_000, "avc1.42E01E", "v/360p.m3u8")
    with uow_factory() as uow:
        video = uow.videos.get(VideoId(video_id))
        video.start_processing(clock.now())
        video.mark_ready(
            media_info=info,
            renditions=[rung],
            assets=PlaybackAssets(prefix=f"videos/{video_id}/out/", master_playlist="master.m3u8"),
            now=clock.now(),
        )
        uow.videos.save(video)
        uow.commit()


@pytest.fixture
def creator(account: MakeAccount) -> Account:
    return account(Role.CREATOR)


def ids(result: falcon.testing.Result) -> list[str]:
    return [item["id"] for item in result.json["items"]]


# -- uploads --------------------------------------------------------------------------


def test_a_raw_mp4_upload_creates_a_private_video_with_its_metadata(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    empty = upload(client, creator, mp4, visibility="")  # sent empty: refused, not defaulted
    assert (empty.status_code, empty.json["errors"]) == (
        422,
        [{"field": "visibility", "message": "must not be empty"}],
    )
    result = upload(client, creator, mp4, description="First one", tags="Cats, travel,cats")
    assert result.status_code == 201, result.text
    video = result.json
    assert result.headers["location"] == f"{VIDEOS}/{video['id']}"
    assert (video["title"], video["description"]) == ("A clip", "First one")
    assert (video["tags"], video["visibility"]) == (["cats", "travel"], "private")
    assert (video["status"], video["size"], video["owner_id"]) == (
        "uploaded",
        len(mp4),
        creator.user_id,
    )
    assert storage.content(f"videos/{video['id']}/source") == mp4


def test_the_type_comes_from_the_bytes_not_the_content_type(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    accepted = upload(client, creator, mp4, content_type="image/png")
    refused = upload(client, creator, PNG, content_type="video/mp4")
    assert accepted.status_code == 201
    assert refused.status_code == 415
    assert len(storage.keys()) == 1


@pytest.mark.parametrize(
    "body",
    [PNG, b"%PDF-1.7\n", b"plain words, not a movie\n", bytes(range(256)) * 8],
    ids=["png", "pdf", "text", "random bytes"],
)
def test_anything_but_a_video_is_refused_with_415_and_nothing_is_stored(
    client: Client, creator: Account, body: bytes, storage: WatchedStorage
) -> None:
    result = upload(client, creator, body)
    assert result.status_code == 415
    assert problem_code(result) == "unsupported_media_type"
    assert storage.keys() == []
    assert client.simulate_get(VIDEOS, headers=creator.headers).json["items"] == []


REAL_CONTAINERS = {
    "mov": ("mov", ()),
    "webm": ("webm", ("-c:v", "libvpx")),
    "matroska": ("matroska", ()),
    "avi": ("avi", ("-c:v", "mpeg4")),
    "mpeg-ts": ("mpegts", ("-c:v", "mpeg4")),
    "mpeg-ps": ("mpeg", ("-c:v", "mpeg1video", "-r", "25")),  # MPEG-1 has no 10 fps
    "flv": ("flv", ("-c:v", "flv")),
    "ogg": ("ogg", ("-c:v", "libtheora")),
    "3gp": ("3gp", ("-c:v", "h263", "-s", "176x144")),
}


@pytest.mark.parametrize(("muxer", "options"), REAL_CONTAINERS.values(), ids=REAL_CONTAINERS)
def test_real_clips_in_every_supported_container_are_accepted(
    client: Client,
    creator: Account,
    tmp_path: Path,
    muxer: str,
    options: tuple[str, ...],
) -> None:
    clip = make_clip(tmp_path, muxer, *options)
    result = upload(client, creator, clip)
    assert result.status_code == 201, (muxer, result.text)


def test_a_multipart_upload_takes_its_fields_before_the_file(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    body, content_type = form(
        [
            ("title", "Über clip"),
            ("description", "two\r\nlines"),  # as browsers send a textarea's lines
            ("tags", "a,b"),
            ("tags", "c"),
            ("visibility", "public"),
        ],
        mp4,
    )
    result = client.simulate_post(
        VIDEOS, body=body, headers={"Content-Type": content_type, **creator.headers}
    )
    assert result.status_code == 201, result.text
    video = result.json
    assert (video["title"], video["description"]) == ("Über clip", "two\nlines")
    assert (video["tags"], video["visibility"]) == (["a", "b", "c"], "public")
    assert storage.content(f"videos/{video['id']}/source") == mp4


def test_a_form_without_a_title_is_named_after_its_file(
    client: Client, creator: Account, mp4: bytes
) -> None:
    # Fields after the file part are not read (the file streams as it arrives).
    body, content_type = form([("title", "late")], mp4, file_first=True)
    result = client.simulate_post(
        VIDEOS, body=body, headers={"Content-Type": content_type, **creator.headers}
    )
    assert (result.status_code, result.json["title"]) == (201, "clip")


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("C:\\videos\\Holiday  2026.final.mp4", "Holiday 2026.final"),
        ("/tmp/.hidden", ".hidden"),
        ("tab\there\x07.mov", "tab here"),
        ("....", "...."),
        ("", None),
        (None, None),
    ],
)
def test_a_title_from_a_file_name_is_its_printable_stem(
    name: str | None, title: str | None
) -> None:
    assert title_from_file_name(name) == title


def test_a_raw_upload_without_a_title_is_untitled(
    client: Client, creator: Account, mp4: bytes
) -> None:
    result = client.simulate_post(
        VIDEOS, body=mp4, headers={"Content-Type": "video/mp4", **creator.headers}
    )
    assert (result.status_code, result.json["title"]) == (201, UNTITLED)


def test_query_fields_beside_a_form_are_refused(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    body, content_type = form([("title", "x")], mp4)
    result = client.simulate_post(
        VIDEOS,
        body=body,
        params={"visibility": "public"},
        headers={"Content-Type": content_type, **creator.headers},
    )
    assert result.status_code == 422
    assert result.json["errors"] == [
        {"field": "visibility", "message": "goes in the form, not the query string"}
    ]
    assert storage.keys() == []


@pytest.mark.parametrize(
    ("fields", "file", "field"),
    [
        ([("title", "x"), ("colour", "red")], b"x", "colour"),
        ([("title", "x"), ("title", "y")], b"x", "title"),
        ([("title", "x")], None, "file"),
        ([("title", "x"), ("visibility", "secret")], b"x", "visibility"),
        ([("title", "x"), ("description", "d" * 60_000)], b"x", "description"),
    ],
    ids=["unknown field", "repeated field", "no file part", "bad visibility", "huge field"],
)
def test_malformed_multipart_metadata_is_422_with_the_field(
    client: Client,
    creator: Account,
    fields: list[tuple[str, str]],
    file: bytes | None,
    field: str,
    storage: WatchedStorage,
) -> None:
    body, content_type = form(fields, file)
    result = client.simulate_post(
        VIDEOS, body=body, headers={"Content-Type": content_type, **creator.headers}
    )
    assert result.status_code == 422, result.text
    assert [e["field"] for e in result.json["errors"]] == [field]
    assert storage.keys() == []


def test_a_broken_multipart_body_is_400(client: Client, creator: Account) -> None:
    result = client.simulate_post(
        VIDEOS,
        body=b'--nope\r\nContent-Disposition: form-data; name="title"\r\n\r\nx',
        headers={"Content-Type": "multipart/form-data; boundary=other", **creator.headers},
    )
    assert result.status_code == 400
    assert problem_code(result) == "bad_request"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"visibility": "everyone"}, "visibility"),
        ({"tags": ",".join(f"t{i}" for i in range(31))}, "tags"),
    ],
    ids=["empty title", "long title", "bad visibility", "too many tags"],
)
def test_invalid_raw_upload_metadata_is_422_with_the_field(
    client: Client,
    creator: Account,
    mp4: bytes,
    params: dict[str, str],
    field: str,
    storage: WatchedStorage,
) -> None:
    result = upload(client, creator, mp4, **params)
    assert result.status_code == 422
    assert [e["field"] for e in result.json["errors"]] == [field]
    assert storage.keys() == []


def test_an_empty_upload_is_422(client: Client, creator: Account, storage: WatchedStorage) -> None:
    result = upload(client, creator, b"")
    assert result.status_code == 422
    assert [e["field"] for e in result.json["errors"]] == ["source"]
    assert storage.keys() == []


def test_uploads_need_a_signed_in_creator(
    client: Client, account: MakeAccount, mp4: bytes, storage: WatchedStorage
) -> None:
    source, extras = streamed(mp4)
    anonymous = client.simulate_post(VIDEOS, params={"title": "x"}, extras=extras)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert source.consumed == 0  # refused before a byte was read
    viewer = upload(client, account(Role.VIEWER), mp4)
    assert viewer.status_code == 403
    assert storage.keys() == []


def test_an_unknown_category_is_404_and_a_known_one_is_kept(
    client: Client, account: MakeAccount, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    admin = account(Role.ADMIN)
    category = client.simulate_post(
        "/api/v1/categories", json={"name": "Nature"}, headers=admin.headers
    ).json
    missing = upload(client, creator, mp4, category_id="01NOSUCHCATEGORY000000000")
    assert missing.status_code == 404
    assert storage.keys() == []
    found = upload(client, creator, mp4, category_id=category["id"])
    assert found.json["category_id"] == category["id"]


# -- size limits and streaming -----------------------------------------------------------


def test_a_content_length_over_the_limit_is_413_before_reading_the_body(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    source = RecordingInput(mp4)
    result = client.simulate_post(
        VIDEOS,
        params={"title": "big"},
        headers={"Content-Type": "video/mp4", **creator.headers},
        extras={"wsgi.input": source, "CONTENT_LENGTH": str(LIMIT + 1)},
    )
    assert result.status_code == 413
    assert problem_code(result) == "quota_exceeded"
    assert source.asked == []
    assert storage.keys() == []


def test_a_multipart_content_length_over_the_limit_is_413_before_reading(
    client: Client, creator: Account, storage: WatchedStorage
) -> None:
    source = RecordingInput(b"")
    result = client.simulate_post(
        VIDEOS,
        headers={"Content-Type": "multipart/form-data; boundary=b", **creator.headers},
        extras={"wsgi.input": source, "CONTENT_LENGTH": str(10 * LIMIT)},
    )
    assert result.status_code == 413
    assert source.asked == []


def test_a_chunked_body_over_the_limit_is_stopped_at_the_limit(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    source, extras = streamed(mp4 + b"\x00" * (LIMIT + 3 * CHUNK), length=False)
    result = client.simulate_post(
        VIDEOS,
        params={"title": "endless"},
        headers={"Transfer-Encoding": "chunked", **creator.headers},
        extras=extras,
    )
    assert result.status_code == 413
    assert problem_code(result) == "quota_exceeded"
    assert source.consumed <= LIMIT + CHUNK  # it stopped; the rest was never read
    assert storage.keys() == []


def test_a_chunked_multipart_body_over_the_limit_is_413(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    body, content_type = form([("title", "endless")], mp4 + b"\x00" * (2 * LIMIT))
    source, extras = streamed(body, length=False)
    result = client.simulate_post(
        VIDEOS,
        headers={"Content-Type": content_type, "Transfer-Encoding": "chunked", **creator.headers},
        extras=extras,
    )
    assert result.status_code == 413
    assert problem_code(result) == "quota_exceeded"
    assert source.consumed <= LIMIT + 4 * CHUNK
    assert storage.keys() == []


def test_a_chunked_body_within_the_limit_is_stored(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    source, extras = streamed(mp4, length=False)
    result = client.simulate_post(
        VIDEOS,
        params={"title": "chunked"},
        headers={"Transfer-Encoding": "chunked", **creator.headers},
        extras=extras,
    )
    assert result.status_code == 201, result.text
    assert source.consumed == len(mp4)
    assert storage.content(f"videos/{result.json['id']}/source") == mp4


def test_chunked_multipart_upload_is_parsed_while_streaming(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    body, content_type = form([("title", "chunked form")], mp4)
    _, extras = streamed(body, length=False)
    result = client.simulate_post(
        VIDEOS,
        headers={"Content-Type": content_type, "Transfer-Encoding": "chunked", **creator.headers},
        extras=extras,
    )
    assert result.status_code == 201, result.text
    assert storage.content(f"videos/{result.json['id']}/source") == mp4


def test_a_body_of_unknown_length_the_server_did_not_terminate_is_411(
    client: Client, creator: Account
) -> None:
    result = client.simulate_post(
        VIDEOS,
        params={"title": "x"},
        headers={"Transfer-Encoding": "chunked", **creator.headers},
    )
    assert result.status_code == 411
    assert problem_code(result) == "length_required"


@pytest.mark.parametrize("multipart", [False, True], ids=["raw", "multipart"])
def test_a_large_upload_streams_through_in_bounded_reads(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage, multipart: bool
) -> None:
    video = mp4 + bytes(range(256)) * (5 * 4096)  # 5 MiB and a little
    body, content_type = form([("title", "big")], video) if multipart else (video, "video/mp4")
    source, extras = streamed(body)
    storage.source = source
    result = client.simulate_post(
        VIDEOS,
        params={} if multipart else {"title": "big"},
        headers={"Content-Type": content_type, **creator.headers},
        extras=extras,
    )
    assert result.status_code == 201, result.text
    assert storage.content(f"videos/{result.json['id']}/source") == video
    assert max(source.asked) <= CHUNK  # no read of the input ever asked for more
    assert source.consumed == len(body)
    # While storage took the video in, the input was never read far ahead of it.
    assert len(storage.lead) > len(video) // CHUNK
    # (a peeked head and Falcon's multipart read-ahead buffer: a few chunks, not the body)
    assert max(storage.lead) <= SNIFF_LENGTH + 4 * CHUNK


# -- reads and lists ------------------------------------------------------------------


def test_a_video_is_read_back_by_its_owner(client: Client, creator: Account, mp4: bytes) -> None:
    created = upload(client, creator, mp4).json
    result = client.simulate_get(f"{VIDEOS}/{created['id']}", headers=creator.headers)
    assert result.status_code == 200
    assert result.json == created


def test_another_users_private_video_is_404_exactly_like_a_missing_one(
    client: Client, account: MakeAccount, creator: Account, mp4: bytes
) -> None:
    private = upload(client, creator, mp4).json["id"]
    other = account(Role.CREATOR)
    hidden = client.simulate_get(f"{VIDEOS}/{private}", headers=other.headers)
    missing = client.simulate_get(f"{VIDEOS}/{MISSING}", headers=other.headers)
    anonymous = client.simulate_get(f"{VIDEOS}/{private}")
    assert hidden.status_code == missing.status_code == anonymous.status_code == 404
    assert problem_code(hidden) == problem_code(missing) == "not_found"
    assert hidden.json["detail"] == missing.json["detail"]
    for path in (f"{VIDEOS}/{private}/processing", f"{VIDEOS}/{private}/views"):
        assert (
            client.simulate_request(
                "GET" if path.endswith("processing") else "POST", path, headers=other.headers
            ).status_code
            == 404
        )


def test_a_public_ready_video_is_seen_by_anyone(
    client: Client,
    creator: Account,
    mp4: bytes,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    video = upload(client, creator, mp4, visibility="public").json["id"]
    assert client.simulate_get(f"{VIDEOS}/{video}").status_code == 404  # not ready yet
    make_ready(uow_factory, clock, video)
    shown = client.simulate_get(f"{VIDEOS}/{video}")
    assert (shown.status_code, shown.json["status"]) == (200, "ready")
    assert ids(client.simulate_get(VIDEOS)) == [video]


def test_lists_filter_by_owner_tag_visibility_and_status(
    client: Client, account: MakeAccount, creator: Account, mp4: bytes
) -> None:
    cats = upload(client, creator, mp4, tags="cats", visibility="public").json["id"]
    dogs = upload(client, creator, mp4, tags="dogs").json["id"]
    theirs = upload(client, account(Role.CREATOR), mp4, tags="cats").json["id"]
    mine = {"headers": creator.headers}
    assert set(ids(client.simulate_get(VIDEOS, **mine))) == {cats, dogs}
    assert ids(client.simulate_get(VIDEOS, params={"tag": "CATS"}, **mine)) == [cats]
    assert ids(client.simulate_get(VIDEOS, params={"visibility": "private"}, **mine)) == [dogs]
    assert ids(client.simulate_get(VIDEOS, params={"status": "ready"}, **mine)) == []
    owned = client.simulate_get(VIDEOS, params={"owner": "me"}, **mine)
    assert set(ids(owned)) == {cats, dogs}
    assert theirs not in ids(client.simulate_get(VIDEOS, params={"owner": "me"}, **mine))
    assert client.simulate_get(VIDEOS, params={"owner": "me"}).status_code == 401


def test_lists_page_with_an_opaque_cursor_in_both_sorts(
    client: Client, creator: Account, mp4: bytes, clock: ManualClock
) -> None:
    created = []
    for n in range(5):
        created.append(upload(client, creator, mp4, title=f"clip {n}").json["id"])
        clock.advance(timedelta(seconds=1))
    for sort in ("newest", "most_viewed"):
        seen: list[str] = []
        params = {"limit": "2", "sort": sort}
        while True:
            page = client.simulate_get(VIDEOS, params=params, headers=creator.headers)
            assert page.status_code == 200
            seen += ids(page)
            if page.json["next_cursor"] is None:
                break
            params = {**params, "cursor": page.json["next_cursor"]}
        assert sorted(seen) == sorted(created)
        if sort == "newest":
            assert seen == created[::-1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "oldest"}, "sort"),
        ({"status": "done"}, "status"),
        ({"visibility": "hidden"}, "visibility"),
        ({"limit": "1000"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
    ],
)
def test_bad_list_parameters_are_422_with_the_field(
    client: Client, params: dict[str, str], field: str
) -> None:
    result = client.simulate_get(VIDEOS, params=params)
    assert result.status_code == 422
    assert [e["field"] for e in result.json["errors"]] == [field]


def test_a_cursor_from_the_other_sort_is_refused(
    client: Client, creator: Account, mp4: bytes
) -> None:
    for n in range(3):
        upload(client, creator, mp4, title=f"clip {n}")
    newest = client.simulate_get(VIDEOS, params={"limit": "1"}, headers=creator.headers)
    cursor = newest.json["next_cursor"]
    mixed = client.simulate_get(
        VIDEOS, params={"sort": "most_viewed", "cursor": cursor}, headers=creator.headers
    )
    assert mixed.status_code == 422


# -- updates, deletion, views, processing ----------------------------------------------


def test_patch_changes_only_the_fields_given(
    client: Client, account: MakeAccount, creator: Account, mp4: bytes
) -> None:
    admin = account(Role.ADMIN)
    category = client.simulate_post(
        "/api/v1/categories", json={"name": "Sports"}, headers=admin.headers
    ).json["id"]
    video = upload(client, creator, mp4, tags="a", category_id=category).json
    path = f"{VIDEOS}/{video['id']}"
    renamed = client.simulate_patch(path, json={"title": "New title"}, headers=creator.headers)
    assert renamed.status_code == 200
    after = renamed.json
    assert (after["title"], after["tags"], after["category_id"]) == ("New title", ["a"], category)
    changed = client.simulate_patch(
        path, json={"tags": ["x", "Y"], "visibility": "unlisted"}, headers=creator.headers
    ).json
    assert (changed["tags"], changed["visibility"], changed["category_id"]) == (
        ["x", "y"],
        "unlisted",
        category,
    )
    cleared = client.simulate_patch(path, json={"category_id": None}, headers=creator.headers)
    assert cleared.json["category_id"] is None
    assert cleared.json["title"] == "New title"
    moved = client.simulate_patch(path, json={"category_id": category}, headers=creator.headers)
    assert moved.json["category_id"] == category


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 5}, "title"),
        ({"visibility": "everyone"}, "visibility"),
        ({"colour": "red"}, "colour"),
        ({"title": ""}, "title"),
        ({"tags": "not a list"}, "tags"),
    ],
)
def test_invalid_patches_are_422_with_the_field(
    client: Client, creator: Account, mp4: bytes, body: dict[str, Any], field: str
) -> None:
    video = upload(client, creator, mp4).json["id"]
    result = client.simulate_patch(f"{VIDEOS}/{video}", json=body, headers=creator.headers)
    assert result.status_code == 422
    assert [e["field"].split(".")[0] for e in result.json["errors"]] == [field]


def test_patch_and_delete_refuse_others_403_when_visible_and_404_when_not(
    client: Client,
    account: MakeAccount,
    creator: Account,
    mp4: bytes,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    public = upload(client, creator, mp4, visibility="public").json["id"]
    make_ready(uow_factory, clock, public)
    private = upload(client, creator, mp4).json["id"]
    other = account(Role.CREATOR).headers
    change = {"json": {"title": "mine now"}, "headers": other}
    assert client.simulate_patch(f"{VIDEOS}/{public}", **change).status_code == 403
    assert client.simulate_patch(f"{VIDEOS}/{private}", **change).status_code == 404
    assert client.simulate_delete(f"{VIDEOS}/{public}", headers=other).status_code == 403
    assert client.simulate_delete(f"{VIDEOS}/{private}", headers=other).status_code == 404
    assert client.simulate_patch(f"{VIDEOS}/{private}", json={"title": "x"}).status_code == 401
    assert client.simulate_delete(f"{VIDEOS}/{private}").status_code == 401
    moderator = account(Role.MODERATOR).headers
    fixed = client.simulate_patch(f"{VIDEOS}/{private}", json={"title": "ok"}, headers=moderator)
    assert fixed.status_code == 200


def test_delete_removes_the_video_and_its_bytes(
    client: Client, creator: Account, mp4: bytes, storage: WatchedStorage
) -> None:
    video = upload(client, creator, mp4).json["id"]
    deleted = client.simulate_delete(f"{VIDEOS}/{video}", headers=creator.headers)
    assert deleted.status_code == 204
    assert deleted.text == ""
    assert storage.keys() == []
    assert client.simulate_get(f"{VIDEOS}/{video}", headers=creator.headers).status_code == 404
    again = client.simulate_delete(f"{VIDEOS}/{video}", headers=creator.headers)
    assert again.status_code == 404


def test_views_are_counted(
    client: Client,
    creator: Account,
    mp4: bytes,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    video = upload(client, creator, mp4, visibility="public").json["id"]
    make_ready(uow_factory, clock, video)
    for _ in range(3):
        assert client.simulate_post(f"{VIDEOS}/{video}/views").status_code == 204
    assert client.simulate_get(f"{VIDEOS}/{video}").json["view_count"] == 3
    assert client.simulate_post(f"{VIDEOS}/{MISSING}/views").status_code == 404


def test_processing_state_is_reported(
    client: Client,
    creator: Account,
    mp4: bytes,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    video = upload(client, creator, mp4).json["id"]
    path = f"{VIDEOS}/{video}/processing"
    before = client.simulate_get(path, headers=creator.headers).json
    assert before == {
        "id": video,
        "status": "uploaded",
        "progress": 0,
        "attempts": 0,
        "last_error": None,
        "failure_code": None,
        "reprocessing": False,
    }
    make_ready(uow_factory, clock, video)
    after = client.simulate_get(path, headers=creator.headers).json
    assert (after["status"], after["progress"], after["attempts"]) == ("ready", 100, 1)


def test_the_processing_path_is_deprecated_and_answers_as_progress_does(
    client: Client, creator: Account, mp4: bytes
) -> None:
    video = upload(client, creator, mp4).json["id"]
    old = client.simulate_get(f"{VIDEOS}/{video}/processing", headers=creator.headers)
    new = client.simulate_get(f"{VIDEOS}/{video}/progress", headers=creator.headers)
    assert old.json == new.json
    assert (old.headers["deprecation"], old.headers["sunset"]) == (
        "Sun, 06 Dec 2026 00:00:00 GMT",
        "Wed, 30 Jun 2027 00:00:00 GMT",
    )
    assert "deprecation" not in new.headers
    document = client.simulate_get("/api/v1/openapi.json").json
    assert document["paths"]["/api/v1/videos/{video_id}/processing"]["get"]["deprecated"] is True


# -- the document ---------------------------------------------------------------------


def test_video_responses_match_the_published_document(
    client: Client, account: MakeAccount, creator: Account, mp4: bytes, platform: Platform
) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    video = upload(client, creator, mp4).json["id"]
    other = account(Role.CREATOR)
    body, content_type = form([("title", "documented")], mp4)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        (
            "POST",
            VIDEOS,
            {"body": body, "headers": {"Content-Type": content_type, **creator.headers}},
        ),
        ("POST", VIDEOS, {"body": PNG, "params": {"title": "x"}, "headers": creator.headers}),
        ("POST", VIDEOS, {"body": mp4, "params": {"title": ""}, "headers": creator.headers}),
        ("POST", VIDEOS, {"body": mp4, "params": {"title": "x"}}),
        ("GET", VIDEOS, {"headers": creator.headers}),
        ("GET", VIDEOS, {"params": {"sort": "sideways"}}),
        ("GET", f"{VIDEOS}/{video}", {"headers": creator.headers}),
        ("GET", f"{VIDEOS}/{video}", {"headers": other.headers}),
        ("GET", f"{VIDEOS}/{video}/processing", {"headers": creator.headers}),
        ("PATCH", f"{VIDEOS}/{video}", {"json": {"title": "t"}, "headers": creator.headers}),
        ("PATCH", f"{VIDEOS}/{video}", {"json": {"title": 1}, "headers": creator.headers}),
        ("POST", f"{VIDEOS}/{video}/views", {"headers": creator.headers}),
        ("DELETE", f"{VIDEOS}/{video}", {"headers": creator.headers}),
    ]
    for method, path, kwargs in calls:
        result = client.simulate_request(method, path, **kwargs)
        media = result.headers.get("content-type", "").split(";")[0]
        payload = result.json if media.endswith("json") else result.text
        docs.check(method, path, result.status_code, payload, media)
    upload_doc = docs.document["paths"][VIDEOS]["post"]
    assert set(upload_doc["requestBody"]["content"]) == {
        "multipart/form-data",
        "video/*",
        "application/octet-stream",
    }
    assert {"401", "403", "404", "413", "415", "422"} <= set(upload_doc["responses"])
