"""What observability costs the API: requests per second with everything off, with the
Prometheus metrics on, and with the metrics plus tracing (OTLP/HTTP, 10 % of traces
sampled), three servers measured in the same run, alternately, twice each.

Measured: ``GET /api/v1/videos/{id}`` (public, ready videos; the ids rotate) with the
anonymous read cache off, so that every request runs its SQL statements, the part that
tracing instruments most. The traced server exports to a sink in this process that
accepts every batch (a collector that keeps up). One gunicorn worker with one thread,
load from another process, as in :mod:`bench.http`.

Goal: each of "metrics" and "metrics + tracing at 10 %" at most 10 % below everything
off (a ratio of at least 0.90).

Run as ``python -m bench observability`` from the repository root.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.http import CHEAP_ARGON2, SERVER, _measure, _seed, _server, single_server

RATIO_GOAL = 0.90
ROUNDS = 2
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


def run(
    *, videos: int = 200, duration: float = 8.0, connections: int = 2, warmup: float = 1.0
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "videos": videos,
        "connections": connections,
        "duration_s": duration,
        "rounds": ROUNDS,
        "server": SERVER,
        "cpus": os.cpu_count(),
        "configs": {},
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
        rates: dict[str, list[float]] = {name: [] for name in CONFIGS}
        with contextlib.ExitStack() as servers:
            urls = {}
            for name in CONFIGS:
                (work / name).mkdir()
                urls[name] = servers.enter_context(
                    _server(single_server(), envs[name], work / name)
                )
            for round_ in range(ROUNDS):
                for name in CONFIGS:
                    print(
                        f"observability: {name}, round {round_ + 1} ({duration:g} s)...", flush=True
                    )
                    measured = _measure(urls[name], rotation, connections, duration, warmup)
                    if "rps" not in measured:
                        report["configs"][name] = measured
                        break
                    rates[name].append(measured["rps"])
        report["exported_batches"] = batches[0]  # the servers flushed their spans as they stopped
    for name in CONFIGS:
        if rates[name]:
            report["configs"][name] = {
                "rps": sum(rates[name]) / len(rates[name]),
                "runs": rates[name],
            }
    baseline = report["configs"].get("off", {}).get("rps")
    for name in CONFIGS[1:]:
        row = report["configs"].get(name, {})
        if baseline and "rps" in row:
            row["ratio_vs_off"] = row["rps"] / baseline
            row["goal_met"] = row["ratio_vs_off"] >= RATIO_GOAL
    report["goal"] = {"ratio_vs_off_min": RATIO_GOAL}
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"\nObservability cost on GET /api/v1/videos/{{id}} (read cache off), gunicorn "
        f"1 worker x 1 thread, {report['connections']} connections, "
        f"{report['duration_s']:g} s x {report['rounds']} rounds, {report['cpus']} CPUs"
    )
    print(f"{'config':<24} {'rps':>9} {'x off':>7}  goal")
    for name, row in report["configs"].items():
        if "rps" not in row:
            print(f"{name:<24} not measured: {row.get('unavailable', '?')}")
            continue
        ratio = row.get("ratio_vs_off", 1.0)
        goal = "" if name == "off" else ("met" if row.get("goal_met") else "NOT met")
        print(f"{name:<24} {row['rps']:>9.0f} {ratio:>7.3f}  {goal}")
    print(
        f"goal: at most {100 - report['goal']['ratio_vs_off_min'] * 100:.0f} % fewer requests "
        f"per second than everything off; spans exported in {report['exported_batches']} batches"
    )
