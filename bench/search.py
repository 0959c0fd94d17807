"""Search at scale: PostgreSQL with 1,000,000 generated videos and SQLite with 100,000,
searched through the application service (``platform.search``), as the API does.

The corpus: titles and descriptions drawn from a generated vocabulary with Zipf
frequencies (the most common word about a tenth of all words, as in English), tags and
categories, owners with display names, mixed visibility and state. Queries: 1-3 words
drawn by the same frequencies, leaving out the :data:`STOPWORDS` most common words (the
function words a stopword list would hold; "the" alone is not a query people run, and
the index keeps them, so a phrase with one still matches).

For each engine it reports p50/p95 of a ranked query with facets (first page), a typo'd
query (one edit in a word of a title: corrected to what it meant), and suggest (prefix
completions); beside each, a plain ``LIKE``/``ILIKE`` scan of the same words in the
same run, and the ratio; the index's build time (``videoplatform search reindex``);
write throughput with and without the index kept current; and NDCG@10 over the judged
set of the relevance tests (:mod:`bench.search_judged`).
"""

from __future__ import annotations

import itertools
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from bench.databases import percentiles, postgres
from bench.search_judged import CATEGORIES as JUDGED_CATEGORIES
from bench.search_judged import QUERIES, USERS, VIDEOS, mean_ndcg_at_10
from videoplatform.adapters.sql import migrate, tables
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.search import SearchVideos, index_video
from videoplatform.domain.ids import UserId, VideoId
from videoplatform.domain.videos import Video, VideoStatus, Visibility
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.settings import Settings

VOCABULARY = 30_000
TAG_WORDS = 2_000
OWNERS = 5_000
STOPWORDS = 50
CATEGORIES = (
    "Music",
    "Gaming",
    "Education",
    "Science",
    "Travel",
    "Cooking",
    "Sports",
    "News",
    "Comedy",
    "Film",
    "Technology",
    "Nature",
)
GOALS_MS = {"ranked": 50.0, "typo": 100.0, "suggest": 10.0}
"""p95 goals, the same for PostgreSQL at 1,000,000 and SQLite at 100,000."""

_ONSETS = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z"]
_ONSETS += ["br", "cr", "dr", "gr", "pl", "st", "tr", "sh", "ch", "th", "fl", "sk"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "y"]
_CODAS = ["", "", "", "n", "r", "s", "l", "m", "t", "nd", "st", "ck", "ng"]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """``size`` distinct made-up words, shortest (most common) first, as in a language."""
    words: set[str] = set()
    made: list[str] = []
    syllables = 1
    while len(made) < size:
        for _ in range(size * 2):
            word = "".join(
                rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                for _ in range(syllables)
            )
            if 2 <= len(word) <= 14 and word not in words:
                words.add(word)
                made.append(word)
                if len(made) == size:
                    break
            if len(made) >= min(size, 400 * 6**syllables):
                break
        syllables += 1
    return made


class Zipf:
    """Draws from ranked items with weights 1/rank (Zipf's law, exponent 1)."""

    def __init__(self, items: list[str], rng: random.Random, skip: int = 0) -> None:
        self.items = items
        self._rng = rng
        self._cumulative = list(
            itertools.accumulate(1.0 / rank for rank in range(1, len(items) + 1))
        )
        self._low = self._cumulative[skip - 1] if skip else 0.0

    def draw(self, k: int) -> list[str]:
        top = self._cumulative[-1]
        picks = [self._low + self._rng.random() * (top - self._low) for _ in range(k)]
        return [self.items[_bisect(self._cumulative, p)] for p in picks]


def _bisect(values: list[float], x: float) -> int:
    from bisect import bisect_left

    return min(bisect_left(values, x), len(values) - 1)


# -- the corpus ------------------------------------------------------------------------


