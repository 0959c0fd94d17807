"""What a search query means, whatever engine answers it.

A query is plain text: words, ``"exact phrases"`` and ``-excluded`` words. Nothing else
in it is an operator: FTS or SQL syntax (``*``, ``:``, ``NEAR``, ``OR``, ``%``...) is
text, and only its words are matched. A quote left open is text as well. Words are
compared folded (:func:`fold`): compatibility forms unified, diacritics removed, case
folded, so that ``Café``, ``CAFE`` and ``café`` are one word for every engine.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from datetime import timedelta

from attrs import frozen

from videoplatform.domain.errors import ValidationError

MAX_QUERY_LENGTH = 200
"""Characters a query may hold, as sent."""

MAX_QUERY_WORDS = 16
"""Words (phrases' words and excluded ones included) a query may hold: beyond that the
query is a paragraph, not a search, and each word costs the engine a lookup."""

MAX_WORD_LENGTH = 64
"""Longer runs of letters are cut to this many: no title holds such a word, and an
engine's index need not be asked for one."""


_ASCII_WORD = re.compile("[a-z0-9]+")
"""A run of ASCII letters and digits once folded: what ``str.isalnum`` accepts there."""


def fold(text: str) -> str:
    """``text`` as words are compared: NFKC-compatible forms, diacritics removed
    (``é`` → ``e``, ``ß`` stays ``ss`` by case folding), case folded."""
    if text.isascii():  # nothing to decompose, and ASCII folds as it lowers
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped.casefold())


def words(text: str) -> list[str]:
    """The folded words of ``text``: runs of letters and digits (``str.isalnum``); every
    other character separates words."""
    folded = fold(text)
    if folded.isascii():  # the same runs, found by the regular expression engine
        return [w[:MAX_WORD_LENGTH] for w in _ASCII_WORD.findall(folded)]
    found: list[str] = []
    current: list[str] = []
    for char in folded:
        if char.isalnum():
            current.append(char)
        elif current:
            found.append("".join(current)[:MAX_WORD_LENGTH])
            current = []
    if current:
        found.append("".join(current)[:MAX_WORD_LENGTH])
    return found


def completes(title: str, finished: tuple[str, ...], last: str) -> bool:
    """Whether ``title`` completes a query being typed: it holds every ``finished``
    word and one that begins with ``last`` (folded words, not stemmed)."""
    held = words(title)
    return all(w in held for w in finished) and any(w.startswith(last) for w in held)


@frozen
class SearchTerms:
    """A parsed query: every word and phrase must match, no excluded word may."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def wanted(self) -> tuple[str, ...]:
        """Every word that must match, the phrases' included, each once."""
        seen = dict.fromkeys(self.words)
        for phrase in self.phrases:
            seen.update(dict.fromkeys(phrase))
        return tuple(seen)

    def text(self) -> str:
        """The query written back (for "did you mean" and analytics): words, then
        quoted phrases, then excluded words."""
        parts = [*self.words, *(f'"{" ".join(p)}"' for p in self.phrases)]
        parts += [f"-{word}" for word in self.excluded]
        return " ".join(parts)

    def replacing(self, corrections: dict[str, str]) -> SearchTerms:
        """These terms with some included words replaced (a correction of typos)."""

        def fix(word: str) -> str:
            return corrections.get(word, word)

        return SearchTerms(
            tuple(dict.fromkeys(fix(w) for w in self.words)),
            tuple(tuple(fix(w) for w in phrase) for phrase in self.phrases),
            self.excluded,
        )


def parse_query(raw: str, field: str = "q") -> SearchTerms:
    """The terms of ``raw``. ValidationError (on ``field``) when it is longer than
    :data:`MAX_QUERY_LENGTH` or holds no word at all (:func:`holds_a_word`). Words past
    the first :data:`MAX_QUERY_WORDS` are left out. A query of excluded words only
    parses, with nothing wanted: it matches nothing."""
    if len(raw) > MAX_QUERY_LENGTH:
        raise ValidationError.field(field, f"must be at most {MAX_QUERY_LENGTH} characters")
    if not any(holds_a_word(char) for char in raw):
        raise ValidationError.field(field, "must hold a letter or a digit")
    plain: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[str] = []
    rest = raw
    while rest:
        start = rest.find('"')
        end = rest.find('"', start + 1) if start >= 0 else -1
        if start < 0 or end < 0:  # no quote, or one left open: plain text
            _plain_or_excluded(rest, plain, excluded)
            break
        _plain_or_excluded(rest[:start], plain, excluded)
        phrase = tuple(words(rest[start + 1 : end]))
        if len(phrase) == 1:
            plain.extend(phrase)
        elif phrase:
            phrases.append(phrase)
        rest = rest[end + 1 :]
    budget = MAX_QUERY_WORDS
    kept_plain = list(dict.fromkeys(plain))[:budget]
    budget -= len(kept_plain)
    kept_phrases: list[tuple[str, ...]] = []
    for phrase in dict.fromkeys(phrases):
        if len(phrase) <= budget:
            kept_phrases.append(phrase)
            budget -= len(phrase)
    kept_excluded = [w for w in dict.fromkeys(excluded) if w not in kept_plain][: max(0, budget)]
    return SearchTerms(tuple(kept_plain), tuple(kept_phrases), tuple(kept_excluded))


