"""Categories: a cleaned display name and a URL slug derived from it."""

from __future__ import annotations

import pytest

from tests.unit.domain.builders import NOW
from videoplatform.domain.categories import Category, clean_category_name, slugify
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import CategoryId


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Music", "music"),
        ("Hello, World!", "hello-world"),
        ("  Rock & Roll  ", "rock-roll"),
        ("--Sci-Fi--", "sci-fi"),
        ("Café Crème", "cafe-creme"),
        ("Top 10 (2026)", "top-10-2026"),
        (
            "\uff26\uff35\uff2c\uff2c \uff57\uff49\uff44\uff54\uff48",
            "full-width",
        ),  # full-width forms
        ("a___b...c", "a-b-c"),
        ("日本 Anime", "anime"),
    ],
)
def test_slug_is_lowercase_ascii_words_joined_by_single_hyphens(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize("name", ["!!!", "---", "日本", "🎬", " "])
def test_slug_needs_at_least_one_ascii_letter_or_digit(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        slugify(name)
    assert caught.value.fields == {"name": "must contain at least one letter or digit"}


def test_category_name_whitespace_is_collapsed() -> None:
    assert clean_category_name("  Science \t and\n Tech ") == "Science and Tech"


@pytest.mark.parametrize("name", ["", "   ", "c" * 81])
def test_category_name_must_be_1_to_80_characters(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        clean_category_name(name)
    assert caught.value.fields == {"name": "must be 1 to 80 characters"}


def test_category_name_of_80_characters_is_accepted() -> None:
    assert clean_category_name("c" * 80) == "c" * 80


def test_create_cleans_the_name_and_derives_the_slug() -> None:
    category = Category.create(id=CategoryId("cat-1"), name="  How-To  Guides ", now=NOW)
    assert category.name == "How-To Guides"
    assert category.slug == "how-to-guides"
    assert category.created_at == NOW


def test_create_refuses_a_name_without_letters_or_digits() -> None:
    with pytest.raises(ValidationError):
        Category.create(id=CategoryId("cat-1"), name="???", now=NOW)


def test_rename_changes_name_and_slug_together() -> None:
    category = Category.create(id=CategoryId("cat-1"), name="Music", now=NOW)
    category.rename(" Live   Music ")
    assert category.name == "Live Music"
    assert category.slug == "live-music"


def test_rename_to_a_blank_name_is_refused_and_changes_nothing() -> None:
    category = Category.create(id=CategoryId("cat-1"), name="Music", now=NOW)
    with pytest.raises(ValidationError):
        category.rename("   ")
    assert (category.name, category.slug) == ("Music", "music")


def test_rename_to_a_name_without_letters_or_digits_is_refused_and_changes_nothing() -> None:
    category = Category.create(id=CategoryId("cat-1"), name="Music", now=NOW)
    with pytest.raises(ValidationError):
        category.rename("音楽")
    # Name and slug must never disagree: a refused rename leaves both as they were.
    assert (category.name, category.slug) == ("Music", "music")
