"""The code-point classes the OpenAPI document's patterns are built from are the ones a
scan of every code point finds, stored or not."""

from __future__ import annotations

import unicodedata

import falcon.testing
import pytest

from videoplatform.entrypoints.http import code_point_classes as stored
from videoplatform.entrypoints.http import schema
from videoplatform.entrypoints.http.schema import (
    char_class,
    class_text,
    named_classes,
    scan_ranges,
    stored_ranges,
)


def test_every_class_the_document_uses_is_what_a_full_scan_finds(
    client: falcon.testing.TestClient,
) -> None:
    assert client.simulate_get("/api/v1/openapi.json").status_code == 200
    classes = named_classes()
    assert {"whitespace", "query_word", "file_name_refused"} <= set(classes)
    for name, holds in classes.items():
        scanned = scan_ranges(holds)
        assert char_class(name, holds) == class_text(scanned), name
        if unicodedata.unidata_version == stored.UNICODE_VERSION:
            # Stored for this Python's Unicode: taken from the module, not scanned.
            assert stored_ranges(name) == scanned, name


def test_a_class_stored_for_another_unicode_version_is_scanned_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schema, "_NAMED", {})  # this class is not the document's
    monkeypatch.setattr(stored, "UNICODE_VERSION", "0.0.0")
    monkeypatch.setattr(stored, "RANGES", {"digits": "0-10ffff"})  # wrong on purpose

    assert stored_ranges("digits") is None
    assert char_class("digits", lambda c: "0" <= c <= "9") == "0-9"