def holds_a_word(char: str) -> bool:
    """Whether ``char`` is (or folds to) a letter or a digit: what a query must hold."""
    return any(c.isalnum() for c in fold(char))


def _plain_or_excluded(text: str, plain: list[str], excluded: list[str]) -> None:
    for chunk in text.split():
        if chunk.startswith("-") and len(chunk) > 1:
            excluded.extend(words(chunk[1:]))  # "-well-known": both words excluded
            continue
        plain.extend(words(chunk))


def typo_budget(word: str) -> int:
    """How many edits a word may be away from a word of the index and still be taken
    for it: none for short words (any 3-letter word is one edit from dozens), one from
    4 letters, two from 8."""
    if len(word) < 4 or not word.isalpha():
        return 0
    return 1 if len(word) < 8 else 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """The Damerau-Levenshtein distance (optimal string alignment: a swap of two
    neighbours is one edit) between ``a`` and ``b``, or ``limit + 1`` once it is known
    to be more than ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1] if previous[-1] <= limit else limit + 1


_SHORT_UNDER = 240.0
_MEDIUM_UNDER = 1200.0


class DurationBucket(enum.Enum):
    """Lengths a search can be narrowed to and counted by (as the large video sites
    split them): under 4 minutes, 4 to 20, over 20."""

    SHORT = "short"
    MEDIUM = "medium"
    LONG = "long"

    @property
    def seconds(self) -> tuple[float, float | None]:
        """[from, to) in seconds; None: no end."""
        return {
            DurationBucket.SHORT: (0.0, _SHORT_UNDER),
            DurationBucket.MEDIUM: (_SHORT_UNDER, _MEDIUM_UNDER),
            DurationBucket.LONG: (_MEDIUM_UNDER, None),
        }[self]

    @classmethod
    def of(cls, seconds: float) -> DurationBucket:
        if seconds < _SHORT_UNDER:
            return cls.SHORT
        return cls.MEDIUM if seconds < _MEDIUM_UNDER else cls.LONG


class UploadedBucket(enum.Enum):
    """How recently a video was uploaded: within the last hour, day, week, month (30
    days) or year (365 days). Each contains the shorter ones."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"

    @property
    def within(self) -> timedelta:
        return {
            UploadedBucket.HOUR: timedelta(hours=1),
            UploadedBucket.DAY: timedelta(days=1),
            UploadedBucket.WEEK: timedelta(days=7),
            UploadedBucket.MONTH: timedelta(days=30),
            UploadedBucket.YEAR: timedelta(days=365),
        }[self]


def file_match(terms: SearchTerms, name: str, folder: str) -> int | None:
    """How a file matches ``terms`` by its name and folder, None when it does not: 2
    when its name alone holds every wanted word and phrase, 1 when its folder is
    needed too. File names are not prose: a word matches the words it begins
    (``rep`` finds ``report.pdf``), a phrase consecutive words, the last of them by its
    start; an excluded word removes a file with a word it begins."""
    in_name, in_folder = words(name), words(folder)
    everywhere = in_folder + in_name
    if any(_begins(everywhere, word) for word in terms.excluded):
        return None
    if not all(_begins(everywhere, w) for w in terms.words):
        return None
    if not all(_runs(in_name, p) or _runs(in_folder, p) for p in terms.phrases):
        return None
    named = all(_begins(in_name, w) for w in terms.words) and all(
        _runs(in_name, p) for p in terms.phrases
    )
    return 2 if named else 1


def _begins(found: list[str], word: str) -> bool:
    return any(each.startswith(word) for each in found)


def _runs(found: list[str], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` is a run of ``found``: its words equal, its last one a start."""
    width = len(phrase)
    for i in range(len(found) - width + 1):
        window = found[i : i + width]
        if window[:-1] == list(phrase[:-1]) and window[-1].startswith(phrase[-1]):
            return True
    return False
