"""A judged relevance set for video search: a fixed corpus and queries with the answers a
person expects, for the contract tests (tests/contracts/test_search_relevance.py) and for
a ranking benchmark (:func:`ndcg_at_10`, :func:`mean_ndcg_at_10`).

The corpus is written to exercise ranking: titles that share words, a word in one
video's title and in another's tags or description only, English inflections (``run``,
``runs``, ``running``), diacritics (``Café`` and ``cafe``), phrases whose words also appear
apart elsewhere, words a typo or two away from each other, and videos that only their
owner may find (private and unlisted ones, of both users).

Every judged query says who asks (nobody, the owner ``u1`` or the other user ``u2``),
what must come first or fill the first places, which videos must not appear at all, and
for a misspelled query, the correction the service must show. ``grades`` is the graded
relevance of every video judged relevant (3: the video asked for; 2: as good an answer;
1: related), what NDCG is computed from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import Enum

from attrs import frozen

# -- the corpus ------------------------------------------------------------------------


@frozen
class CorpusUser:
    id: str
    display_name: str


@frozen
class CorpusVideo:
    id: str
    owner: str
    title: str
    description: str
    tags: tuple[str, ...]
    category: str
    visibility: str = "public"
    """``public``, ``unlisted`` or ``private`` (the values of the domain's Visibility)."""


OWNER = "u1"
OTHER = "u2"

USERS = (
    CorpusUser(OWNER, "Marta Quinn"),
    CorpusUser(OTHER, "Otto Berg"),
)

CATEGORIES = ("Cooking", "Sports", "Music", "Science", "Gardening", "Travel", "Technology")


def _v(
    video_id: str,
    title: str,
    description: str,
    tags: tuple[str, ...],
    category: str,
    *,
    owner: str = OWNER,
    visibility: str = "public",
) -> CorpusVideo:
    return CorpusVideo(video_id, owner, title, description, tags, category, visibility)


VIDEOS: tuple[CorpusVideo, ...] = (
    # Cooking
    _v(
        "v01",
        "Sourdough bread for beginners",
        "Feed the starter, fold the dough and bake in a hot oven.",
        ("baking", "bread"),
        "Cooking",
    ),
    _v(
        "v02",
        "Quick banana bread",
        "A loaf of banana bread in under an hour.",
        ("baking",),
        "Cooking",
    ),
    _v(
        "v03",
        "Fresh pasta from scratch",
        "Eggs, flour and a rolling pin: tagliatelle at home.",
        ("italian", "pasta"),
        "Cooking",
    ),
    _v(
        "v04",
        "Tomato sauce three ways",
        "A quick sauce for pasta, a slow ragù and a raw sauce.",
        ("italian",),
        "Cooking",
    ),
    _v(
        "v05",
        "Crème brûlée at home",
        "Custard under a burnt sugar crust; a blowtorch helps.",
        ("dessert", "french"),
        "Cooking",
    ),
    _v(
        "v06",
        "Burnt sugar desserts",
        "Caramel, toffee and the crust of a crème brûlée.",
        ("dessert",),
        "Cooking",
    ),
    _v(
        "v07",
        "Café culture in Lisbon",
        "Pastéis de nata and a bica at the corner café.",
        ("coffee", "portugal"),
        "Travel",
    ),
    _v(
        "v08",
        "Coffee brewing basics",
        "Pour-over, French press and espresso compared.",
        ("coffee",),
        "Cooking",
    ),
    _v(
        "v09",
        "Espresso machine repair",
        "Descaling the boiler and replacing a gasket.",
        ("repair", "coffee"),
        "Technology",
    ),
    _v(
        "v10",
        "Naïve bakery mistakes",
        "Proofing too long, cutting too soon and other lessons.",
        ("baking",),
        "Cooking",
    ),
    _v(
        "v11",
        "Jalapeño poppers",
        "Stuffed peppers with cheese, baked not fried.",
        ("snacks",),
        "Cooking",
    ),
    _v(
        "v12",
        "Crêpes for breakfast",
        "Thin pancakes with lemon and sugar.",
        ("breakfast", "french"),
        "Cooking",
    ),
    # Sports
    _v(
        "v13",
        "Running your first marathon",
        "A sixteen week plan from 5k to 42k.",
        ("running", "marathon"),
        "Sports",
    ),
    _v(
        "v14",
        "Trail runs in the Alps",
        "Three mountain routes with steep climbs.",
        ("trail",),
        "Sports",
    ),
    _v(
        "v15",
        "How to run faster",
        "Intervals, tempo and easy days.",
        ("training",),
        "Sports",
    ),
    _v(
        "v16",
        "Runner's knee explained",
        "Why the knee hurts after long runs and how to treat it.",
        ("injury", "health"),
        "Sports",
    ),
    _v(
        "v17",
        "Swimming technique drills",
        "Catch, pull and breathing for freestyle.",
        ("swimming",),
        "Sports",
    ),
    _v(
        "v18",
        "Cycling up mountain passes",
        "Gearing, pacing and descending safely.",
        ("cycling",),
        "Sports",
    ),
    # Music
    _v(
        "v19",
        "Guitar chords for beginners",
        "Open chords, strumming patterns and your first song.",
        ("guitar", "lessons"),
        "Music",
    ),
    _v(
        "v20",
        "Jazz guitar improvisation",
        "Scales, chords and arpeggios over a blues.",
        ("jazz", "guitar"),
        "Music",
    ),
    _v(
        "v21",
        "Blues piano in twelve bars",
        "Left hand shuffle and a simple turnaround.",
        ("blues", "piano"),
        "Music",
    ),
    _v(
        "v22",
        "Piano scales daily routine",
        "Major and minor scales with a metronome.",
        ("piano", "practice"),
        "Music",
    ),
    _v(
        "v23",
        "Violin bowing exercises",
        "Straight bows, string crossings and détaché.",
        ("violin",),
        "Music",
    ),
    _v(
        "v24",
        "Drum rudiments",
        "Paradiddles, flams and rolls at a slow tempo.",
        ("drums",),
        "Music",
    ),
    _v(
        "v25",
        "Beethoven piano sonata analysis",
        "The Moonlight sonata movement by movement.",
        ("classical", "piano"),
        "Music",
    ),
    # Science
    _v(
        "v26",
        "Black holes explained",
        "Event horizons, spaghettification and Hawking radiation.",
        ("space", "physics"),
        "Science",
    ),
    _v(
        "v27",
        "Holes in the ozone layer",
        "Why the ozone hole over Antarctica is closing.",
        ("climate",),
        "Science",
    ),
    _v(
        "v28",
        "The physics of black ice",
        "Why roads freeze clear, hide holes and make tyres lose grip.",
        ("physics", "winter"),
        "Science",
    ),
    _v(
        "v29",
        "Quantum entanglement for everyone",
        "Bell tests without the maths.",
        ("physics", "quantum"),
        "Science",
    ),
    _v(
        "v30",
        "Photosynthesis in ten minutes",
        "Light reactions and the Calvin cycle.",
        ("biology",),
        "Science",
    ),
    # Gardening
    _v(
        "v31",
        "Growing tomatoes in pots",
        "Compost, watering and pinching out side shoots.",
        ("vegetables", "tomato"),
        "Gardening",
    ),
    _v(
        "v32",
        "Pruning roses in winter",
        "Cut just above an outward facing bud.",
        ("roses", "pruning"),
        "Gardening",
    ),
    _v(
        "v33",
        "Composting kitchen scraps",
        "Greens, browns and turning the heap.",
        ("compost",),
        "Gardening",
    ),
    _v(
        "v34",
        "Tomato blight and how to stop it",
        "Spotting blight early on tomatoes and potatoes.",
        ("disease", "tomato"),
        "Gardening",
    ),
    _v(
        "v35",
        "Raised bed garden tour",
        "Six raised beds of vegetables and herbs.",
        ("tour",),
        "Gardening",
    ),
    # Travel
    _v(
        "v36",
        "Hiking the Camino de Santiago",
        "Eight hundred kilometres from the Pyrenees to Galicia.",
        ("hiking", "spain"),
        "Travel",
    ),
    _v(
        "v37",
        "Kyoto temples in autumn",
        "Maple leaves, moss gardens and quiet mornings.",
        ("japan",),
        "Travel",
    ),
    _v(
        "v38",
        "Reykjavík on a budget",
        "Hot dogs, thermal pools and the Golden Circle.",
        ("iceland",),
        "Travel",
    ),
    _v(
        "v39",
        "Zürich old town walk",
        "Lakeside, Lindenhof and the Grossmünster.",
        ("switzerland",),
        "Travel",
    ),
    _v(
        "v40",
        "São Paulo street food",
        "Pastel, coxinha and açaí bowls.",
        ("brazil", "food"),
        "Travel",
    ),
    # Technology
    _v(
        "v41",
        "Python decorators explained",
        "Functions that wrap functions, with examples.",
        ("python", "programming"),
        "Technology",
    ),
    _v(
        "v42",
        "Python generators and iterators",
        "Lazy sequences with yield.",
        ("python", "programming"),
        "Technology",
    ),
    _v(
        "v43",
        "Build a mechanical keyboard",
        "Switches, keycaps and soldering the plate.",
        ("keyboard", "diy"),
        "Technology",
    ),
    _v(
        "v44",
        "Raspberry Pi home server",
        "Docker, backups and a quiet fan.",
        ("raspberry", "linux"),
        "Technology",
    ),
    _v(
        "v45",
        "Linux command line basics",
        "Files, pipes and permissions.",
        ("linux",),
        "Technology",
    ),
    _v(
        "v46",
        "Soldering for beginners",
        "Tinning the iron and clean joints.",
        ("electronics", "diy"),
        "Technology",
    ),
    # Only their owner may find these.
    _v(
        "v47",
        "Family holiday in Kyoto",
        "Our trip to the temples, not for sharing.",
        ("family",),
        "Travel",
        visibility="private",
    ),
    _v(
        "v48",
        "Secret sourdough starter recipe",
        "Rye flour, water and patience.",
        ("bread",),
        "Cooking",
        visibility="private",
    ),
    _v(
        "v49",
        "Guitar chords cheat sheet",
        "Every open chord on one page.",
        ("guitar",),
        "Music",
        visibility="unlisted",
    ),
    _v(
        "v50",
        "Draft marathon vlog",
        "Raw footage from the race, not edited yet.",
        ("running",),
        "Sports",
        owner=OTHER,
        visibility="private",
    ),
    # The other user's public videos.
    _v(
        "v51",
        "Sourdough pizza night",
        "Neapolitan style dough, cold fermented.",
        ("pizza", "baking"),
        "Cooking",
        owner=OTHER,
    ),
    _v(
        "v52",
        "Marathon recovery week",
        "Sleep, food and easy jogs after race day.",
        ("recovery",),
        "Sports",
        owner=OTHER,
    ),
    _v(
        "v53",
        "Piano for adults",
        "It is never too late to start.",
        ("piano",),
        "Music",
        owner=OTHER,
    ),
    _v(
        "v54",
        "Ukulele strumming patterns",
        "Four chords, endless songs.",
        ("ukulele",),
        "Music",
        owner=OTHER,
    ),
    _v(
        "v55",
        "Kayaking sea caves",
        "Paddling technique and tides.",
        ("kayak", "sea"),
        "Sports",
        owner=OTHER,
    ),
    _v(
        "v56",
        "Sushi rice done right",
        "Washing, soaking and seasoning the rice.",
        ("japanese", "rice"),
        "Cooking",
        owner=OTHER,
    ),
    _v(
        "v57",
        "Spaghetti carbonara",
        "Guanciale, egg yolks and pecorino; no cream.",
        ("italian", "pasta"),
        "Cooking",
        owner=OTHER,
    ),
    # A few more of the owner's.
    _v(
        "v58",
        "Bread crust science",
        "Maillard reactions and steam in the oven.",
        ("bread", "science"),
        "Science",
    ),
    _v(
        "v59",
        "Autumn leaves time-lapse",
        "Maple trees change colour over six weeks.",
        ("nature",),
        "Science",
    ),
    _v(
        "v60",
        "Home espresso on a budget",
        "A hand grinder, a lever machine and fresh beans.",
        ("coffee",),
        "Cooking",
    ),
)


# -- the judged queries ----------------------------------------------------------------


class Kind(Enum):
    PLAIN = "plain"
    MULTIWORD = "multiword"
    INFLECTION = "inflection"
    DIACRITICS = "diacritics"
    TYPO = "typo"
    PHRASE = "phrase"
    EXCLUSION = "exclusion"
    PRIVATE_HIDDEN = "private-hidden"
    """Who may find a private or unlisted video: never another user nor anonymous; its
    owner does."""
    TAG = "tag"
    DESCRIPTION = "description"


@frozen
class Judged:
    """A query and what a person asking it expects.

    ``top``: the first result (None: nothing may come back at all). ``top_k``: the first
    ``len(top_k)`` results, in any order. ``only``: every result, in any order (the whole
    match set is pinned). ``absent``: videos that must not appear anywhere in the
    results. ``corrected``: for a misspelled query, the query the service answers
    instead (and the query as asked comes back as ``corrected_from``); None: the query
    is answered as asked."""

    query: str
    asker: str | None
    kind: Kind
    grades: Mapping[str, int]
    top: str | None = None
    top_k: tuple[str, ...] = ()
    only: frozenset[str] | None = None
    absent: tuple[str, ...] = ()
    corrected: str | None = None

    @property
    def name(self) -> str:
        """A readable test id: the kind, the asker and the query."""
        return f"{self.kind.value}:{self.asker or 'anonymous'}:{self.query}"


def _q(
    query: str,
    kind: Kind,
    grades: Mapping[str, int],
    *,
    asker: str | None = None,
    top: str | None = None,
    top_k: Sequence[str] = (),
    only: Sequence[str] | None = None,
    absent: Sequence[str] = (),
    corrected: str | None = None,
) -> Judged:
    return Judged(
        query,
        asker,
        kind,
        dict(grades),
        top,
        tuple(top_k),
        frozenset(only) if only is not None else None,
        tuple(absent),
        corrected,
    )


QUERIES: tuple[Judged, ...] = (
    # plain: one word, found in a title; a title match ranks above other fields.
    _q(
        "espresso",
        Kind.PLAIN,
        {"v09": 3, "v60": 3, "v08": 1},
        top_k=("v09", "v60"),
        only=("v09", "v60", "v08"),
    ),
    _q("beethoven", Kind.PLAIN, {"v25": 3}, top="v25", only=("v25",)),
    _q("marathon", Kind.PLAIN, {"v13": 3, "v52": 2}, top="v13", only=("v13", "v52")),
    _q("kayaking", Kind.PLAIN, {"v55": 3}, top="v55", only=("v55",)),
    _q("pizza", Kind.PLAIN, {"v51": 3}, top="v51", only=("v51",)),
    # multiword: every word must match; the video holding them all in its title first.
    _q("sourdough pizza", Kind.MULTIWORD, {"v51": 3}, top="v51", only=("v51",)),
    _q("python generators", Kind.MULTIWORD, {"v42": 3}, top="v42", only=("v42",)),
    _q("mountain cycling", Kind.MULTIWORD, {"v18": 3}, top="v18", only=("v18",)),
    _q("kyoto temples", Kind.MULTIWORD, {"v37": 3}, top="v37", only=("v37",)),
    _q(
        "guitar chords",
        Kind.MULTIWORD,
        {"v19": 3, "v20": 2},
        top="v19",
        only=("v19", "v20"),
    ),
    # inflection: another form of the word finds the title.
    _q("marathons", Kind.INFLECTION, {"v13": 3, "v52": 2}, top="v13", only=("v13", "v52")),
    _q("swim", Kind.INFLECTION, {"v17": 3}, top="v17", only=("v17",)),
    _q("pruned", Kind.INFLECTION, {"v32": 3}, top="v32", only=("v32",)),
    _q("decorator", Kind.INFLECTION, {"v41": 3}, top="v41", only=("v41",)),
    _q("composted", Kind.INFLECTION, {"v33": 3, "v31": 1}, top="v33", only=("v33", "v31")),
    _q(
        "tomatoes",
        Kind.INFLECTION,
        {"v31": 3, "v34": 3, "v04": 2},
        top_k=("v31", "v34", "v04"),
        only=("v31", "v34", "v04"),
    ),
    _q(
        "runs",
        Kind.INFLECTION,
        {"v13": 3, "v14": 3, "v15": 3, "v16": 1},
        top="v13",
        only=("v13", "v14", "v15", "v16"),
    ),
    # diacritics: folded both ways.
    _q("cafe lisbon", Kind.DIACRITICS, {"v07": 3}, top="v07", only=("v07",)),
    _q("creme brulee", Kind.DIACRITICS, {"v05": 3, "v06": 2}, top="v05", only=("v05", "v06")),
    _q("jalapeno", Kind.DIACRITICS, {"v11": 3}, top="v11", only=("v11",)),
    _q("reykjavik", Kind.DIACRITICS, {"v38": 3}, top="v38", only=("v38",)),
    _q("ZURICH", Kind.DIACRITICS, {"v39": 3}, top="v39", only=("v39",)),
    _q("sao paulo", Kind.DIACRITICS, {"v40": 3}, top="v40", only=("v40",)),
    _q("naive", Kind.DIACRITICS, {"v10": 3}, top="v10", only=("v10",)),
    _q("crêpes", Kind.DIACRITICS, {"v12": 3}, top="v12", only=("v12",)),
    # typo: one edit from 4 letters, two from 8 (a swap of neighbours is one); the
    # query finds nothing as typed and the service answers its correction.
    _q(
        "sourdugh bread",
        Kind.TYPO,
        {"v01": 3},
        top="v01",
        corrected="sourdough bread",
    ),
    _q("jazz guitr", Kind.TYPO, {"v20": 3}, top="v20", corrected="jazz guitar"),
    _q("photosintesis", Kind.TYPO, {"v30": 3}, top="v30", corrected="photosynthesis"),
    _q(
        "quantum entanglemnet",
        Kind.TYPO,
        {"v29": 3},
        top="v29",
        corrected="quantum entanglement",
    ),
    _q("raspbery pi", Kind.TYPO, {"v44": 3}, top="v44", corrected="raspberry pi"),
    _q(
        "mechanicla keyboard",
        Kind.TYPO,
        {"v43": 3},
        top="v43",
        corrected="mechanical keyboard",
    ),
    _q("violn bowing", Kind.TYPO, {"v23": 3}, top="v23", corrected="violin bowing"),
    _q("kayakign", Kind.TYPO, {"v55": 3}, top="v55", corrected="kayaking"),
    _q(
        "spagetification",
        Kind.TYPO,
        {"v26": 3},
        top="v26",
        corrected="spaghettification",
    ),
    _q("soldring", Kind.TYPO, {"v46": 3, "v43": 1}, top="v46", corrected="soldering"),
    # phrase: the words next to each other, in order, not merely all present.
    _q('"guitar chords"', Kind.PHRASE, {"v19": 3}, top="v19", only=("v19",)),
    _q('"black holes"', Kind.PHRASE, {"v26": 3}, top="v26", only=("v26",)),
    _q('"blues piano"', Kind.PHRASE, {"v21": 3}, top="v21", only=("v21",)),
    _q('"burnt sugar" dessert', Kind.PHRASE, {"v06": 3, "v05": 2}, top="v06", only=("v06", "v05")),
    # exclusion: a -word removes every video that holds it (in any form).
    _q("python -decorators", Kind.EXCLUSION, {"v42": 3}, top="v42", only=("v42",)),
    # An excluded word must not flatten the ranking of what is left.
    _q(
        "baking -banana -pizza",
        Kind.EXCLUSION,
        {"v01": 3, "v10": 3, "v11": 1},
        top_k=("v01", "v10"),
        only=("v01", "v10", "v11"),
    ),
    # Every word counts, short common ones included: no stopwords.
    _q(
        "how to run",
        Kind.MULTIWORD,
        {"v15": 3, "v16": 3},
        top_k=("v15", "v16"),
        only=("v15", "v16"),
    ),
    # A phrase stays within one field: the end of a title and the first tag are not one.
    _q('"beginners guitar"', Kind.PHRASE, {}, top=None, only=()),
    # An edit in the middle of a short word (no trigram in common with the right one).
    _q("pinao scales", Kind.TYPO, {"v22": 3}, top="v22", corrected="piano scales"),
    _q("physics -quantum", Kind.EXCLUSION, {"v28": 3, "v26": 2}, top="v28", only=("v28", "v26")),
    _q("linux -docker", Kind.EXCLUSION, {"v45": 3}, top="v45", only=("v45",)),
    _q("guitar -jazz", Kind.EXCLUSION, {"v19": 3}, top="v19", only=("v19",), absent=("v20",)),
    _q("coffee -espresso", Kind.EXCLUSION, {"v07": 3}, top="v07", only=("v07",)),
    # private-hidden: private and unlisted videos reach their owner only.
    _q("kyoto", Kind.PRIVATE_HIDDEN, {"v37": 3}, top="v37", only=("v37",), absent=("v47",)),
    _q(
        "kyoto",
        Kind.PRIVATE_HIDDEN,
        {"v47": 3, "v37": 3},
        asker=OWNER,
        top_k=("v47", "v37"),
        only=("v47", "v37"),
    ),
    _q(
        "sourdough",
        Kind.PRIVATE_HIDDEN,
        {"v01": 3, "v51": 3},
        asker=OTHER,
        top_k=("v01", "v51"),
        only=("v01", "v51"),
        absent=("v48",),
    ),
    _q("secret recipe", Kind.PRIVATE_HIDDEN, {}, asker=OTHER, only=(), absent=("v48",)),
    _q(
        "family holiday",
        Kind.PRIVATE_HIDDEN,
        {"v47": 3},
        asker=OWNER,
        top="v47",
        only=("v47",),
    ),
    _q(
        "marathon",
        Kind.PRIVATE_HIDDEN,
        {"v13": 3, "v52": 2},
        asker=OWNER,
        top="v13",
        only=("v13", "v52"),
        absent=("v50",),
    ),
    _q(
        "marathon vlog",
        Kind.PRIVATE_HIDDEN,
        {"v50": 3},
        asker=OTHER,
        top="v50",
        only=("v50",),
    ),
    _q(
        "guitar chords",
        Kind.PRIVATE_HIDDEN,
        {"v19": 3, "v20": 2},
        asker=OTHER,
        top="v19",
        only=("v19", "v20"),
        absent=("v49",),
    ),
    # tag: a word that only tags hold; tags rank above the description.
    _q("italian", Kind.TAG, {"v03": 3, "v04": 3, "v57": 3}, only=("v03", "v04", "v57")),
    _q("diy", Kind.TAG, {"v43": 3, "v46": 3}, only=("v43", "v46")),
    _q("iceland", Kind.TAG, {"v38": 3}, top="v38", only=("v38",)),
    _q("vegetables", Kind.TAG, {"v31": 3, "v35": 2}, top="v31", only=("v31", "v35")),
    # description: a word that only descriptions hold.
    _q("spaghettification", Kind.DESCRIPTION, {"v26": 3}, top="v26", only=("v26",)),
    _q("paradiddles", Kind.DESCRIPTION, {"v24": 3}, top="v24", only=("v24",)),
    _q("guanciale", Kind.DESCRIPTION, {"v57": 3}, top="v57", only=("v57",)),
    _q("maple", Kind.DESCRIPTION, {"v37": 3, "v59": 3}, only=("v37", "v59")),
)


# -- scoring ---------------------------------------------------------------------------


def _dcg(gains: Sequence[int]) -> float:
    """Discounted cumulative gain of graded gains in rank order: ``(2**g - 1)`` at rank
    ``i`` (from 1) discounted by ``log2(i + 1)``."""
    return sum((2.0**grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(gains, 1))


def ndcg_at_10(ranked_ids: Sequence[str], relevant_ids_with_grades: Mapping[str, int]) -> float:
    """NDCG@10 of a ranking: the DCG of its first ten results (graded gains
    ``2**grade - 1``, unjudged videos 0) over the DCG of the ideal ranking of the judged
    videos. 0.0 when no video is judged relevant (nothing to find, so nothing found)."""
    ideal = _dcg(sorted((g for g in relevant_ids_with_grades.values() if g > 0), reverse=True)[:10])
    if ideal == 0:
        return 0.0
    gains = [relevant_ids_with_grades.get(video_id, 0) for video_id in ranked_ids[:10]]
    return _dcg(gains) / ideal


def mean_ndcg_at_10(rankings: Sequence[tuple[Judged, Sequence[str]]]) -> float:
    """The mean NDCG@10 over the judged queries (each with the ids it found, best first)
    that have a relevant video: a query that must find nothing is checked by its
    expectations, not scored."""
    scored = [ndcg_at_10(ranked, judged.grades) for judged, ranked in rankings if judged.grades]
    return sum(scored) / len(scored)