def _seed(engine: Engine, count: int, words: Zipf, tags: Zipf, rng: random.Random) -> None:
    """``count`` videos of :data:`OWNERS` owners: 80 % public, 10 % unlisted, 10 %
    private; 95 % ready; created over three years."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    first = vocabulary(400, random.Random(3))
    users = [
        _user_row(f"u{n:06d}", f"{rng.choice(first).title()} {rng.choice(first).title()}", start)
        for n in range(OWNERS)
    ]
    categories: list[dict[str, Any]] = [
        {"id": f"c{n:02d}", "name": name, "slug": name.lower(), "created_at": start, "version": 1}
        for n, name in enumerate(CATEGORIES)
    ]
    with engine.begin() as conn:
        conn.execute(insert(tables.users), users)
        conn.execute(insert(tables.categories), categories)
    span = 3 * 365 * 86400
    batch, tagged = [], []
    for n in range(count):
        video_id = f"v{n:09d}"
        title = " ".join(words.draw(rng.randint(3, 8))).capitalize()
        description = " ".join(words.draw(rng.randint(15, 40))).capitalize() + "."
        video_tags = sorted(set(tags.draw(rng.randint(0, 5))))
        roll = rng.random()
        visibility = "public" if roll < 0.8 else ("unlisted" if roll < 0.9 else "private")
        ready = rng.random() < 0.95
        when = start + timedelta(seconds=rng.randrange(span))
        batch.append(
            _video_row(
                video_id,
                users[int(rng.paretovariate(1.2)) % OWNERS]["id"],
                title[:200],
                description,
                categories[rng.randrange(len(categories))]["id"] if rng.random() < 0.85 else None,
                video_tags,
                visibility,
                when,
                duration=round(rng.lognormvariate(5.5, 1.0), 1) if ready else None,
                views=int(rng.paretovariate(0.8)) % 10_000_000,
            )
        )
        tagged += [{"video_id": video_id, "tag": tag} for tag in video_tags]
        if len(batch) == 5000:
            _write(engine, batch, tagged)
            batch, tagged = [], []
    if batch:
        _write(engine, batch, tagged)


def _user_row(user_id: str, display_name: str, at: datetime) -> dict[str, Any]:
    """A creator's row (no password can log in: the benchmark signs nobody in)."""
    return {
        "id": user_id,
        "email": f"{user_id}@example.com",
        "display_name": display_name,
        "password_hash": "x",
        "roles": "creator",
        "status": "active",
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }


def _write(engine: Engine, videos: list[dict[str, Any]], tagged: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(tables.videos), videos)
        if tagged:
            conn.execute(insert(tables.video_tags), tagged)


# -- measuring -------------------------------------------------------------------------


def _time(
    calls: list[Callable[[], object]], warm: list[Callable[[], object]] | None = None
) -> dict[str, float]:
    """Percentiles of ``calls``, timed one by one after ``warm`` (other calls of the
    same kind: they warm the caches and pools, not these calls' own pages) ran."""
    for call in warm if warm is not None else calls[: min(10, len(calls))]:
        call()
    taken = []
    for call in calls:
        start = time.perf_counter()
        call()
        taken.append(time.perf_counter() - start)
    return percentiles(taken)


def _like(engine: Engine, words: list[str], order: str, limit: int) -> Callable[[], object]:
    """What search would be without an index: every word somewhere in the title or the
    description (case ignored), among public ready videos, one page."""
    postgres = engine.dialect.name == "postgresql"
    operator = "ILIKE" if postgres else "LIKE"  # SQLite's LIKE ignores ASCII case
    clauses = " AND ".join(
        f"(title {operator} :w{i} OR description {operator} :w{i})" for i in range(len(words))
    )
    statement = text(
        "SELECT id, title FROM videos WHERE visibility = 'public' AND status = 'ready'"
        f" AND NOT owner_disabled AND {clauses} ORDER BY {order} LIMIT {limit}"
    )
    params = {f"w{i}": f"%{w}%" for i, w in enumerate(words)}

    def call() -> object:
        with engine.connect() as conn:
            return conn.execute(statement, params).fetchall()

    return call


