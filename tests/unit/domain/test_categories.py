"""Categories: a cleaned display name and a URL slug derived from it."""

from __future__ import annotations

import re

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


@pytest.mark.parametrize("name", ["!!!", "---", "日本", "🎬", "\u00f7\u00b4="])
def test_a_name_without_ascii_letters_or_digits_gets_a_slug_from_its_digest(name: str) -> None:
    slug = slugify(name)
    assert re.fullmatch(r"c-[0-9a-f]{16}", slug)
    assert slug == slugify(name)  # the same name is the same category


def test_digest_slugs_tell_names_apart_but_not_case_or_width() -> None:
    assert slugify("日本") != slugify("中国")
    assert slugify("ΣΟΦΙΑ") == slugify("σοφια")  # casefolded, like the ASCII slugs
    assert slugify("\uff01\uff01") == slugify("!!")  # full-width forms fold (NFKC)


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


def test_create_accepts_a_name_in_any_script() -> None:
    category = Category.create(id=CategoryId("cat-1"), name=" 音楽 ", now=NOW)
    assert (category.name, category.slug) == ("音楽", slugify("音楽"))


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


def test_rename_to_a_name_in_another_script_changes_name_and_slug_together() -> None:
    category = Category.create(id=CategoryId("cat-1"), name="Music", now=NOW)
    category.rename("音楽")
    assert (category.name, category.slug) == ("音楽", slugify("音楽"))
