"""List and get latency on SQLite and PostgreSQL, through the repositories, next to the
same SQL run on the bare driver connection in the same run (the ratio is the adapter's
overhead; the absolute p95 is the issue's goal: list p95 < 10 ms at 100k on PostgreSQL).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text

from videoplatform.adapters.sql import migrate, tables
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.ports.persistence import VideoListQuery, VideoSort
from videoplatform.domain.ids import VideoId

PAGE = 20


def _public_ready_ids(engine: Engine, limit: int) -> list[str]:
    t = tables.videos
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.id).where(t.c.visibility == "public", t.c.status == "ready").limit(limit)
        )
        return [r[0] for r in rows]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000

    return {"p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def _time(call: Callable[[], object], samples: int) -> dict[str, float]:
    for _ in range(min(20, samples)):
        call()  # warm caches and pools
    taken = []
    for _ in range(samples):
        start = time.perf_counter()
        call()
        taken.append(time.perf_counter() - start)
    return _percentiles(taken)


def _seed(engine: Engine, count: int) -> list[str]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    owners = [f"owner{n:03d}" for n in range(50)]
    with engine.begin() as conn:
        conn.execute(
            insert(tables.users),
            [
                {
                    "id": o,
                    "email": f"{o}@example.com",
                    "display_name": o,
                    "password_hash": "x",
                    "roles": "creator",
                    "status": "active",
                    "created_at": start,
                    "updated_at": start,
                    "version": 1,
                }
                for o in owners
            ],
        )
    ids: list[str] = []
    batch: list[dict[str, Any]] = []
    for n in range(count):
        video_id = f"v{n:09d}"
        ids.append(video_id)
        when = start + timedelta(seconds=n)
        batch.append(
            {
                "id": video_id,
                "owner_id": owners[n % len(owners)],
                "title": f"Video {n}",
                "description": "",
                "category_id": None,
                "tags": [],
                "visibility": "public" if rng.random() < 0.8 else "private",
                "status": "ready" if rng.random() < 0.9 else "processing",
                "source_key": f"videos/{video_id}/source",
                "source_size": 1,
                "source_sha256": "0" * 64,
                "media_info": None,
                "renditions": [],
                "thumbnail_key": None,
                "progress": 100,
                "last_error": None,
                "view_count": rng.randrange(1_000_000),
                "processing_attempts": 1,
                "created_at": when,
                "updated_at": when,
                "version": 1,
            }
        )
        if len(batch) == 5000:
            with engine.begin() as conn:
                conn.execute(insert(tables.videos), batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(tables.videos), batch)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return ids


def _measure(engine: Engine, ids: list[str], samples: int) -> dict[str, Any]:
    factory = SqlUnitOfWorkFactory(engine)
    rng = random.Random(11)
    newest = VideoListQuery(viewer_id=None)
    with factory() as uow:
        # A cursor some 40 pages deep, as a client scrolling far would hold.
        deep_row = uow.videos.list_page(newest, 800)[-1]
    deep = VideoListQuery(viewer_id=None, after=(deep_row.created_at, deep_row.id))
    popular = VideoListQuery(viewer_id=None, sort=VideoSort.MOST_VIEWED)

    def listing(query: VideoListQuery) -> Callable[[], object]:
        def call() -> object:
            with factory() as uow:
                return uow.videos.list_page(query, PAGE + 1)

        return call

    def get() -> object:
        with factory() as uow:
            return uow.videos.get(VideoId(rng.choice(ids)))

    raw_sql = (
        "SELECT * FROM videos WHERE visibility = 'public' AND status = 'ready' "
        "ORDER BY created_at DESC, id DESC LIMIT 21"
    )

    def raw_first_page() -> object:
        with engine.connect() as conn:
            return conn.exec_driver_sql(raw_sql).fetchall()

    def raw_get() -> object:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT * FROM videos WHERE id = "
                + ("?" if engine.dialect.name == "sqlite" else "%s"),
                (rng.choice(ids),),
            ).fetchall()

    results = {
        "first_page": _time(listing(newest), samples),
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


def _http(engine: Engine, ids: list[str], samples: int) -> dict[str, Any]:
    """The same reads through the HTTP API: ``videoplatform serve`` (one sync worker)
    on this database, requests from this process over one keep-alive connection. The
    read cache is off so every request reaches the database."""
    from bench.http import _server, server_env, single_server  # one launcher for the benches

    url = engine.url.render_as_string(hide_password=False)
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = server_env(
            database_url=url,
            data_dir=str(work / "data"),
            read_cache_seconds="0",
            playback_secret="bench-playback-secret-".ljust(48, "x"),
        )
        command = single_server()
        with _server(command, env, work) as base:
            host, port = base.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=30)

            def get(path: str) -> dict[str, Any]:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
                data: dict[str, Any] = json.loads(body)
                return data

            cursor = ""
            for _ in range(40):  # scroll 40 pages deep, as a far-scrolling client would
                cursor = get(
                    f"/api/v1/videos?limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
                )["next_cursor"]
            results = {
                "http_first_page": _time(lambda: get(f"/api/v1/videos?limit={PAGE}"), samples),
                "http_deep_page": _time(
                    lambda: get(f"/api/v1/videos?limit={PAGE}&cursor={cursor}"), samples
                ),
                "http_get": _time(lambda: get(f"/api/v1/videos/{rng.choice(ids)}"), samples),
            }
            conn.close()
    return results


@contextmanager
def _sqlite() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_database_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _postgres() -> Iterator[Engine]:
    base = os.environ.get("VIDEOPLATFORM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    name = f"vp_bench_{secrets.token_hex(4)}"
    admin = create_database_engine(f"{base}/postgres").execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_database_engine(f"{base}/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def run(*, videos: int, samples: int) -> dict[str, Any]:
    report: dict[str, Any] = {"videos": videos, "samples": samples, "databases": {}}
    for label, opener in (("sqlite", _sqlite), ("postgresql", _postgres)):
        with opener() as engine:
            migrate.upgrade(engine)
            started = time.perf_counter()
            ids = _seed(engine, videos)
            seeded = time.perf_counter() - started
            measured = _measure(engine, ids, samples)
            measured.update(_http(engine, _public_ready_ids(engine, 5000), samples))
            measured["seed_seconds"] = round(seeded, 1)
            report["databases"][label] = measured
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    print(f"\nSQL lists at {report['videos']:,} videos ({report['samples']} samples each), ms")
    header = f"{'database':<11} {'measure':<16} {'p50':>8} {'p95':>8} {'p99':>8}"
    print(header)
    print("-" * len(header))
    for db, measured in report["databases"].items():
        for name in (
            "first_page",
            "deep_page",
            "most_viewed",
            "get",
            "raw_first_page",
            "raw_get",
            "http_first_page",
            "http_deep_page",
            "http_get",
        ):
            row = measured[name]
            print(
                f"{db:<11} {name:<16} {row['p50_ms']:>8.2f} {row['p95_ms']:>8.2f} "
                f"{row['p99_ms']:>8.2f}"
            )
        print(
            f"{db:<11} adapter/raw    first page x{measured['ratio_first_page_vs_raw']['p50']:.2f}"
            f", get x{measured['ratio_get_vs_raw']['p50']:.2f} (p50)"
        )
    print("http_*: through `videoplatform serve` (1 sync worker, read cache off), one client")
    pg = report["databases"].get("postgresql")
    if pg:
        verdict = (
            "met"
            if pg["first_page"]["p95_ms"] < 10 and pg["deep_page"]["p95_ms"] < 10
            else "NOT met"
        )
        print(f"goal: PostgreSQL list p95 < 10 ms at 100k: {verdict}")