def _suggest_like(engine: Engine, prefix: str) -> Callable[[], object]:
    operator = "ILIKE" if engine.dialect.name == "postgresql" else "LIKE"
    statement = text(
        "SELECT title FROM videos WHERE visibility = 'public' AND status = 'ready'"
        f" AND NOT owner_disabled AND (title {operator} :start OR title {operator} :inside)"
        " ORDER BY view_count DESC LIMIT 8"
    )

    def call() -> object:
        with engine.connect() as conn:
            return conn.execute(statement, {"start": f"{prefix}%", "inside": f"% {prefix}%"}).all()

    return call


def _typo(word: str, rng: random.Random) -> str:
    """One edit in ``word`` (a swap, a substitution, a dropped or doubled letter) after its
    first letter."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        other = rng.choice([c for c in "aeioustrnl" if c != word[i]])
        return word[:i] + other + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _queries(
    engine: Engine, words: Zipf, rng: random.Random, samples: int, part: int = 0
) -> dict[str, Any]:
    """Ranked queries (1-3 words), typo'd title words and suggest prefixes (of the
    ``part``-th slice of public titles)."""
    ranked = [" ".join(words.draw(rng.choice((1, 1, 2, 2, 3)))) for _ in range(samples)]
    with engine.connect() as conn:
        titles = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT title FROM videos WHERE visibility = 'public' AND status = 'ready'"
                    " ORDER BY id LIMIT :n OFFSET :skip"
                ),
                {"n": samples * 20, "skip": samples * 20 * part},
            )
        ]
    typos: list[str] = []
    prefixes: list[str] = []
    for title in titles:
        long_words = [w for w in title.lower().split() if len(w) >= 6]
        if long_words and len(typos) < samples:
            typos.append(_typo(rng.choice(long_words), rng))
        first = title.lower().split()
        if len(prefixes) < samples * 2 and len(first) >= 2 and len(first[1]) >= 3:
            cut = rng.randint(2, len(first[1]))
            prefixes.append(
                first[1][:cut] if rng.random() < 0.5 else f"{first[0]} {first[1][:cut]}"
            )
    return {"ranked": ranked, "typo": typos, "suggest": prefixes}


def _writes(engine: Engine, count: int, indexed: bool, prefix: str) -> float:
    """Videos written per second, each in its own transaction, and (``indexed``) its
    document in another, as the ``search.index`` handler writes it after the commit."""
    factory = SqlUnitOfWorkFactory(engine)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    rng = random.Random(17)
    started = time.perf_counter()
    for n in range(count):
        video_id = VideoId(f"{prefix}{n:06d}")
        video = Video(
            id=video_id,
            owner_id=UserId("u000001"),
            title=f"Written video {n} {rng.choice(['river', 'forest', 'harbour'])}",
            description="A description of the written video with a handful of words in it.",
            tags=("written",),
            visibility=Visibility.PUBLIC,
            status=VideoStatus.READY,
            source_key=f"videos/{video_id}/source",
            created_at=now,
            updated_at=now,
        )
        with factory() as uow:
            uow.videos.add(video)
            uow.commit()
        if indexed:
            index_video(factory, video_id)
    return count / (time.perf_counter() - started)


def _judged_ndcg(engine: Engine, settings: Settings) -> float:
    """Mean NDCG@10 of the judged set (:mod:`bench.search_judged`), each query asked by
    its own asker, on a database holding the judged corpus alone."""
    migrate.upgrade(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    category_ids = {name: f"c{n:02d}" for n, name in enumerate(JUDGED_CATEGORIES)}
    with engine.begin() as conn:
        conn.execute(
            insert(tables.users),
            [_user_row(u.id, u.display_name, start) for u in USERS],
        )
        conn.execute(
            insert(tables.categories),
            [
                {"id": c, "name": name, "slug": name.lower(), "created_at": start, "version": 1}
                for name, c in category_ids.items()
            ],
        )
    rows = [
        _video_row(
            v.id,
            v.owner,
            v.title,
            v.description,
            category_ids[v.category],
            list(v.tags),
            v.visibility,
            start + timedelta(minutes=n),
        )
        for n, v in enumerate(VIDEOS)
    ]
    _write(engine, rows, [{"video_id": v.id, "tag": t} for v in VIDEOS for t in v.tags])
    with create_platform(settings) as platform:
        platform.search.reindex()
        rankings = []
        for judged in QUERIES:
            caller = Caller(UserId(judged.asker)) if judged.asker else Caller.anonymous()
            found = platform.search.videos(caller, SearchVideos(judged.query), limit=100)
            rankings.append((judged, [r.video.id for r in found.results]))
    return mean_ndcg_at_10(rankings)


def _video_row(
    video_id: str,
    owner_id: str,
    title: str,
    description: str,
    category_id: str | None,
    tags: list[str],
    visibility: str,
    when: datetime,
    *,
    duration: float | None = 300.0,
    views: int = 0,
) -> dict[str, Any]:
    return {
        "id": video_id,
        "owner_id": owner_id,
        "title": title,
        "description": description,
        "category_id": category_id,
        "tags": tags,
        "visibility": visibility,
        "status": "ready" if duration is not None else "processing",
        "source_key": f"videos/{video_id}/source",
        "source_size": 1,
        "source_sha256": "0" * 64,
        "media_info": None
        if duration is None
        else {
            "duration_seconds": duration,
            "width": 1920,
            "height": 1080,
            "video_codec": "h264",
            "audio_codec": "aac",
            "fps": 30.0,
            "bitrate": 4_000_000,
            "rotation": 0,
            "container": "mp4",
            "audio_channels": 2,
            "subtitle_languages": [],
        },
        "renditions": [],
        "progress": 100 if duration is not None else 40,
        "view_count": views,
        "processing_attempts": 1,
        "created_at": when,
        "updated_at": when,
        "version": 1,
    }


def _measure(
    label: str, engine: Engine, settings: Settings, videos: int, samples: int, like_samples: int
) -> dict[str, Any]:
    rng = random.Random(5)
    words = Zipf(vocabulary(VOCABULARY, random.Random(1)), rng)
    tags = Zipf(vocabulary(TAG_WORDS, random.Random(2)), rng)
    migrate.upgrade(engine)
    started = time.perf_counter()
    _seed(engine, videos, words, tags, rng)
    seeded = time.perf_counter() - started
    result: dict[str, Any] = {"videos": videos, "seed_s": round(seeded, 1)}
    print(f"{label}: {videos:,} videos seeded in {seeded:.0f} s; indexing", flush=True)
    with create_platform(settings) as platform:
        started = time.perf_counter()
        indexed = platform.search.reindex(_progress(label))
        result["build_s"] = round(time.perf_counter() - started, 1)
        result["build_per_s"] = round(indexed / result["build_s"])
        print(flush=True)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        query_words = Zipf(words.items, random.Random(9), skip=STOPWORDS)
        queries = _queries(engine, query_words, random.Random(11), samples)
        warming = _queries(engine, query_words, random.Random(13), samples, part=1)
        anonymous = Caller.anonymous()
        search = platform.search

        def searching(query: str) -> Callable[[], object]:
            return lambda: search.videos(anonymous, SearchVideos(query))

        def suggesting(typed: str) -> Callable[[], object]:
            return lambda: search.suggest(anonymous, typed)

        for kind, making in (("ranked", searching), ("typo", searching), ("suggest", suggesting)):
            result[kind] = _time(
                [making(q) for q in queries[kind]], [making(q) for q in warming[kind]]
            )
        fixed = sum(
            1
            for q in queries["typo"][:50]
            if search.videos(anonymous, SearchVideos(q)).corrected_from is not None
        )
        result["typo_corrected"] = fixed / min(50, len(queries["typo"]))
        result["ranked_like"] = _time(
            [
                _like(engine, q.split(), "created_at DESC", 20)
                for q in queries["ranked"][:like_samples]
            ]
        )
        result["typo_like"] = _time(
            [_like(engine, [q], "created_at DESC", 20) for q in queries["typo"][:like_samples]]
        )
        result["suggest_like"] = _time(
            [_suggest_like(engine, q) for q in queries["suggest"][:like_samples]]
        )
    writes = 300
    result["writes_per_s"] = round(_writes(engine, writes, False, "w"))
    result["writes_indexed_per_s"] = round(_writes(engine, writes, True, "x"))
    return result


def _progress(label: str) -> Callable[[int, int], None]:
    shown = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - shown[0] > 5 or done == total:
            shown[0] = now
            print(f"\r{label}: indexed {done:,}/{total:,}", end="", flush=True)

    return report


def run(
    *, postgres_videos: int, sqlite_videos: int, samples: int, like_samples: int
) -> dict[str, Any]:
    """Each engine whose corpus is not 0 videos."""
    report: dict[str, Any] = {"samples": samples, "like_samples": like_samples, "engines": {}}
    if sqlite_videos:
        with tempfile.TemporaryDirectory() as folder, _sqlite_at(Path(folder)) as (engine, url):
            settings = _settings(Path(folder), url)
            report["engines"]["sqlite"] = _measure(
                "sqlite", engine, settings, sqlite_videos, samples, like_samples
            )
        with tempfile.TemporaryDirectory() as folder, _sqlite_at(Path(folder)) as (engine, url):
            settings = _settings(Path(folder), url)
            report["engines"]["sqlite"]["ndcg_at_10"] = _judged_ndcg(engine, settings)
    if postgres_videos:
        with tempfile.TemporaryDirectory() as folder, postgres() as engine:
            url = engine.url.render_as_string(hide_password=False)
            settings = _settings(Path(folder), url)
            report["engines"]["postgresql"] = _measure(
                "postgresql", engine, settings, postgres_videos, samples, like_samples
            )
        with tempfile.TemporaryDirectory() as folder, postgres() as engine:
            url = engine.url.render_as_string(hide_password=False)
            settings = _settings(Path(folder), url)
            report["engines"]["postgresql"]["ndcg_at_10"] = _judged_ndcg(engine, settings)
    _print(report)
    return report


def _settings(folder: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=str(folder / "data"),
        database_url=database_url,
        playback_secret=secrets.token_urlsafe(48),
    )


@contextmanager
def _sqlite_at(folder: Path) -> Iterator[tuple[Engine, str]]:
    url = f"sqlite:///{folder / 'search.db'}"
    engine = create_database_engine(url)
    try:
        yield engine, url
    finally:
        engine.dispose()


def _print(report: dict[str, Any]) -> None:
    print(
        f"\nSearch, through platform.search ({report['samples']} queries each; LIKE scans: "
        f"{report['like_samples']}), ms"
    )
    header = (
        f"{'engine':<11} {'videos':>9} {'measure':<8} {'p50':>8} {'p95':>8} {'goal p95':>9}"
        f" {'LIKE p50':>9} {'LIKE p95':>9} {'LIKE/index p50':>15}"
    )
    print(header)
    print("-" * len(header))
    for name, measured in report["engines"].items():
        for measure in ("ranked", "typo", "suggest"):
            row, like = measured[measure], measured[f"{measure}_like"]
            goal = GOALS_MS[measure]
            verdict = "met" if row["p95_ms"] < goal else "NOT met"
            print(
                f"{name:<11} {measured['videos']:>9,} {measure:<8} {row['p50_ms']:>8.2f}"
                f" {row['p95_ms']:>8.2f} {f'<{goal:.0f} ' + verdict:>9}"
                f" {like['p50_ms']:>9.1f} {like['p95_ms']:>9.1f}"
                f" {like['p50_ms'] / row['p50_ms']:>14.1f}x"
            )
        print(
            f"{name:<11} index build {measured['build_s']:.1f} s ({measured['build_per_s']:,}"
            f" videos/s); writes/s {measured['writes_per_s']:,} without the index,"
            f" {measured['writes_indexed_per_s']:,} with it kept current"
            f" ({measured['writes_indexed_per_s'] / measured['writes_per_s']:.2f}x);"
            f" typos corrected {measured['typo_corrected']:.0%};"
            f" NDCG@10 of the judged set {measured['ndcg_at_10']:.3f}"
        )
