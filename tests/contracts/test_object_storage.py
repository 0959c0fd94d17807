"""Object storage keeps the storage port's contract: streamed, atomic puts; ranged,
clipped gets; idempotent deletes; prefix deletes that stay inside their prefix."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from videoplatform.application.ports.storage import ByteRange, ObjectStorage
from videoplatform.domain.errors import NotFound, ValidationError

SIZE = 200 * 1024  # several chunks of any sensible chunk size, and not a multiple of one


@pytest.fixture
def payload() -> bytes:
    return random.Random(20260101).randbytes(SIZE)  # noqa: S311 - test data, not a secret


def read_all(storage: ObjectStorage, key: str, byte_range: ByteRange | None = None) -> bytes:
    return b"".join(storage.get(key, byte_range))


class Trickle:
    """A stream that hands out at most ``step`` bytes per read, whatever is asked."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1, /) -> bytes:
        want = self._step if size < 0 else min(size, self._step)
        return self._data.read(want)


class Broken:
    """A stream that yields ``good`` bytes, then fails like a dropped upload would."""

    def __init__(self, good: bytes, on_read: Callable[[], None] = lambda: None) -> None:
        self._data = io.BytesIO(good)
        self._on_read = on_read

    def read(self, size: int = -1, /) -> bytes:
        self._on_read()
        chunk = self._data.read(size if size > 0 else 8192)
        if not chunk:
            raise ConnectionResetError("client went away")
        return chunk


def test_put_then_get_round_trips_across_chunk_boundaries(
    object_storage: ObjectStorage, payload: bytes
) -> None:
    info = object_storage.put("videos/v1/source", io.BytesIO(payload))
    assert (info.key, info.size) == ("videos/v1/source", SIZE)
    chunks = list(object_storage.get("videos/v1/source"))
    assert all(isinstance(chunk, bytes) and chunk for chunk in chunks)
    assert b"".join(chunks) == payload


def test_put_reads_the_stream_to_its_end_even_in_short_reads(
    object_storage: ObjectStorage, payload: bytes
) -> None:
    info = object_storage.put("k/short-reads", Trickle(payload, step=1000))
    assert info.size == SIZE
    assert read_all(object_storage, "k/short-reads") == payload


def test_an_empty_object_is_stored_and_read_back(object_storage: ObjectStorage) -> None:
    info = object_storage.put("k/empty", io.BytesIO(b""))
    assert info.size == 0
    assert object_storage.exists("k/empty")
    assert object_storage.stat("k/empty").size == 0
    assert read_all(object_storage, "k/empty") == b""


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(0, 0, id="first-byte"),
        pytest.param(0, SIZE - 1, id="everything"),
        pytest.param(65_535, 65_536, id="across-64k"),
        pytest.param(100, 150_000, id="many-chunks"),
        pytest.param(SIZE - 1, SIZE - 1, id="last-byte"),
        pytest.param(131_072, 196_607, id="aligned"),
    ],
)
def test_a_ranged_get_returns_the_inclusive_range(
    object_storage: ObjectStorage, payload: bytes, start: int, end: int
) -> None:
    object_storage.put("k/ranged", io.BytesIO(payload))
    got = read_all(object_storage, "k/ranged", ByteRange(start, end))
    assert got == payload[start : end + 1]
    assert len(got) == ByteRange(start, end).length


def test_a_range_ending_past_the_end_is_clipped_to_the_size(
    object_storage: ObjectStorage, payload: bytes
) -> None:
    object_storage.put("k/ranged", io.BytesIO(payload))
    assert (
        read_all(object_storage, "k/ranged", ByteRange(SIZE - 10, SIZE + 5_000)) == (payload[-10:])
    )
    assert read_all(object_storage, "k/ranged", ByteRange(0, 10**12)) == payload


@pytest.mark.parametrize("start", [SIZE, SIZE + 1, 10**9])
def test_a_range_starting_past_the_end_is_not_satisfiable(
    object_storage: ObjectStorage, payload: bytes, start: int
) -> None:
    object_storage.put("k/ranged", io.BytesIO(payload))
    # Raised by the call itself, before any byte is streamed, so HTTP can still answer 416.
    with pytest.raises(ValidationError) as caught:
        object_storage.get("k/ranged", ByteRange(start, start + 10))
    assert caught.value.code == "range_not_satisfiable"


def test_no_range_of_an_empty_object_is_satisfiable(object_storage: ObjectStorage) -> None:
    object_storage.put("k/empty", io.BytesIO(b""))
    with pytest.raises(ValidationError) as caught:
        object_storage.get("k/empty", ByteRange(0, 0))
    assert caught.value.code == "range_not_satisfiable"


def test_stat_and_exists_describe_a_stored_object(
    object_storage: ObjectStorage, payload: bytes
) -> None:
    assert not object_storage.exists("k/a")
    object_storage.put("k/a", io.BytesIO(payload[:12_345]))
    info = object_storage.stat("k/a")
    assert (info.key, info.size) == ("k/a", 12_345)
    assert object_storage.exists("k/a")
    # A folder-like prefix, or a path below an object, names no object.
    for absent in ("k/", "k", "k/a/b"):
        assert not object_storage.exists(absent)
        with pytest.raises(NotFound):
            object_storage.stat(absent)
        with pytest.raises(NotFound):
            object_storage.get(absent)
        object_storage.delete(absent)
    assert object_storage.stat("k/a").size == 12_345


