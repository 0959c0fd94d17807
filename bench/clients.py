"""A normal request's latency while idle and slow clients hold connections open, under
each worker model gunicorn offers ``serve``: the threaded worker ``serve`` runs
(entrypoints/http/workers.py), gunicorn's own ``gthread`` worker with the same threads,
and the synchronous worker.

The hostile clients (bench/hostile.py): ``--idle`` connections that send
nothing, ``--slow-headers`` that send one header byte a second, and ``--slow-bodies``
signed-in uploads sending 2 KiB a second. The normal client makes ``--requests``
``GET /api/v1/videos?limit=20`` one after another, each on a new connection, each given
up after 10 s (counted as a timeout, at 10 s; after three, the rest are counted as time-outs
without being made). Reported per model: p50, p95 and max with
the hostile clients connected, the same without them, and their ratio.

Goal: with 200 idle and 50 slow clients, the default ``serve`` answers a normal request
in under 100 ms at p95.

Run as ``python -m bench clients`` from the repository root. This module is also the
server process for gunicorn's own workers (``python -m bench.clients --serve gthread``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.clips import MP4_HEAD
from bench.hostile import HostileClients, percentile, time_requests
from bench.http import CHEAP_ARGON2, _server
from videoplatform.entrypoints.http import wsgi
from videoplatform.entrypoints.http.server import GunicornServer, ServeOptions, prepare
from videoplatform.entrypoints.logging import configure_logging
from videoplatform.entrypoints.settings import Settings

P95_GOAL_MS = 100.0
TIMEOUT_S = 10.0
GIVE_UP_AFTER = 3
PATH = "/api/v1/videos?limit=20"
MODELS = ("threaded", "gthread", "sync")
GUNICORN_WORKERS = {"gthread": "gthread", "sync": "sync"}


class _Stock(GunicornServer):
    """``serve``'s gunicorn configuration with one of gunicorn's own worker classes."""

    def __init__(self, options: ServeOptions, worker: str) -> None:
        self._worker = worker

        def announce(addresses: list[str]) -> None:
            print("\n".join(f"listening on {a}" for a in addresses), flush=True)

        super().__init__(options, wsgi.create, announce)

    def load_config(self) -> None:
        super().load_config()
        self.cfg.set("worker_class", self._worker)


def _serve_stock(model: str) -> None:
    configure_logging(json=True, level="warning")
    settings = Settings.from_env()
    prepare(settings)
    threads = settings.threads if model == "gthread" else 1
    options = ServeOptions.from_settings(settings, bind="127.0.0.1:0", threads=threads)
    _Stock(options, GUNICORN_WORKERS[model]).run()


def _timed(host: str, port: int, count: int) -> tuple[list[float], int]:
    return time_requests(host, port, PATH, count, timeout=TIMEOUT_S, give_up_after=GIVE_UP_AFTER)


def _figures(took: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(took, 0.5) * 1000, 2),
        "p95_ms": round(percentile(took, 0.95) * 1000, 2),
        "max_ms": round(max(took) * 1000, 2),
    }


def _model(model: str, folder: Path, args: dict[str, int]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
    env |= {f"VIDEOPLATFORM_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()}
    env |= {"VIDEOPLATFORM_DATA_DIR": str(folder / "data"), "VIDEOPLATFORM_PROCESSING_THREADS": "0"}
    if model == "threaded":
        command = [str(Path(sys.executable).parent / "videoplatform"), "serve"]
        command += ["--bind", "127.0.0.1:0", "--log-level", "warning"]
    else:
        command = [sys.executable, "-m", "bench.clients", "--serve", model]
    with _server(command, env, folder) as url:
        host, port = url.removeprefix("http://").split(":")
        with httpx.Client(base_url=url, timeout=30) as client:
            credentials = {"email": "bench@example.com", "password": "a long passphrase"}
            client.post("/api/v1/auth/register", json={**credentials, "display_name": "B"})
            token = client.post("/api/v1/auth/session", json=credentials).json()["token"]
        quiet, _ = _timed(host, int(port), args["requests"])
        hostile = HostileClients(
            host,
            int(port),
            idle=args["idle"],
            slow_headers=args["slow_headers"],
            slow_bodies=args["slow_bodies"],
            body_path="/api/v1/videos?title=Slow",
            body_headers={"Authorization": f"Bearer {token}", "Content-Type": "video/mp4"},
            body_prefix=MP4_HEAD,
            trickle_bytes=2048,
        )
        with hostile:
            time.sleep(1)
            loaded, late = _timed(host, int(port), args["requests"])
    result: dict[str, Any] = {"quiet": _figures(quiet), "hostile": _figures(loaded)}
    result["timeouts"] = late
    result["p95_ratio"] = round(
        result["hostile"]["p95_ms"] / max(result["quiet"]["p95_ms"], 0.001), 2
    )
    return result


def run(
    *, idle: int = 200, slow_headers: int = 25, slow_bodies: int = 25, requests: int = 100
) -> dict[str, Any]:
    args = {
        "idle": idle,
        "slow_headers": slow_headers,
        "slow_bodies": slow_bodies,
        "requests": requests,
    }
    report: dict[str, Any] = {**args, "cpus": os.cpu_count(), "models": {}}
    for model in MODELS:
        with tempfile.TemporaryDirectory() as folder:
            report["models"][model] = _model(model, Path(folder), args)
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"\nGET {PATH}, {report['requests']} requests one after another, each on a new "
        f"connection; hostile: {report['idle']} idle, {report['slow_headers']} slow-header "
        f"and {report['slow_bodies']} slow-upload connections; {report['cpus']} CPUs"
    )
    print(f"{'worker':<10}{'quiet p95':>11}{'hostile p50':>13}{'p95':>10}{'max':>10}", end="")
    print(f"{'timeouts':>10}{'p95 ratio':>11}")
    for model, result in report["models"].items():
        quiet, hostile = result["quiet"], result["hostile"]
        print(
            f"{model:<10}{quiet['p95_ms']:>9.1f}ms{hostile['p50_ms']:>11.1f}ms"
            f"{hostile['p95_ms']:>8.1f}ms{hostile['max_ms']:>8.1f}ms{result['timeouts']:>10}"
            f"{result['p95_ratio']:>10.1f}x"
        )
    ours = report["models"]["threaded"]["hostile"]["p95_ms"]
    verdict = "meets" if ours < P95_GOAL_MS else "misses"
    print(f"goal: serve's p95 under hostile clients < {P95_GOAL_MS:g} ms: {verdict} ({ours} ms)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clients")
    parser.add_argument("--serve", choices=sorted(GUNICORN_WORKERS), required=True)
    _serve_stock(parser.parse_args(argv).serve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
