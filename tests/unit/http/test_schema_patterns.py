"""The patterns in the OpenAPI document say exactly what the domain accepts: for any
text, the pattern matches if and only if the server's own check passes (names,
folders, email addresses, display names, descriptions, tags)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from videoplatform.application.pagination import encode_cursor
from videoplatform.application.users.sessions import MAX_TOKEN_NAME
from videoplatform.domain.categories import MAX_CATEGORY_NAME, clean_category_name
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.files import FolderPath, clean_file_name
from videoplatform.domain.ids import UserId
from videoplatform.domain.text import one_line
from videoplatform.domain.users import MAX_DISPLAY_NAME, Email, Role, User
from videoplatform.domain.videos import MAX_TITLE, clean_description, clean_tags, clean_title
from videoplatform.entrypoints.http.middleware import SUPPORTED_VERSIONS
from videoplatform.entrypoints.http.openapi import version_pattern
from videoplatform.entrypoints.http.resources.auth import display_name_rules, email_rules
from videoplatform.entrypoints.http.resources.common import CURSOR
from videoplatform.entrypoints.http.resources.files import folder_rules, name_rules
from videoplatform.entrypoints.http.resources.videos import description_rules, tags_text_rules
from videoplatform.entrypoints.http.schema import text_rules
from videoplatform.entrypoints.http.uploads import split_list

# Text with the characters that matter most often: dots, slashes, spaces, controls,
# look-alikes, invisible characters, and letters from everywhere.
TRICKY = st.sampled_from(
    list("./\\ \t\n\x00\x01\x7f\u00a0\u200b\u2024\u2025\uff0e\uff0f\ufe52@a-Z9,")
)
TEXT = st.lists(st.one_of(TRICKY, st.characters(exclude_categories=["Cs"])), max_size=12).map(
    "".join
)


def accepted(check: Callable[[str], object], text: str) -> bool:
    try:
        check(text)
    except ValidationError:
        return False
    return True


def matches(rules: dict[str, object], text: str) -> bool:
    pattern = rules["pattern"]
    assert isinstance(pattern, str)
    longest = rules.get("maxLength")
    fits = longest is None or (isinstance(longest, int) and len(text) <= longest)
    shortest = rules.get("minLength", 0)
    return fits and len(text) >= int(str(shortest)) and re.search(pattern, text) is not None


@settings(max_examples=600, deadline=None)
@given(TEXT)
@example("..")
@example("\uff0e\uff0e")
@example("\u2025")
@example(" a")
def test_file_names(text: str) -> None:
    assert matches(name_rules(), text) == accepted(clean_file_name, text)


@settings(max_examples=600, deadline=None)
@given(st.lists(TEXT, max_size=4).map("/".join))
@example("/a/../b")
@example("//x//")
def test_folders(text: str) -> None:
    assert matches(folder_rules(), text) == accepted(FolderPath.parse, text)


@settings(max_examples=600, deadline=None)
@given(st.tuples(TEXT, TEXT, st.sampled_from(["example.com", "a.b", "x", "-a.com"])))
@example((" ", "bob", "example.com"))
def test_email_addresses(parts: tuple[str, str, str]) -> None:
    text = f"{parts[0]}{parts[1]}@{parts[2]}"
    assert matches(email_rules(), text) == accepted(Email.parse, text)


def _display_name(text: str) -> None:
    User.register(
        id=UserId("u"),
        email=Email("a@b.co"),
        display_name=text,
        password_hash="h",
        roles=frozenset({Role.VIEWER}),
        now=datetime(2026, 1, 1, tzinfo=UTC),
        verified=True,
    )


def padded(longest: int) -> st.SearchStrategy[str]:
    """Text around a length limit: what the server collapses (whitespace of every kind,
    including the separators ``\\s`` misses) on either side of a few characters."""
    space = st.sampled_from(list(" \t\n\x1c\x1f\x85\u00a0\u2028\u3000"))
    side = st.integers(min_value=0, max_value=longest).flatmap(
        lambda n: st.lists(space, min_size=n, max_size=n).map("".join)
    )
    return st.tuples(side, TEXT, side).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(TEXT, padded(MAX_DISPLAY_NAME)))
@example("\x1c")
def test_display_names(text: str) -> None:
    assert matches(display_name_rules(), text) == accepted(_display_name, text)


def _token_name(text: str) -> None:
    one_line(text, "name", MAX_TOKEN_NAME)


@pytest.mark.parametrize(
    ("longest", "check"),
    [
        (MAX_TITLE, clean_title),
        (MAX_CATEGORY_NAME, clean_category_name),
        (MAX_TOKEN_NAME, _token_name),
    ],
    ids=["title", "category", "token"],
)
@settings(max_examples=300, deadline=None)
@given(text=st.one_of(TEXT, padded(40)))
@example(text="\x1c")
@example(text="\u0085a\u2028")
def test_one_line_text(longest: int, check: Callable[[str], object], text: str) -> None:
    rules = text_rules(longest)()
    assert matches(rules, text) == accepted(check, text)
    long = " " * (longest - len(text) + 1) + text if len(text) <= longest else text
    assert matches(rules, long) == accepted(check, long)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_descriptions(text: str) -> None:
    assert matches(description_rules(), text) == accepted(clean_description, text)


@settings(max_examples=400, deadline=None)
@given(TEXT)
@example("a,b,,c")
def test_tags_as_text(text: str) -> None:
    assert matches(tags_text_rules(), text) == accepted(lambda t: clean_tags(split_list(t)), text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(TEXT, st.integers(min_value=0, max_value=2**63 - 1)), max_size=3))
def test_every_cursor_the_server_issues_fits_the_documented_form(key: list[str | int]) -> None:
    rules = CURSOR.schema
    assert isinstance(rules, dict)
    cursor = encode_cursor("videos", key)
    assert re.search(rules["pattern"], cursor)


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXT, st.sampled_from([" V1 ", "1.0", "v1", "1", "V1.0", "v 1", "1.00"])))
def test_the_accept_version_pattern_is_what_the_server_speaks(text: str) -> None:
    spoken = text.strip().lower() in SUPPORTED_VERSIONS
    assert (re.search(version_pattern(), text) is not None) == spoken


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_titles_a_generator_makes_from_the_document_are_accepted(data: st.DataObject) -> None:
    """A client's generator reads the pattern in its own dialect (Hypothesis's, like
    JavaScript's, does not count U+001C..U+001F or U+0085 as whitespace): what it makes
    from the document must still be a title the server takes."""
    rules = text_rules(MAX_TITLE)()
    text = data.draw(
        st.from_regex(str(rules["pattern"])).filter(lambda t: 1 <= len(t) <= MAX_TITLE)
    )
    assert accepted(clean_title, text)
