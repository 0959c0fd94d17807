"""MeteredReader: measures, hashes and bounds an upload while it streams."""

from __future__ import annotations

import hashlib
import io

import pytest

from videoplatform.application.streams import MeteredReader
from videoplatform.domain.errors import QuotaExceeded


class CountingSource:
    """A stream that records every byte handed out and the largest request it got."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.taken = 0
        self.requests: list[int] = []

    def read(self, size: int = -1, /) -> bytes:
        self.requests.append(size)
        chunk = self._data.read(size)
        self.taken += len(chunk)
        return chunk


def drain(reader: MeteredReader, chunk: int) -> bytes:
    parts: list[bytes] = []
    while part := reader.read(chunk):
        parts.append(part)
    return b"".join(parts)


@pytest.mark.parametrize("chunk", [1, 7, 4096, -1])
def test_size_and_sha256_are_computed_while_streaming(chunk: int) -> None:
    data = bytes(range(256)) * 50
    reader = MeteredReader(CountingSource(data), None)

    assert drain(reader, chunk) == data
    assert reader.size == len(data)
    assert reader.sha256 == hashlib.sha256(data).hexdigest()


def test_empty_stream() -> None:
    reader = MeteredReader(io.BytesIO(b""), 10)

    assert reader.read(100) == b""
    assert reader.size == 0
    assert reader.sha256 == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("chunk", [1, 3, 64, 65536, -1])
def test_limit_stops_reading_one_byte_past_it(chunk: int) -> None:
    source = CountingSource(b"x" * 1_000_000)
    reader = MeteredReader(source, 100, what="video")

    with pytest.raises(QuotaExceeded) as refused:
        drain(reader, chunk)

    assert source.taken <= 101
    assert all(0 <= size <= 101 for size in source.requests)
    assert "video" in str(refused.value)
    assert "100" in str(refused.value)


def test_stream_of_exactly_the_limit_passes() -> None:
    data = b"y" * 100
    source = CountingSource(data)
    reader = MeteredReader(source, 100)

    assert drain(reader, 30) == data
    assert reader.size == 100
    assert reader.sha256 == hashlib.sha256(data).hexdigest()
    assert source.taken == 100


def test_without_a_limit_requests_pass_through() -> None:
    source = CountingSource(b"z" * 10)
    reader = MeteredReader(source, None)

    reader.read()
    reader.read(5)

    assert source.requests == [-1, 5]
