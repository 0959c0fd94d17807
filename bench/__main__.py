"""``python -m bench [NAME ...] [--videos N]``: run benchmarks, print tables, write JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import clients, http, imports, media, observability, refusals, sql, storage, web
from bench import queue as queue_bench
from bench import search as search_bench

SUITES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "imports": lambda a: imports.run(runs=a.import_runs),
    "sql": lambda a: sql.run(
        videos=a.videos if a.videos is not None else 100_000,
        samples=a.samples,
        duration=a.duration or 5.0,
        connections=a.connections or 1,
    ),
    "search": lambda a: search_bench.run(
        postgres_videos=a.postgres_videos,
        sqlite_videos=a.sqlite_videos,
        samples=a.search_samples,
        like_samples=a.like_samples,
    ),
    "storage": lambda a: storage.run(
        upload_bytes=a.upload_mib * 1024 * 1024,
    ),
    "media": lambda a: media.run(
        clip_seconds=a.ladder_seconds,
        long_minutes=a.long_minutes,
        rounds=a.rounds,
        chart_to=Path(a.out) / f"media-{time.strftime('%Y%m%dT%H%M%S')}.png",
    ),
    "http": lambda a: http.run(
        videos=a.videos if a.videos is not None else 200,
        duration=a.duration or 4.0,
        connections=a.connections or 4,
        rounds=a.rounds,
        postgres=not a.no_postgres,
    ),
    "clients": lambda a: clients.run(
        idle=a.idle, slow_headers=a.slow_headers, slow_bodies=a.slow_bodies, requests=a.requests
    ),
    "refusals": lambda a: refusals.run(pairs=a.pairs),
    "observability": lambda a: observability.run(
        videos=a.videos if a.videos is not None else 200,
        duration=a.duration or 4.0,
        connections=a.connections,
    ),
    "web": lambda a: web.run(),
    "queue": lambda a: queue_bench.run(
        jobs=a.queue_jobs,
        samples=a.queue_samples,
        consumers=a.queue_consumers,
        videos=a.transcodes,
        workers=a.worker_processes,
        clip_seconds=a.clip_seconds,
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("suites", nargs="*", default=list(SUITES), choices=list(SUITES))
    parser.add_argument(
        "--videos", type=int, default=None, help="rows to seed (sql: 100000, http: 200)"
    )
    parser.add_argument("--samples", type=int, default=300, help="timed calls per measurement")
    parser.add_argument(
        "--pairs", type=int, default=2000, help="hidden/missing request pairs (refusals)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds of load per measurement (http: 4, observability: 4)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=None,
        help="concurrent connections (http: 4; observability: each set-up's own)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds per measurement (http, media)"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only (http)")
    parser.add_argument("--upload-mib", type=int, default=2048, help="upload size (storage)")
    parser.add_argument("--ladder-seconds", type=float, default=10.0, help="ladder clip (media)")
    parser.add_argument(
        "--long-minutes", type=float, default=10.0, help="poster/storyboard file (media)"
    )
    parser.add_argument("--queue-jobs", type=int, default=2000, help="empty-job backlog (queue)")
    parser.add_argument("--queue-samples", type=int, default=100, help="latency jobs (queue)")
    parser.add_argument("--queue-consumers", type=int, default=1, help="consumer threads (queue)")
    parser.add_argument("--transcodes", type=int, default=8, help="videos to transcode (queue)")
    parser.add_argument(
        "--worker-processes", type=int, default=2, help="most worker processes (queue)"
    )
    parser.add_argument("--clip-seconds", type=float, default=2.0, help="clip length (queue)")
    parser.add_argument(
        "--import-runs", type=int, default=15, help="fresh interpreters per figure (imports)"
    )
    parser.add_argument("--idle", type=int, default=200, help="idle connections (clients)")
    parser.add_argument("--slow-headers", type=int, default=25, help="slowloris (clients)")
    parser.add_argument("--slow-bodies", type=int, default=25, help="slow uploads (clients)")
    parser.add_argument("--requests", type=int, default=100, help="timed requests (clients)")
    parser.add_argument(
        "--postgres-videos", type=int, default=1_000_000, help="PostgreSQL corpus (search; 0: skip)"
    )
    parser.add_argument(
        "--sqlite-videos", type=int, default=100_000, help="SQLite corpus (search; 0: skip)"
    )
    parser.add_argument(
        "--search-samples", type=int, default=200, help="queries per measure (search)"
    )
    parser.add_argument(
        "--like-samples", type=int, default=20, help="LIKE scans per measure (search)"
    )
    parser.add_argument("--out", default="bench/results", help="folder for the JSON results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.suites:
        results = SUITES[name](args)
        path = out / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
        path.write_text(json.dumps(results, indent=2))
        print(f"\n{name}: results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
