"""What a search query means: words, phrases, exclusions; everything else is text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videoplatform.domain.errors import ValidationError
from videoplatform.domain.search import (
    MAX_QUERY_LENGTH,
    MAX_QUERY_WORDS,
    DurationBucket,
    SearchTerms,
    edit_distance,
    fold,
    holds_a_word,
    parse_query,
    typo_budget,
    words,
)


def test_words_phrases_and_exclusions_are_told_apart() -> None:
    terms = parse_query('pasta "fresh tomato sauce" -garlic')
    assert terms == SearchTerms(("pasta",), (("fresh", "tomato", "sauce"),), ("garlic",))
    assert terms.wanted == ("pasta", "fresh", "tomato", "sauce")
    assert terms.text() == 'pasta "fresh tomato sauce" -garlic'


def test_case_and_diacritics_are_folded() -> None:
    assert parse_query("Café CRÈME Straße").words == ("cafe", "creme", "strasse")
    fullwidth = "".join(chr(0xFF21 + ord(c) - ord("A")) for c in "WIDE")
    assert fold(fullwidth) == "wide"


@pytest.mark.parametrize(
    "raw",
    [
        "NEAR(cat dog)",
        "cat* OR dog",
        "title:cat",
        "cat AND dog",
        "100% ' ; DROP TABLE videos; --",
        "cat^2 {dog}",
        "(cat",
    ],
)
def test_engine_syntax_is_text(raw: str) -> None:
    terms = parse_query(raw)
    assert all(w.isalnum() for w in terms.wanted + terms.excluded)


def test_a_quote_left_open_is_text() -> None:
    assert parse_query('"quick brown fox') == SearchTerms(("quick", "brown", "fox"))


def test_a_quoted_single_word_is_a_word() -> None:
    assert parse_query('"fox" dog') == SearchTerms(("fox", "dog"))


def test_a_hyphenated_exclusion_excludes_every_word_of_it() -> None:
    assert parse_query("recipes -well-known").excluded == ("well", "known")


def test_a_word_both_wanted_and_excluded_is_wanted() -> None:
    assert parse_query("cat -cat").excluded == ()


def test_excluded_words_alone_want_nothing() -> None:
    assert parse_query("-cat").wanted == ()


@pytest.mark.parametrize("raw", ["", "   ", '""', "-- ** !!"])
def test_a_query_without_a_letter_or_digit_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        parse_query(raw)


def test_an_over_long_query_is_refused() -> None:
    parse_query("a" * MAX_QUERY_LENGTH)
    with pytest.raises(ValidationError):
        parse_query("a" * (MAX_QUERY_LENGTH + 1))


def test_words_past_the_limit_are_left_out() -> None:
    many = " ".join(f"w{n}" for n in range(MAX_QUERY_WORDS + 5))
    assert len(parse_query(many).words) == MAX_QUERY_WORDS


@given(st.text(max_size=MAX_QUERY_LENGTH))
def test_any_text_parses_or_is_refused_for_a_stated_reason(raw: str) -> None:
    if not any(holds_a_word(c) for c in raw):
        with pytest.raises(ValidationError):
            parse_query(raw)
        return
    terms = parse_query(raw)
    assert terms.wanted or terms.excluded
    for word in terms.wanted + terms.excluded:
        assert word and all(c.isalnum() for c in word)
        assert words(word) == [word]


def test_typos_allowed_grow_with_the_word() -> None:
    assert [typo_budget(w) for w in ("cat", "kitten", "mountains", "h264x")] == [0, 1, 2, 0]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("garden", "garden", 0),
        ("gardne", "garden", 1),  # two neighbours swapped: one edit
        ("gaden", "garden", 1),
        ("garten", "garden", 1),
        ("gdn", "garden", 3),
    ],
)
def test_edit_distance_counts_a_swap_as_one_edit(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b, 3) == distance


def test_edit_distance_stops_past_its_limit() -> None:
    assert edit_distance("kitten", "sitting", 1) == 2
    assert edit_distance("a", "abcdef", 2) == 3


@pytest.mark.parametrize("seconds", [0.0, 239.9, 240.0, 1199.9, 1200.0, 86400.0])
def test_a_length_falls_in_the_bucket_whose_range_holds_it(seconds: float) -> None:
    bucket = DurationBucket.of(seconds)
    start, end = bucket.seconds
    assert start <= seconds and (end is None or seconds < end)
