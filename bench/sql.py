"""List and get latency on SQLite and PostgreSQL, at the repository and through HTTP.

The catalogue is seeded the way the platform fills it: owners and categories through its
services; each video made by the aggregate (uploaded, then processed to ready with the
ladder the platform plans for its source, 1080p/720p/480p/360p for a 1080p one, posters
and a storyboard; a few failed; the newest still waiting or processing, never stranded,
so the server has no recovery work to do while it is measured) with tags, a description,
a category and media info, written through the repositories, its views counted by the
repository's increment. So rows are as wide as real ones and every list reads and maps
what a real list does.

Measured on each database:

- at the repository: the anonymous first page, a page 40 deep, the most-viewed page, a
  signed-in owner's own first page and single reads (ids rotate), each the percentiles of
  N timed calls; the first page and the single read also as the bare SQL on the driver
  connection in the same run (the ratio is the adapter's overhead);
- through HTTP: ``videoplatform serve`` with its default settings on the same database,
  the read cache off (every request reaches the database), load from ``wrk`` (or the
  Python driver) over keep-alive connections: ``GET /api/v1/videos?limit=20``
  (anonymous), ``GET /api/v1/videos/{id}`` (ids rotate) and the owner's
  ``GET /api/v1/videos?owner=me&limit=20`` with a session token from the login endpoint.
  Next to the repository's timing of the same query, the difference is what the HTTP
  layer (server, routing, authentication, serialisation) adds.

Goals: list p95 < 10 ms at 100k videos on PostgreSQL at the repository; list pages p99 <
10 ms through HTTP, cold.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from attrs import frozen
from sqlalchemy import Engine, text

from bench.databases import percentiles, postgres, sqlite
from bench.http import _measure, _server, server_env
from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.adapters.system import UlidGenerator
from videoplatform.application.context import Caller
from videoplatform.application.ports.persistence import VideoListQuery, VideoSort
from videoplatform.application.processing.layout import output_prefix
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_jobs import video_prefix
from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.ladder import plan_ladder, poster_height
from videoplatform.domain.users import User
from videoplatform.domain.videos import (
    FailureCode,
    MediaInfo,
    PlaybackAssets,
    Poster,
    Rendition,
    Storyboard,
    Video,
    VideoStatus,
    Visibility,
)
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.http.server import ServeOptions
from videoplatform.entrypoints.settings import Settings

PAGE = 20
OWNERS = 50
BATCH = 1000  # videos per unit of work while seeding
ROTATION = 500  # ids the single reads rotate over
PASSWORD = "a long bench passphrase"  # noqa: S105 - the seeded accounts', on a throwaway database
PLAYBACK_SECRET = "bench-playback-secret-".ljust(48, "x")
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
LIST_P95_GOAL_MS = 10.0
HTTP_LIST_P99_GOAL_MS = 10.0

CATEGORIES = (
    "Music",
    "Gaming",
    "Education",
    "Science & Technology",
    "Travel & Events",
    "Cooking",
    "Sports",
    "News & Politics",
    "Comedy",
    "Film & Animation",
    "Nature",
    "How-to & Style",
)
_VOCABULARY = (
    "river forest harbour mountain city night morning walk ride guitar piano lesson "
    "recipe bread garden winter summer storm coast island train bridge market festival "
    "drone timelapse tutorial review unboxing interview concert rehearsal match goal "
    "highlights history science experiment robot engine repair build paint sketch "
    "portrait landscape wildlife birds ocean desert snow lake camping hiking cycling "
    "running yoga dance choir jazz blues folk vinyl camera lens light shadow street"
)
WORDS = _VOCABULARY.split()
TAGS = tuple(WORDS) + tuple(f"{a} {b}" for a, b in zip(WORDS[::3], WORDS[1::3], strict=False))
# Source pictures (display width, height) and how often they come.
SOURCES = (((1920, 1080), 55), ((1280, 720), 25), ((3840, 2160), 5), ((854, 480), 8))
PORTRAIT_SHARE = 0.07
# What a real encode of each rung reports (H.264 High at the rung's level, AAC-LC).
CODECS = {1080: "avc1.640028,mp4a.40.2", 720: "avc1.64001f,mp4a.40.2"}
SMALL_CODECS = "avc1.64001e,mp4a.40.2"
POSTER_WIDTHS = (1280, 640, 320)
STORYBOARD_TILE_WIDTH = 160


@frozen
class Seeded:
    readable: list[str]
    """Public, ready videos: what anyone may read. Single reads rotate over a sample."""
    owner_id: str
    owner_email: str
    owner_videos: int


# -- seeding ---------------------------------------------------------------------------


def _sentence(rng: random.Random, words: int) -> str:
    said = " ".join(rng.choice(WORDS) for _ in range(words))
    return said[0].upper() + said[1:] + "."


def _media_info(rng: random.Random) -> MediaInfo:
    (width, height), *_ = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])
    rotation = 90 if rng.random() < PORTRAIT_SHARE else 0  # a phone held upright
    duration = round(min(3600.0, max(5.0, rng.lognormvariate(5.3, 1.0))), 3)
    return MediaInfo(
        duration_seconds=duration,
        width=width,
        height=height,
        video_codec="h264",
        audio_codec="aac",
        fps=rng.choice((24.0, 25.0, 29.97, 30.0, 60.0)),
        bitrate=int(8_000_000 * height / 1080 * rng.uniform(0.6, 1.4)),
        rotation=rotation,
        container="mov,mp4,m4a,3gp,3g2,mj2",
        audio_channels=2,
        subtitle_languages=("en",) if rng.random() < 0.05 else (),
    )


def _outputs(
    video_id: VideoId, info: MediaInfo, job_id: str, attempt: int
) -> tuple[list[Rendition], PlaybackAssets]:
    """The renditions, posters and storyboard processing makes for ``info``, under the
    storage prefix a job's attempt writes to."""
    renditions = [
        Rendition(
            rung.spec.name,
            rung.width,
            rung.height,
            rung.spec.video_bitrate + rung.spec.audio_bitrate,
            CODECS.get(rung.spec.height, SMALL_CODECS),
            f"hls/{rung.spec.name}/index.m3u8",
        )
        for rung in plan_ladder(info)
    ]
    shown_width = info.height if info.rotation % 180 == 90 else info.width
    widths = [w for w in POSTER_WIDTHS if w <= shown_width] or [shown_width]
    assets = PlaybackAssets(
        prefix=output_prefix(video_id, job_id, attempt),
        master_playlist="hls/master.m3u8",
        posters=tuple(Poster(w, poster_height(info, w), f"poster-{w}.jpg") for w in widths),
        storyboard=Storyboard(
            vtt_path="storyboard/storyboard.vtt",
            sprite_path="storyboard/storyboard.jpg",
            tile_width=STORYBOARD_TILE_WIDTH,
            tile_height=poster_height(info, STORYBOARD_TILE_WIDTH),
            interval_seconds=max(2.0, info.duration_seconds / 100),
        ),
    )
    return renditions, assets