def test_get_and_stat_of_a_missing_key_raise_not_found(object_storage: ObjectStorage) -> None:
    with pytest.raises(NotFound):
        object_storage.get("k/missing")
    with pytest.raises(NotFound):
        object_storage.get("k/missing", ByteRange(0, 1))
    with pytest.raises(NotFound):
        object_storage.stat("k/missing")


def test_delete_removes_the_object_and_is_idempotent(
    object_storage: ObjectStorage, payload: bytes
) -> None:
    object_storage.put("k/a", io.BytesIO(payload[:10]))
    object_storage.put("k/b", io.BytesIO(payload[:20]))
    object_storage.delete("k/a")
    object_storage.delete("k/a")
    object_storage.delete("k/never-existed")
    assert not object_storage.exists("k/a")
    with pytest.raises(NotFound):
        object_storage.stat("k/a")
    assert read_all(object_storage, "k/b") == payload[:20]


def test_delete_prefix_removes_only_that_prefix_and_counts(
    object_storage: ObjectStorage,
) -> None:
    keys = [
        "videos/v1/source",
        "videos/v1/hls/master.m3u8",
        "videos/v1/hls/360p/seg_0.ts",
        "videos/v10/source",
        "videos/v2/source",
        "other/videos/v1/source",
    ]
    for key in keys:
        object_storage.put(key, io.BytesIO(key.encode()))

    assert object_storage.delete_prefix("videos/v1/") == 3
    assert [k for k in keys if object_storage.exists(k)] == [
        "videos/v10/source",
        "videos/v2/source",
        "other/videos/v1/source",
    ]
    assert read_all(object_storage, "videos/v10/source") == b"videos/v10/source"
    assert object_storage.delete_prefix("videos/v1/") == 0
    assert object_storage.delete_prefix("nothing/here/") == 0


def test_delete_prefix_refuses_a_prefix_without_a_trailing_slash(
    object_storage: ObjectStorage,
) -> None:
    object_storage.put("videos/v1/source", io.BytesIO(b"1"))
    object_storage.put("videos/v10/source", io.BytesIO(b"10"))
    with pytest.raises(ValueError, match="/"):
        object_storage.delete_prefix("videos/v1")
    assert object_storage.exists("videos/v1/source")
    assert object_storage.exists("videos/v10/source")


def test_a_stream_failing_midway_leaves_no_object(
    object_storage: ObjectStorage, payload: bytes
) -> None:
    with pytest.raises(ConnectionResetError):
        object_storage.put("k/new", Broken(payload))
    assert not object_storage.exists("k/new")
    with pytest.raises(NotFound):
        object_storage.stat("k/new")
    assert object_storage.delete_prefix("k/") == 0


def test_a_stream_failing_midway_leaves_the_previous_object_intact(
    object_storage: ObjectStorage, payload: bytes
) -> None:
    previous = payload[:70_000]
    object_storage.put("k/obj", io.BytesIO(previous))
    with pytest.raises(ConnectionResetError):
        object_storage.put("k/obj", Broken(payload[::-1]))
    assert object_storage.stat("k/obj").size == len(previous)
    assert read_all(object_storage, "k/obj") == previous


def test_an_overwrite_is_atomic(object_storage: ObjectStorage, payload: bytes) -> None:
    old, new = payload[:100_000], payload[100_000:]
    object_storage.put("k/obj", io.BytesIO(old))
    seen_during_upload: list[bytes] = []

    class Watched:
        """The new content; every read first looks at what readers see right now."""

        def __init__(self) -> None:
            self._data = io.BytesIO(new)

        def read(self, size: int = -1, /) -> bytes:
            seen_during_upload.append(read_all(object_storage, "k/obj"))
            return self._data.read(size)

    info = object_storage.put("k/obj", Watched())
    assert info.size == len(new)
    assert len(seen_during_upload) >= 2
    assert all(seen == old for seen in seen_during_upload)
    assert read_all(object_storage, "k/obj") == new
    assert object_storage.stat("k/obj").size == len(new)


def test_a_read_in_progress_is_not_torn_by_an_overwrite(
    object_storage: ObjectStorage, payload: bytes
) -> None:
    old, new = payload, payload[::-1]
    object_storage.put("k/obj", io.BytesIO(old))
    chunks = object_storage.get("k/obj")
    first = next(chunks)
    object_storage.put("k/obj", io.BytesIO(new))
    assert first + b"".join(chunks) in (old, new)


def test_open_file_gives_the_exact_bytes_or_none_and_refuses_a_missing_object(
    object_storage: ObjectStorage,
) -> None:
    object_storage.put("files/f1", io.BytesIO(b"local bytes"))
    handle = object_storage.open_file("files/f1")
    if handle is not None:  # adapters keeping bytes on a local filesystem
        with handle:
            assert handle.read() == b"local bytes"
    with pytest.raises(NotFound):
        object_storage.open_file("files/missing")


def test_sweeping_partial_writes_never_touches_objects(object_storage: ObjectStorage) -> None:
    object_storage.put("videos/v1/source", io.BytesIO(b"whole"))
    object_storage.put("files/f1", io.BytesIO(b""))
    with pytest.raises(ConnectionResetError):
        # A put that fails cleans up after itself: nothing partial is left to sweep.
        object_storage.put("videos/v2/source", Broken(b"x" * 10))

    later = datetime.now(UTC) + timedelta(days=1)
    assert object_storage.sweep_partial(later) == 0
    assert b"".join(object_storage.get("videos/v1/source")) == b"whole"
    assert object_storage.exists("files/f1")
