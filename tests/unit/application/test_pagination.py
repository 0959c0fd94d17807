"""Opaque keyset cursors and page-size bounds."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from videoplatform.application.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    clamp_limit,
    decode_cursor,
    encode_cursor,
    time_cursor,
    time_keyset,
)
from videoplatform.domain.errors import ValidationError


def raw_cursor(data: object) -> str:
    """A cursor built by hand, as a client tampering with one would."""
    encoded = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    return encoded.rstrip("=")


def test_cursor_round_trips_its_key() -> None:
    key: list[str | int | float] = ["2026-01-01T00:00:00+00:00", 42, 1.5, "id-é/?&"]

    cursor = encode_cursor("videos:newest", key)

    assert decode_cursor("videos:newest", cursor) == key
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cursor_of_another_list_is_refused() -> None:
    cursor = encode_cursor("shares", ["2026-01-01T00:00:00+00:00", "x"])

    with pytest.raises(ValidationError) as refused:
        decode_cursor("audit", cursor)
    assert "cursor" in refused.value.fields


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-3],
        lambda c: "x" + c,
        lambda c: "A" + c[1:],
        lambda c: c[:5] + "Z" + c[6:],
        lambda c: c[::-1],
        lambda c: "",
    ],
)
def test_tampered_cursor_is_refused(tamper: Callable[[str], str]) -> None:
    cursor = encode_cursor("x", ["a", 1])

    with pytest.raises(ValidationError) as refused:
        decode_cursor("x", tamper(cursor))
    assert "cursor" in refused.value.fields


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "x"},
        [],
        "x",
        17,
        ["x", True],
        ["x", None],
        ["x", ["nested"]],
        ["x", {"a": 1}],
    ],
)
def test_structurally_wrong_cursor_is_refused(data: object) -> None:
    with pytest.raises(ValidationError):
        decode_cursor("x", raw_cursor(data))


def test_non_utf8_cursor_is_refused() -> None:
    cursor = base64.urlsafe_b64encode(b"\xff\xfe\x00garbage").decode()

    with pytest.raises(ValidationError):
        decode_cursor("x", cursor)


def test_time_cursor_round_trips() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)

    assert time_keyset("audit", time_cursor("audit", moment, "01ABC")) == (moment, "01ABC")


def test_time_cursor_keeps_the_instant_across_zones() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))

    decoded, _ = time_keyset("audit", time_cursor("audit", moment, "id"))

    assert decoded == moment
    assert decoded.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "key",
    [
        ["2026-01-01T00:00:00+00:00"],
        ["2026-01-01T00:00:00+00:00", "id", "extra"],
        [1767225600, "id"],
        ["2026-01-01T00:00:00+00:00", 7],
        ["yesterday", "id"],
    ],
)
def test_malformed_time_keyset_is_refused(key: list[str | int | float]) -> None:
    with pytest.raises(ValidationError) as refused:
        time_keyset("audit", encode_cursor("audit", key))
    assert "cursor" in refused.value.fields


def test_time_keyset_without_a_zone_is_refused() -> None:
    # Every stored time is timezone-aware; a naive one cannot be compared with them.
    with pytest.raises(ValidationError):
        time_keyset("audit", encode_cursor("audit", ["2026-01-01T00:00:00", "id"]))


def test_limit_defaults_and_bounds() -> None:
    assert clamp_limit(None) == DEFAULT_LIMIT
    assert clamp_limit(1) == 1
    assert clamp_limit(MAX_LIMIT) == MAX_LIMIT == 100


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, 10**9])
def test_limit_out_of_bounds_is_refused(limit: int) -> None:
    with pytest.raises(ValidationError) as refused:
        clamp_limit(limit)
    assert "limit" in refused.value.fields