def _video(
    video_id: VideoId,
    owner: User,
    created: datetime,
    categories: list[CategoryId],
    ids: UlidGenerator,
    rng: random.Random,
    now: datetime,
) -> Video:
    """One video as the platform leaves it by ``now``: processed to ready, failed (a
    few), or, uploaded in the last minutes, still waiting or processing."""
    info = _media_info(rng)
    draw = rng.random()
    visibility = (
        Visibility.PUBLIC
        if draw < 0.8
        else Visibility.UNLISTED
        if draw < 0.9
        else Visibility.PRIVATE
    )
    described = rng.random() < 0.85
    video = Video.upload(
        id=video_id,
        owner=owner,
        title=_sentence(rng, rng.randint(3, 9))[:-1],
        description="\n\n".join(
            _sentence(rng, rng.randint(8, 18)) for _ in range(rng.randint(1, 5) if described else 0)
        ),
        category_id=rng.choice(categories) if rng.random() < 0.85 else None,
        tags=rng.sample(TAGS, rng.randint(2, 8)),
        visibility=visibility,
        source_key=video_prefix(video_id) + "source",
        source_size=int(info.bitrate * info.duration_seconds / 8),
        source_sha256=rng.randbytes(32).hex(),
        now=created,
    )
    started = created + timedelta(seconds=rng.uniform(0.5, 30))
    finished = started + timedelta(seconds=info.duration_seconds * rng.uniform(0.5, 1.5))
    if started >= now:
        return video  # waiting for a worker
    video.start_processing(started)
    if finished >= now:
        # Still being processed, its worker reporting progress every few seconds: not a
        # stranded video that the server would queue again while it is measured.
        done = int(100 * (now - started) / (finished - started))
        video.report_progress(done, max(started, now - timedelta(seconds=rng.uniform(0, 5))))
        return video
    if rng.random() < 0.02:
        video.mark_failed(
            "The file is damaged: it stops decoding part of the way in.",
            finished,
            FailureCode.CORRUPT,
        )
        return video
    renditions, assets = _outputs(video_id, info, ids.new_id(), video.processing_attempts)
    video.mark_ready(media_info=info, renditions=renditions, assets=assets, now=finished)
    return video


