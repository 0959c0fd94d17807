"""What observability costs the API: requests per second with everything off, with the
Prometheus metrics on, and with the metrics plus tracing (OTLP/HTTP, 10 % of traces
sampled), three servers measured in the same run, in turn, for several rounds.

Measured: ``GET /api/v1/videos/{id}`` (public, ready videos; the ids rotate) with the
anonymous read cache off, so that every request runs its SQL statements, the part that
tracing instruments most. The traced server exports to a sink in this process that
accepts every batch (a collector that keeps up). Load comes from another process (wrk
where installed, as in :mod:`bench.http`).

Two server set-ups, each with its three servers:

- **default**: ``videoplatform serve`` as it starts without options (one worker with
  four threads, keep-alive), 8 connections. The goal is judged here: it is how the
  platform runs.
- **sync 1x1**: one synchronous worker with one thread, 2 connections, a connection per
  request. The cheapest path through the server: fixed costs per request weigh most
  here, so it is reported as the worst case.

Goal: each of "metrics" and "metrics + tracing at 10 %" at most 10 % below everything
off (a ratio of at least 0.90) on the default set-up. Each round measures the three in
turn and gives each a ratio to "off" in that round; the figure is the median of the
rounds' ratios, so that a drift of the machine's speed during the run moves no
configuration more than another.

Run as ``python -m bench observability`` from the repository root.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.http import CHEAP_ARGON2, _measure, _seed, _server, single_server

RATIO_GOAL = 0.90
ROUNDS = 5
CONFIGS = ("off", "metrics", "metrics_tracing_10pct")


@contextlib.contextmanager
def _sink() -> Iterator[tuple[str, list[int]]]:
    """An OTLP/HTTP endpoint that answers every export at once; its URL, and how many
    batches it received."""
    batches = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            batches[0] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", batches
    finally:
        server.shutdown()
        server.server_close()


def default_server() -> list[str]:
    """``videoplatform serve`` on a free loopback port, with its default settings."""
    return [str(Path(sys.executable).parent / "videoplatform"), "serve", "--bind", "127.0.0.1:0"]


SETUPS: dict[str, tuple[str, Any, int]] = {
    # name: (description, server command, connections)
    "default": ("videoplatform serve, defaults (1 worker x 4 threads)", default_server, 8),
    "sync_1x1": ("1 sync worker x 1 thread, a connection per request", single_server, 2),
}
JUDGED = "default"


def run(
    *, videos: int = 200, duration: float = 4.0, connections: int | None = None, warmup: float = 1.0
) -> dict[str, Any]:
    """``connections``, when given, replaces each set-up's own number."""
    report: dict[str, Any] = {
        "videos": videos,
        "duration_s": duration,
        "rounds": ROUNDS,
        "cpus": os.cpu_count(),
        "judged": JUDGED,
        "setups": {},
    }
    with tempfile.TemporaryDirectory() as folder, _sink() as (sink_url, batches):
        work = Path(folder)
        data = work / "data"
        ids = _seed(data, videos)
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("VIDEOPLATFORM_", "OTEL_"))
        }
        off = {
            **base,
            "VIDEOPLATFORM_DATA_DIR": str(data),
            "VIDEOPLATFORM_READ_CACHE_SECONDS": "0",
            **{f"VIDEOPLATFORM_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()},
        }
        metrics = {**off, "VIDEOPLATFORM_METRICS_TOKEN": "bench-metrics-token-0123"}
        traced = {
            **metrics,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
        }
        envs = dict(zip(CONFIGS, (off, metrics, traced), strict=True))
        rotation = [f"/api/v1/videos/{video_id}" for video_id in ids[:: max(1, len(ids) // 50)]]
        for setup, (description, command, own_connections) in SETUPS.items():
            used = connections or own_connections
            report["setups"][setup] = {
                "server": description,
                "connections": used,
                **_setup(work / setup, command(), envs, rotation, used, duration, warmup),
            }
        report["exported_batches"] = batches[0]  # the servers flushed their spans as they stopped
    report["goal"] = {"ratio_vs_off_min": RATIO_GOAL, "judged_on": JUDGED}
    _print(report)
    return report


def _setup(
    folder: Path,
    command: list[str],
    envs: dict[str, dict[str, str]],
    rotation: list[str],
    connections: int,
    duration: float,
    warmup: float,
) -> dict[str, Any]:
    """The three servers of one set-up, measured in turn for :data:`ROUNDS` rounds."""
    configs: dict[str, Any] = {}
    rates: dict[str, list[float]] = {name: [] for name in CONFIGS}
    with contextlib.ExitStack() as servers:
        urls = {}
        for name in CONFIGS:
            (folder / name).mkdir(parents=True)
            urls[name] = servers.enter_context(_server(command, envs[name], folder / name))
        for round_ in range(ROUNDS):
            for name in CONFIGS:
                print(
                    f"observability: {folder.name}, {name}, round {round_ + 1} ({duration:g} s)...",
                    flush=True,
                )
                measured = _measure(urls[name], rotation, connections, duration, warmup)
                if "rps" not in measured:
                    configs[name] = measured
                    return {"configs": configs}
                rates[name].append(measured["rps"])
    for name in CONFIGS:
        configs[name] = {"rps": statistics.median(rates[name]), "runs": rates[name]}
    for name in CONFIGS[1:]:
        row = configs[name]
        row["round_ratios"] = [
            rate / off for rate, off in zip(rates[name], rates["off"], strict=True)
        ]
        row["ratio_vs_off"] = statistics.median(row["round_ratios"])
        row["goal_met"] = row["ratio_vs_off"] >= RATIO_GOAL
    return {"configs": configs}


def _print(report: dict[str, Any]) -> None:
    print(
        f"\nObservability cost on GET /api/v1/videos/{{id}} (read cache off), "
        f"{report['duration_s']:g} s x {report['rounds']} rounds, {report['cpus']} CPUs"
    )
    for setup, result in report["setups"].items():
        judged = " (the goal is judged here)" if setup == report["judged"] else " (worst case)"
        print(f"\n{setup}: {result['server']}, {result['connections']} connections{judged}")
        print(f"{'config':<24} {'rps':>9} {'x off':>7}  {'goal':<8} x off in each round")
        for name, row in result["configs"].items():
            if "rps" not in row:
                print(f"{name:<24} not measured: {row.get('unavailable', '?')}")
                continue
            ratio = row.get("ratio_vs_off", 1.0)
            goal = "" if name == "off" else ("met" if row.get("goal_met") else "NOT met")
            each = " ".join(f"{r:.3f}" for r in row.get("round_ratios", []))
            print(f"{name:<24} {row['rps']:>9.0f} {ratio:>7.3f}  {goal:<8} {each}")
    print(
        f"\ngoal: at most {100 - report['goal']['ratio_vs_off_min'] * 100:.0f} % fewer requests "
        f"per second than everything off, on the {report['judged']} set-up; spans exported in "
        f"{report['exported_batches']} batches"
    )
