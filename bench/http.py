"""Requests per second and latency of the HTTP API under gunicorn on loopback, each
endpoint next to a bare Falcon app answering the same shape on identical server settings,
measured in the same run, interleaved, for several rounds.

Two server set-ups, each measured in full:

- **default**: ``videoplatform serve`` as it starts without options (one worker with
  four threads, keep-alive). The goals are judged here: it is how the platform runs.
- **sync**: one synchronous worker with one thread (a connection per request), the
  cheapest server path, where fixed costs per request weigh most.

On each, for SQLite (the embedded profile, a temporary data directory) and PostgreSQL
(a temporary database; skipped with the reason when the server cannot be reached), both
seeded through the platform's own services with rows shaped as processing leaves them
(tags, description, media info, a four-rung ladder, posters):

- ``video``: ``GET /api/v1/videos/{id}`` anonymous, public ready videos, ids rotating,
  with the anonymous read cache on (served from it after the first read);
- ``video_cold``: the same with the read cache off (every read runs its SQL);
- ``first_page``: ``GET /api/v1/videos?limit=20`` anonymous, cache off;
- ``owner_page``: ``GET /api/v1/videos?owner=me&limit=20`` with an owner's bearer token
  (25 videos of their own, some unlisted or private), cache off.

The seed's own outbox messages are marked sent: the videos are made ready directly and
their sources are not videos, so the servers start with nothing to relay or process.

The bare app (``python -m bench.http --serve-bare``) runs under the gunicorn
configuration ``videoplatform serve`` builds from the same options, and answers
``/item`` with one constant video and ``/page`` with 20 constant videos through
``resp.media``: a single read's ratio is to ``/item``, a list's to ``/page``.

Each round measures every endpoint once, in a fixed order, the bare ones first; a figure
is the median over the rounds, and a ratio is the median of the rounds' ratios to the
bare app measured in the same round, with its spread (min to max), so a drift of the
machine's speed moves no endpoint more than another. The load comes from another
process: ``wrk`` when installed (Debian's ``wrk``), otherwise a bounded Python driver
(http.client threads, which may saturate before the server does: the bare app's absolute
rate tells).

Goals (default set-up, both databases): the first page, anonymous and the owner's, at
least 0.5 of the bare page's requests per second with p99 < 10 ms, cache off; a single
read cache off at least 0.5 of the bare item's.

Run as ``python -m bench http`` from the repository root. This module is also the server
and driver processes the suite starts (``python -m bench.http --serve-bare`` / ``--drive``).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import falcon
from sqlalchemy import update

from bench.databases import percentiles, postgres
from videoplatform.adapters.sql import migrate, tables
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.application.context import Caller
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.users import Login, RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import (
    MediaInfo,
    PlaybackAssets,
    Poster,
    Rendition,
    Visibility,
)
from videoplatform.entrypoints import persistence
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.http.server import GunicornServer, ServeOptions
from videoplatform.entrypoints.logging import configure_logging
from videoplatform.entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
LIST_RATIO_GOAL = 0.5
COLD_READ_RATIO_GOAL = 0.5
P99_GOAL_MS = 10.0
PAGE = 20
OWNED = 25
LISTENING = re.compile(r"listening on\s+(http://[\d.]+:\d+)")
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
# PostgreSQL needs the API nodes' shared secret (SQLite keeps one in its data directory).
PLAYBACK_SECRET = "bench-playback-secret-".ljust(48, "x")
OWNER_EMAIL, OWNER_PASSWORD = "owner@example.com", "a long bench passphrase"
LADDER = (
    (1920, 1080, 5_000_000),
    (1280, 720, 2_800_000),
    (854, 480, 1_400_000),
    (640, 360, 800_000),
)
# Server set-ups: name -> (what it is, command-line options of ``videoplatform serve``).
SETUPS: dict[str, tuple[str, list[str]]] = {
    "default": ("videoplatform serve as it starts: 1 worker x 4 threads, keep-alive", []),
    "sync": (
        "1 sync worker x 1 thread, a connection per request",
        ["--workers", "1", "--threads", "1"],
    ),
}


# -- seeding ---------------------------------------------------------------------------


def _ready(video_id: str, n: int) -> tuple[MediaInfo, list[Rendition], PlaybackAssets]:
    """What processing leaves on a 1080p video: media info, a four-rung ladder, posters."""
    info = MediaInfo(
        duration_seconds=60.0 + n % 600,
        width=1920,
        height=1080,
        video_codec="h264",
        audio_codec="aac",
        fps=30.0,
        bitrate=6_000_000,
        container="mp4",
        audio_channels=2,
    )
    renditions = [
        Rendition(f"{h}p", w, h, rate, "avc1.640028,mp4a.40.2", f"{h}p/index.m3u8")
        for w, h, rate in LADDER
    ]
    assets = PlaybackAssets(
        prefix=f"videos/{video_id}/out/",
        master_playlist="master.m3u8",
        posters=(Poster(1280, 720, "poster-1280.jpg"), Poster(640, 360, "poster-640.jpg")),
    )
    return info, renditions, assets


def _settings(data_dir: Path, database_url: str) -> Settings:
    """The platform the servers run, as this process opens it to seed and to log in."""
    return Settings(
        data_dir=str(data_dir),
        database_url=database_url,
        playback_secret=PLAYBACK_SECRET if database_url else "",
        argon2_time_cost=CHEAP_ARGON2["argon2_time_cost"],
        argon2_memory_kib=CHEAP_ARGON2["argon2_memory_kib"],
        argon2_parallelism=CHEAP_ARGON2["argon2_parallelism"],
    )


def _seed(data_dir: Path, count: int, database_url: str = "") -> list[str]:
    """``count`` public videos of one member, and ``OWNED`` of the owner whose list the
    suite reads (public, unlisted and private), uploaded then moved to ready through the
    aggregate. The ids of the first ones."""
    settings = _settings(data_dir, database_url)
    visibilities = (Visibility.PUBLIC, Visibility.PUBLIC, Visibility.UNLISTED, Visibility.PRIVATE)
    ids: list[str] = []
    with create_platform(settings) as platform:
        member = platform.users.register(
            RegisterUser("bench@example.com", "a long bench passphrase", "Bench")
        )
        owner = platform.users.register(RegisterUser(OWNER_EMAIL, OWNER_PASSWORD, "Owner"))
        uploads = [(Caller(member.id), Visibility.PUBLIC)] * count + [
            (Caller(owner.id), visibilities[n % len(visibilities)]) for n in range(OWNED)
        ]
        seeded: list[str] = []
        for n, (caller, visibility) in enumerate(uploads):
            video = platform.videos.upload(
                caller,
                UploadVideo(
                    title=f"Bench video {n}: a walk along the river at dawn",
                    description=(
                        f"Video number {n}, seeded for the HTTP benchmark. "
                        "A quiet morning: mist on the water, the first boats, birds. "
                        "Filmed handheld in 1080p at 30 frames per second."
                    ),
                    source=io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + bytes(256)),
                    tags=["bench", f"batch-{n % 10}", "river", "morning"],
                    visibility=visibility,
                ),
            )
            seeded.append(str(video.id))
        units: UnitOfWorkFactory = platform.resolve(UnitOfWorkFactory)  # type: ignore[type-abstract]
        for n, video_id in enumerate(seeded):
            with units() as uow:
                video = uow.videos.get(VideoId(video_id))
                now = video.created_at + timedelta(seconds=5)
                video.start_processing(now)
                info, renditions, assets = _ready(video_id, n)
                video.mark_ready(media_info=info, renditions=renditions, assets=assets, now=now)
                uow.videos.save(video)
                uow.commit()
        ids = seeded[:count]
    # The uploads' events (process this source, index this video) are not for the servers
    # to act on while they are measured: the videos were made ready above, and their
    # sources are not videos. Marked sent, the servers start with nothing to relay.
    engine = create_database_engine(persistence.database_url(settings))
    try:
        with engine.begin() as conn:
            conn.execute(
                update(tables.outbox)
                .where(tables.outbox.c.sent_at.is_(None))
                .values(sent_at=datetime.now(UTC))
            )
    finally:
        engine.dispose()
    return ids


def owner_token(data_dir: Path, database_url: str = "") -> str:
    """A session token of the owner :func:`_seed` made."""
    settings = _settings(data_dir, database_url)
    with create_platform(settings) as platform:
        return platform.users.login(Login(OWNER_EMAIL, OWNER_PASSWORD)).token


# -- the servers -----------------------------------------------------------------------


def _constant_video(n: int) -> dict[str, Any]:
    """One video as the API writes it, constant."""
    return {
        "id": f"01M983WEAJF6AXNFFVNWT1{n:04d}",
        "owner_id": "01M983WDJZ6A4WT58B3MK9AMSS",
        "title": f"Bench video {n}: a walk along the river at dawn",
        "description": (
            f"Video number {n}, seeded for the HTTP benchmark. A quiet morning: mist on "
            "the water, the first boats, birds. Filmed handheld in 1080p at 30 frames per "
            "second."
        ),
        "category_id": None,
        "tags": ["bench", f"batch-{n % 10}", "river", "morning"],
        "visibility": "public",
        "status": "ready",
        "reprocessing": False,
        "progress": 100,
        "last_error": None,
        "failure_code": None,
        "kind": "video",
        "view_count": 0,
        "size": 268,
        "poster_at_seconds": None,
        "media_info": {
            "duration_seconds": 60.0 + n,
            "width": 1920,
            "height": 1080,
            "video_codec": "h264",
            "audio_codec": "aac",
            "fps": 30.0,
            "bitrate": 6000000,
            "rotation": 0,
            "audio_channels": 2,
            "subtitle_languages": [],
        },
        "renditions": [
            {
                "name": f"{h}p",
                "width": w,
                "height": h,
                "bitrate": rate,
                "codecs": "avc1.640028,mp4a.40.2",
            }
            for w, h, rate in LADDER
        ],
        "created_at": "2026-12-07T11:23:04.916455+00:00",
        "updated_at": "2026-12-07T11:23:09.916455+00:00",
    }


def bare_app() -> falcon.App[falcon.Request, falcon.Response]:
    """Falcon with nothing of ours: ``/item`` one constant video, ``/page`` twenty, each
    serialised per request by Falcon's JSON handler, as an app with no database would."""
    item = _constant_video(0)
    page = {"items": [_constant_video(n) for n in range(PAGE)], "next_cursor": "x" * 40}

    class Constant:
        def __init__(self, media: dict[str, Any]) -> None:
            self._media = media

        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.media = self._media

    app: falcon.App[falcon.Request, falcon.Response] = falcon.App()
    app.add_route("/", Constant({"status": "ok"}))
    app.add_route("/item", Constant(item))
    app.add_route("/page", Constant(page))
    return app