def _views(video: Video, rng: random.Random) -> int:
    if video.status is not VideoStatus.READY:
        return 0
    scale = 40 if video.visibility is Visibility.PUBLIC else 2
    return min(5_000_000, int((rng.paretovariate(1.1) - 1) * scale))


def _seed(engine: Engine, url: str, folder: Path, count: int) -> Seeded:
    """Owners and categories through the platform's services; ``count`` videos built by
    the aggregate and written through the repositories, ``BATCH`` per unit of work."""
    settings = Settings(
        database_url=url,
        data_dir=str(folder / "seed"),
        playback_secret=PLAYBACK_SECRET,
        argon2_time_cost=CHEAP_ARGON2["argon2_time_cost"],
        argon2_memory_kib=CHEAP_ARGON2["argon2_memory_kib"],
        argon2_parallelism=CHEAP_ARGON2["argon2_parallelism"],
    )
    with create_platform(settings) as platform:
        admin = platform.users.create_admin(RegisterUser("admin@example.com", PASSWORD, "Admin"))
        categories = [platform.categories.create(Caller(admin.id), name).id for name in CATEGORIES]
        owners = [
            platform.users.register(
                RegisterUser(f"owner{n:03d}@example.com", PASSWORD, f"Owner {n}")
            )
            for n in range(OWNERS)
        ]
    # The repositories alone, without the platform's commit hooks: the videos' events
    # stay out of the outbox, so the server started later has no processing to do.
    factory = SqlUnitOfWorkFactory(engine)
    ids = UlidGenerator()
    rng = random.Random(7)
    # The catalogue's uploads end now, so the only unfinished videos are the newest.
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=count * 600)
    readable: list[str] = []
    owner_videos = 0
    for first in range(0, count, BATCH):
        views: list[tuple[VideoId, int]] = []
        with factory() as uow:
            for n in range(first, min(count, first + BATCH)):
                owner = owners[n % OWNERS]
                # Ten minutes apart on average, in upload order.
                created = start + timedelta(seconds=n * 600 + rng.randrange(600))
                video = _video(VideoId(ids.new_id()), owner, created, categories, ids, rng, now)
                uow.videos.add(video)
                views.append((video.id, _views(video, rng)))
                if video.visibility is Visibility.PUBLIC and video.status is VideoStatus.READY:
                    readable.append(video.id)
                owner_videos += owner is owners[0]
            for video_id, seen in views:
                if seen > 0:
                    uow.videos.increment_views(video_id, seen)
            uow.commit()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return Seeded(
        readable=readable,
        owner_id=owners[0].id,
        owner_email=owners[0].email.value,
        owner_videos=owner_videos,
    )


# -- the repository --------------------------------------------------------------------


def _time(call: Callable[[], object], samples: int) -> dict[str, float]:
    for _ in range(min(20, samples)):
        call()  # warm caches and pools
    taken = []
    for _ in range(samples):
        start = time.perf_counter()
        call()
        taken.append(time.perf_counter() - start)
    return {**percentiles(taken), "per_s": len(taken) / sum(taken)}


def _repository(
    engine: Engine, seeded: Seeded, rotation: list[str], samples: int
) -> dict[str, Any]:
    factory = SqlUnitOfWorkFactory(engine)
    rng = random.Random(11)
    newest = VideoListQuery(viewer_id=None)
    with factory() as uow:
        # A cursor some 40 pages deep, as a client scrolling far would hold.
        deep_row = uow.videos.list_page(newest, 800)[-1]
    deep = VideoListQuery(viewer_id=None, after=(deep_row.created_at, deep_row.id))
    popular = VideoListQuery(viewer_id=None, sort=VideoSort.MOST_VIEWED)
    # What ``owner=me`` asks for a creator: their videos, public or not, in any state.
    owner = UserId(seeded.owner_id)
    own = VideoListQuery(viewer_id=owner, owner_id=owner)

    def listing(query: VideoListQuery) -> Callable[[], object]:
        """A page as the API reads it: the videos' stored documents."""

        def call() -> object:
            with factory() as uow:
                return uow.videos.list_documents(query, PAGE + 1)

        return call

    def videos(query: VideoListQuery) -> Callable[[], object]:
        """A page as the embedders' ``platform.videos.list`` reads it: the videos."""

        def call() -> object:
            with factory() as uow:
                return uow.videos.list_page(query, PAGE + 1)

        return call

    def get() -> object:
        with factory() as uow:
            return uow.videos.get(VideoId(rng.choice(rotation)))

    raw_sql = (
        "SELECT * FROM videos WHERE visibility = 'public' AND status = 'ready' "
        "AND NOT owner_disabled ORDER BY created_at DESC, id DESC LIMIT 21"
    )

    # Outside a transaction, as the units of work read: no BEGIN and ROLLBACK around it
    # (SQLite's connections already read that way).
    bare = (
        engine
        if engine.dialect.name == "sqlite"
        else engine.execution_options(isolation_level="AUTOCOMMIT")
    )

    def raw_first_page() -> object:
        with bare.connect() as conn:
            return conn.exec_driver_sql(raw_sql).fetchall()

    def raw_get() -> object:
        with bare.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT * FROM videos WHERE id = "
                + ("?" if engine.dialect.name == "sqlite" else "%s"),
                (rng.choice(rotation),),
            ).fetchall()

    results = {
        "first_page": _time(listing(newest), samples),
        "first_page_videos": _time(videos(newest), samples),
        "owner_page": _time(listing(own), samples),
        "deep_page": _time(listing(deep), samples),
        "most_viewed": _time(listing(popular), samples),
        "get": _time(get, samples),
        "raw_first_page": _time(raw_first_page, samples),
        "raw_get": _time(raw_get, samples),
    }
    results["ratio_first_page_vs_raw"] = {
        "p50": results["first_page"]["p50_ms"] / results["raw_first_page"]["p50_ms"]
    }
    results["ratio_get_vs_raw"] = {"p50": results["get"]["p50_ms"] / results["raw_get"]["p50_ms"]}
    return results


# -- through HTTP ----------------------------------------------------------------------


def _serve_command() -> list[str]:
    """``videoplatform serve`` with its default workers and threads, on a free port."""
    return [str(Path(sys.executable).parent / "videoplatform"), "serve", "--bind", "127.0.0.1:0"]


def _session_token(base: str, email: str) -> str:
    """A session token for ``email``, from the login endpoint, as a client gets one."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(
            "POST",
            "/api/v1/auth/session",
            body=json.dumps({"email": email, "password": PASSWORD}),
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 201:
        raise RuntimeError(f"login answered {response.status}: {body[:200]!r}")
    token: str = json.loads(body)["token"]
    return token


def _http(
    url: str,
    seeded: Seeded,
    rotation: list[str],
    *,
    connections: int,
    duration: float,
    warmup: float,
) -> dict[str, Any]:
    """The same reads through ``videoplatform serve`` on this database, read cache off."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = server_env(
            database_url=url,
            data_dir=str(work / "data"),
            read_cache_seconds="0",
            playback_secret=PLAYBACK_SECRET,
        )
        with _server(_serve_command(), env, work) as base:
            bearer = {"Authorization": f"Bearer {_session_token(base, seeded.owner_email)}"}
            plan: list[tuple[str, list[str], dict[str, str] | None]] = [
                ("first_page", [f"/api/v1/videos?limit={PAGE}"], None),
                ("owner_page", [f"/api/v1/videos?owner=me&limit={PAGE}"], bearer),
                ("get", [f"/api/v1/videos/{video_id}" for video_id in rotation], None),
            ]
            results: dict[str, Any] = {}
            for name, paths, headers in plan:
                print(f"sql: measuring http {name} ({duration:g} s)...", flush=True)
                results[name] = _measure(
                    base, paths, connections, duration, warmup, headers=headers
                )
    return results


# -- the databases ---------------------------------------------------------------------


def run(
    *,
    videos: int,
    samples: int,
    duration: float = 5.0,
    connections: int = 1,
    warmup: float = 1.0,
) -> dict[str, Any]:
    options = ServeOptions.from_settings(Settings())
    report: dict[str, Any] = {
        "videos": videos,
        "samples": samples,
        "http": {
            "server": f"videoplatform serve defaults: {options.worker_kind} worker, "
            f"{options.workers} process x {options.threads} threads, read cache off",
            "driver": "wrk" if shutil.which("wrk") else "python http.client",
            "connections": connections,
            "duration_s": duration,
            "warmup_s": warmup,
        },
        "cpus": os.cpu_count(),
        "databases": {},
    }
    for label, opener in (("sqlite", sqlite), ("postgresql", postgres)):
        with opener() as engine, tempfile.TemporaryDirectory() as folder:
            url = engine.url.render_as_string(hide_password=False)
            migrate.upgrade(engine)
            print(f"sql: seeding {videos:,} videos on {label}...", flush=True)
            started = time.perf_counter()
            seeded = _seed(engine, url, Path(folder), videos)
            seeded_s = time.perf_counter() - started
            rotation = random.Random(13).sample(
                seeded.readable, min(ROTATION, len(seeded.readable))
            )
            measured = _repository(engine, seeded, rotation, samples)
            measured["http"] = _http(
                url,
                seeded,
                rotation,
                connections=connections,
                duration=duration,
                warmup=warmup,
            )
            measured["seed_seconds"] = round(seeded_s, 1)
            measured["owner_videos"] = seeded.owner_videos
            report["databases"][label] = measured
    _print(report)
    return report