def _serve_bare(workers: int, threads: int) -> None:
    """The bare app under exactly the gunicorn configuration ``videoplatform serve``
    builds from the same options."""
    configure_logging(json=True)
    options = ServeOptions.from_settings(
        Settings(), bind="127.0.0.1:0", workers=workers, threads=threads
    )

    def announce(addresses: list[str]) -> None:
        print("\n".join(f"listening on {a}" for a in addresses), flush=True)

    GunicornServer(options, bare_app, announce).run()


def server_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ``VIDEOPLATFORM_*`` of its own, with cheap
    argon2 and ``settings`` (``data_dir="..."`` is ``VIDEOPLATFORM_DATA_DIR``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
    env |= {f"VIDEOPLATFORM_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()}
    return env | {f"VIDEOPLATFORM_{k.upper()}": v for k, v in settings.items()}


def single_server() -> list[str]:
    """``videoplatform serve`` on a free loopback port, one worker with one thread."""
    videoplatform = str(Path(sys.executable).parent / "videoplatform")
    return [videoplatform, "serve", "--bind", "127.0.0.1:0", "--workers", "1", "--threads", "1"]


@contextmanager
def _server(command: list[str], env: dict[str, str], folder: Path) -> Iterator[str]:
    """Start a server process and yield its base URL; stop it on the way out."""
    out_path, err_path = folder / "stdout.txt", folder / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and console script
            command, stdout=out, stderr=err, cwd=ROOT, env=env
        )
        try:
            yield _wait_for_url(process, out_path, err_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_url(process: subprocess.Popen[bytes], out_path: Path, err_path: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = LISTENING.search(out_path.read_text(errors="replace"))
        if found:
            url = found.group(1)
            while time.monotonic() < deadline:  # the worker boots after the bind
                try:
                    _fetch(url, "/")
                    return url
                except OSError:
                    time.sleep(0.05)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"the server did not start:\n{err_path.read_text(errors='replace')}")


def _fetch(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- the load drivers --------------------------------------------------------------------


def _drive(
    url: str,
    paths: list[str],
    connections: int,
    duration: float,
    warmup: float,
    headers: dict[str, str] | None = None,
) -> None:
    """The Python driver (its own process): ``connections`` threads, each with one
    http.client connection that it reopens whenever the server closes it (gunicorn's
    sync worker closes after every response); prints one JSON result line."""
    host, port = url.removeprefix("http://").split(":")
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def loop(slot: int) -> None:
        mine = latencies[slot]
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n = slot
        while True:
            began = time.perf_counter()
            if began >= stop_at:
                break
            path = paths[n % len(paths)]
            n += 1
            try:
                conn.request("GET", path, headers=headers or {})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                ok = False
            ended = time.perf_counter()
            if began >= measure_from:
                mine.append(ended - began)
                if not ok:
                    errors[slot] += 1
        conn.close()

    threads = [threading.Thread(target=loop, args=(s,)) for s in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = [latency for own in latencies for latency in own]
    result = {
        "requests": len(merged),
        "errors": sum(errors),
        "seconds": duration,
        **(percentiles(merged) if merged else {}),
    }
    print(json.dumps(result), flush=True)


def _python_driver(
    url: str,
    paths: list[str],
    connections: int,
    duration: float,
    warmup: float,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as listing:
        json.dump({"paths": paths, "headers": headers or {}}, listing)
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter
            [
                sys.executable,
                "-m",
                "bench.http",
                "--drive",
                url,
                "--paths",
                listing.name,
                "--connections",
                str(connections),
                "--duration",
                str(duration),
                "--warmup",
                str(warmup),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + warmup + 60,
        )
    finally:
        os.unlink(listing.name)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


WRK_SCRIPT = """
local paths = {%s}
local headers = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1], headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("VPBENCH %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _wrk_driver(
    wrk: str,
    url: str,
    paths: list[str],
    connections: int,
    duration: float,
    warmup: float,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    quoted = ", ".join(json.dumps(p) for p in paths)
    fields = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (quoted, fields))
    try:

        def wrk_run(seconds: float) -> str:
            return subprocess.run(  # noqa: S603 - wrk found on PATH
                [
                    wrk,
                    "-t1",
                    f"-c{connections}",
                    f"-d{max(1, round(seconds))}s",
                    "-s",
                    script.name,
                    url,
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=seconds + 60,
            ).stdout

        if warmup > 0:
            wrk_run(warmup)
        output = wrk_run(duration)
    finally:
        os.unlink(script.name)
    found = re.search(r"VPBENCH (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", output)
    if not found:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    requests, micros, errors, p50, p95, p99 = (int(g) for g in found.groups())
    return {
        "requests": requests,
        "errors": errors,
        "seconds": micros / 1e6,
        "p50_ms": p50 / 1000,
        "p95_ms": p95 / 1000,
        "p99_ms": p99 / 1000,
    }


# -- the suite -------------------------------------------------------------------------


def _measure(
    url: str,
    paths: list[str],
    connections: int,
    duration: float,
    warmup: float,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    status, body = _fetch(url, paths[0], headers)
    if status != 200:
        return {"unavailable": f"GET {paths[0]} answered {status}: {body[:200]!r}"}
    wrk = shutil.which("wrk")
    if wrk:
        result = _wrk_driver(wrk, url, paths, connections, duration, warmup, headers)
    else:
        result = _python_driver(url, paths, connections, duration, warmup, headers)
    result["rps"] = result["requests"] / result["seconds"]
    result["response_bytes"] = len(body)
    return result


@contextmanager
def _database(kind: str) -> Iterator[str]:
    """A fresh database's URL for ``kind`` ("sqlite": the data directory's own, "");
    raises OSError-like errors when PostgreSQL cannot be reached."""
    if kind == "sqlite":
        yield ""
        return
    with postgres() as engine:
        migrate.upgrade(engine)
        yield engine.url.render_as_string(hide_password=False)


@contextmanager
def _servers(
    work: Path, ids: dict[str, list[str]], urls: dict[str, str]
) -> Iterator[dict[str, dict[str, str]]]:
    """Every server of every set-up: {setup: {server name: base URL}}."""
    bare_env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
    videoplatform = str(Path(sys.executable).parent / "videoplatform")
    found: dict[str, dict[str, str]] = {}
    with ExitStack() as stack:
        for setup, (_, options) in SETUPS.items():
            found[setup] = {}
            threads = options[options.index("--threads") + 1] if "--threads" in options else "4"
            folder = work / setup / "bare"
            folder.mkdir(parents=True)
            found[setup]["bare"] = stack.enter_context(
                _server(
                    [sys.executable, "-m", "bench.http", "--serve-bare", "--threads", threads],
                    bare_env,
                    folder,
                )
            )
            for db in ids:
                for cache in ("cached", "cold"):
                    folder = work / setup / f"{db}-{cache}"
                    folder.mkdir(parents=True)
                    env = server_env(data_dir=str(work / db / "data"), database_url=urls[db])
                    if urls[db]:
                        env["VIDEOPLATFORM_PLAYBACK_SECRET"] = PLAYBACK_SECRET
                    if cache == "cold":
                        env["VIDEOPLATFORM_READ_CACHE_SECONDS"] = "0"
                    command = [videoplatform, "serve", "--bind", "127.0.0.1:0", *options]
                    found[setup][f"{db}-{cache}"] = stack.enter_context(
                        _server(command, env, folder)
                    )
        yield found


def _plan(
    ids: dict[str, list[str]], tokens: dict[str, str]
) -> list[tuple[str, str, list[str], dict[str, str] | None, str]]:
    """(endpoint, server, paths, headers, the bare endpoint it is compared with)."""
    plan: list[tuple[str, str, list[str], dict[str, str] | None, str]] = [
        ("bare_item", "bare", ["/item"], None, ""),
        ("bare_page", "bare", ["/page"], None, ""),
    ]
    for db, video_ids in ids.items():
        rotation = [f"/api/v1/videos/{v}" for v in video_ids[:: max(1, len(video_ids) // 50)]]
        bearer = {"Authorization": f"Bearer {tokens[db]}"}
        plan += [
            (f"{db}:video", f"{db}-cached", rotation, None, "bare_item"),
            (f"{db}:video_cold", f"{db}-cold", rotation, None, "bare_item"),
            (f"{db}:first_page", f"{db}-cold", [f"/api/v1/videos?limit={PAGE}"], None, "bare_page"),
            (
                f"{db}:owner_page",
                f"{db}-cold",
                [f"/api/v1/videos?owner=me&limit={PAGE}"],
                bearer,
                "bare_page",
            ),
        ]
    return plan


def _summary(rounds: list[dict[str, Any]], bare: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Medians over the rounds, and the ratio to the bare endpoint of the same round."""
    if any("unavailable" in r for r in rounds):
        return next(r for r in rounds if "unavailable" in r)
    summary: dict[str, Any] = {
        key: statistics.median(r[key] for r in rounds)
        for key in ("rps", "p50_ms", "p95_ms", "p99_ms")
    }
    summary["errors"] = sum(r["errors"] for r in rounds)
    summary["response_bytes"] = rounds[0]["response_bytes"]
    summary["rounds"] = rounds
    if bare is not None:
        ratios = [r["rps"] / b["rps"] for r, b in zip(rounds, bare, strict=True)]
        summary["ratio_vs_bare"] = statistics.median(ratios)
        summary["ratio_spread"] = [min(ratios), max(ratios)]
    return summary


def run(
    *,
    videos: int = 200,
    duration: float = 4.0,
    connections: int = 4,
    warmup: float = 1.0,
    rounds: int = 3,
    postgres: bool = True,
) -> dict[str, Any]:
    driver = "wrk" if shutil.which("wrk") else f"python http.client, {connections} threads"
    report: dict[str, Any] = {
        "driver": driver,
        "setups": {name: what for name, (what, _) in SETUPS.items()},
        "videos": videos,
        "owned": OWNED,
        "connections": connections,
        "duration_s": duration,
        "warmup_s": warmup,
        "rounds": rounds,
        "cpus": os.cpu_count(),
        "databases": {},
        "results": {},
    }
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        work = Path(folder)
        ids: dict[str, list[str]] = {}
        urls: dict[str, str] = {}
        tokens: dict[str, str] = {}
        for db in ("sqlite", "postgresql") if postgres else ("sqlite",):
            try:
                url = stack.enter_context(_database(db))
            except Exception as error:
                report["databases"][db] = f"not measured: {type(error).__name__}: {error}"
                print(f"http: {db} not measured: {error}", flush=True)
                continue
            data = work / db / "data"
            data.mkdir(parents=True)
            started = time.perf_counter()
            ids[db] = _seed(data, videos, url)
            tokens[db] = owner_token(data, url)
            urls[db] = url
            report["databases"][db] = f"seeded in {time.perf_counter() - started:.1f} s"
        plan = _plan(ids, tokens)
        measured: dict[str, dict[str, list[dict[str, Any]]]] = {
            setup: {name: [] for name, *_ in plan} for setup in SETUPS
        }
        with _servers(work, ids, urls) as servers:
            for n in range(rounds):
                for setup in SETUPS:
                    for name, server, paths, headers, _ in plan:
                        print(
                            f"http: round {n + 1}/{rounds}, {setup}, {name} ({duration:g} s)...",
                            flush=True,
                        )
                        measured[setup][name].append(
                            _measure(
                                servers[setup][server],
                                paths,
                                connections,
                                duration,
                                warmup,
                                headers,
                            )
                        )
    for setup in SETUPS:
        results: dict[str, Any] = {}
        for name, _, _, _, versus in plan:
            bare = measured[setup][versus] if versus else None
            results[name] = _summary(measured[setup][name], bare)
        report["results"][setup] = results
    report["goals"] = _goals(report["results"].get("default", {}), list(ids))
    _print(report)
    return report


def _goals(results: dict[str, Any], databases: list[str]) -> dict[str, Any]:
    goals: dict[str, Any] = {
        "list_ratio_min": LIST_RATIO_GOAL,
        "cold_read_ratio_min": COLD_READ_RATIO_GOAL,
        "p99_ms_max": P99_GOAL_MS,
    }
    for db in databases:
        for name in ("first_page", "owner_page"):
            row = results.get(f"{db}:{name}", {})
            goals[f"{db}:{name}_met"] = (
                row.get("ratio_vs_bare", 0) >= LIST_RATIO_GOAL
                and row.get("p99_ms", float("inf")) < P99_GOAL_MS
            )
        cold = results.get(f"{db}:video_cold", {})
        goals[f"{db}:video_cold_met"] = cold.get("ratio_vs_bare", 0) >= COLD_READ_RATIO_GOAL
    return goals


def _print(report: dict[str, Any]) -> None:
    print(
        f"\nHTTP on loopback, {report['cpus']} CPUs, driver {report['driver']}, "
        f"{report['connections']} connections, {report['rounds']} rounds of "
        f"{report['duration_s']:g} s per endpoint; {report['videos']} public videos and "
        f"an owner's {report['owned']}"
    )
    for db, state in report["databases"].items():
        print(f"  {db}: {state}")
    for setup, results in report["results"].items():
        print(f"\n{setup}: {report['setups'][setup]}")
        header = (
            f"{'endpoint':<24} {'rps':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
            f"{'errors':>6} {'x bare':>6} {'spread':>11}"
        )
        print(header)
        print("-" * len(header))
        for name, row in results.items():
            if "unavailable" in row:
                print(f"{name:<24} not measured: {row['unavailable']}")
                continue
            ratio, spread = "", ""
            if "ratio_vs_bare" in row:
                low, high = row["ratio_spread"]
                ratio, spread = f"{row['ratio_vs_bare']:.2f}", f"{low:.2f}-{high:.2f}"
            print(
                f"{name:<24} {row['rps']:>7.0f} {row['p50_ms']:>7.2f} {row['p95_ms']:>7.2f} "
                f"{row['p99_ms']:>7.2f} {row['errors']:>6} {ratio:>6} {spread:>11}"
            )
    goals = report["goals"]
    print(
        f"\ngoals, default set-up: first pages >= {goals['list_ratio_min']} x bare page with "
        f"p99 < {goals['p99_ms_max']:g} ms; video_cold >= {goals['cold_read_ratio_min']} x "
        "bare item"
    )
    for key, met in goals.items():
        if key.endswith("_met"):
            print(f"  {key.removesuffix('_met'):<24} {'met' if met else 'NOT met'}")
    print(
        "video: anonymous reads served from the read cache after the first; video_cold: the "
        "read cache off, every read runs its SQL; first_page / owner_page: cache off "
        "(lists are never cached)."
    )
    if report["driver"] != "wrk":
        print(
            "note: a Python driver may saturate before the server does; judge the ratio "
            "against the bare app's absolute rps."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http")
    parser.add_argument("--serve-bare", action="store_true", help="run the bare app's server")
    parser.add_argument("--threads", type=int, default=4, help="the bare server's threads")
    parser.add_argument("--drive", metavar="URL", help="run the Python load driver")
    parser.add_argument("--paths", help="a JSON file listing the paths and headers")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.serve_bare:
        _serve_bare(1, args.threads)
        return 0
    if args.drive:
        listing = json.loads(Path(args.paths).read_text()) if args.paths else {}
        _drive(
            args.drive,
            listing.get("paths", ["/"]),
            args.connections,
            args.duration,
            args.warmup,
            listing.get("headers"),
        )
        return 0
    run(connections=args.connections, duration=args.duration, warmup=args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