# -- the table -------------------------------------------------------------------------

# (query, raw SQL row, repository row, HTTP row)
ROWS = (
    ("first_page", "raw_first_page", "first_page", "first_page"),
    ("page videos", None, "first_page_videos", None),
    ("owner_page", None, "owner_page", "owner_page"),
    ("get", "raw_get", "get", "get"),
    ("deep_page", None, "deep_page", None),
    ("most_viewed", None, "most_viewed", None),
)


def _print(report: dict[str, Any]) -> None:
    served = report["http"]
    print(
        f"\nSQL reads at {report['videos']:,} videos, {report['cpus']} CPUs: repository "
        f"({report['samples']} timed calls each, one at a time) and HTTP ({served['server']};"
        f" {served['driver']}, {served['connections']} keep-alive connection(s), "
        f"{served['duration_s']:g} s after {served['warmup_s']:g} s warm-up)"
    )
    header = (
        f"{'database':<11} {'query':<12} {'layer':<11} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'per s':>8} {'bytes':>7} {'errors':>6} {'HTTP adds p50':>14}"
    )
    print(header)
    print("-" * len(header))
    for db, measured in report["databases"].items():
        for query, raw, repository, over_http in ROWS:
            layers = [("raw SQL", measured.get(raw or "")), ("repository", measured[repository])]
            layers.append(("HTTP", measured["http"].get(over_http or "")))
            for layer, row in layers:
                if row is None:
                    continue
                if "unavailable" in row:
                    print(f"{db:<11} {query:<12} {layer:<11} not measured: {row['unavailable']}")
                    continue
                rate = row["rps"] if layer == "HTTP" else row["per_s"]
                size = f"{row['response_bytes']:>7}" if layer == "HTTP" else f"{'':>7}"
                errors = f"{row['errors']:>6}" if layer == "HTTP" else f"{'':>6}"
                adds = ""
                if layer == "HTTP":
                    adds = f"{row['p50_ms'] - measured[repository]['p50_ms']:+.2f} ms"
                print(
                    f"{db:<11} {query:<12} {layer:<11} {row['p50_ms']:>8.2f} "
                    f"{row['p95_ms']:>8.2f} {row['p99_ms']:>8.2f} {rate:>8.0f} {size} "
                    f"{errors} {adds:>14}"
                )
        print(
            f"{db:<11} adapter/raw  first page x{measured['ratio_first_page_vs_raw']['p50']:.2f}"
            f", get x{measured['ratio_get_vs_raw']['p50']:.2f} (p50); seeded in "
            f"{measured['seed_seconds']:g} s; the owner has {measured['owner_videos']:,} videos"
        )
    print(
        "per s: calls per second one at a time (repository), requests per second (HTTP); "
        "owner_page: a signed-in creator's ?owner=me (Bearer session token); pages are read "
        "as the API reads them, the videos' stored documents ('page videos': the first page "
        "as the videos themselves, as platform.videos.list reads it)"
    )
    pg = report["databases"].get("postgresql")
    if pg:
        met = all(pg[q]["p95_ms"] < LIST_P95_GOAL_MS for q in ("first_page", "deep_page"))
        print(
            f"goal: PostgreSQL list p95 < {LIST_P95_GOAL_MS:g} ms at 100,000 videos "
            f"(repository; measured at {report['videos']:,}): {'met' if met else 'NOT met'}"
        )
    verdicts = []
    for db, measured in report["databases"].items():
        pages = [measured["http"][q] for q in ("first_page", "owner_page")]
        met = all(p.get("p99_ms", float("inf")) < HTTP_LIST_P99_GOAL_MS for p in pages)
        verdicts.append(f"{db} {'met' if met else 'NOT met'}")
    print(
        f"goal: list pages through HTTP p99 < {HTTP_LIST_P99_GOAL_MS:g} ms, cold "
        f"(anonymous and owner's): {', '.join(verdicts)}"
    )
