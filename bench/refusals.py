"""Does a hidden resource answer as fast as a missing one?

Someone else's private video answers 404 exactly like a missing id; its refusal is
audited, the missing id's too, and neither may make the answer measurably slower. This
suite serves the embedded profile (SQLite, ``videoplatform serve`` with one synchronous
worker, loopback) and requests, as the same signed-in stranger, ``GET
/api/v1/videos/{hidden}`` and ``GET /api/v1/videos/{missing}`` in interleaved pairs
(alternating which goes first, a fresh connection each, as gunicorn's sync worker closes
after every answer), so drift and warm-up fall on both sides alike.

Reported: each side's median and p90, the ratio of the medians, and the median of the
paired differences (hidden minus missing) with a 95 % confidence interval from the sign
test's order statistics (distribution-free). For scale, the same run measures what one
audit write on the request path costs: an administrator reading the private video
(recorded as a privileged read, committed before the answer) against its owner reading
it (nothing recorded), paired the same way; a refusal written on the request path used
to cost the hidden side that much. Goal: the whole interval within a tenth of a
millisecond of 0; what may remain is reading the hidden video's row and checking access,
which a missing id skips. No assertion: a reading, measured in one run.

Run as ``python -m bench.refusals [--pairs N]`` from the repository root.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.http import CHEAP_ARGON2, _server, server_env, single_server
from videoplatform.application.context import Caller
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.settings import Settings

MISSING = "01NOSUCHVIDEO0000000000000"
PASSWORD = "a long bench passphrase"  # noqa: S105 - a throwaway account of the run
GAP_GOAL_MS = 0.1


def _seed(data_dir: Path) -> str:
    """A private video of its owner, a stranger and an administrator; the video's id."""
    settings = Settings(
        data_dir=str(data_dir),
        argon2_time_cost=CHEAP_ARGON2["argon2_time_cost"],
        argon2_memory_kib=CHEAP_ARGON2["argon2_memory_kib"],
        argon2_parallelism=CHEAP_ARGON2["argon2_parallelism"],
    )
    with create_platform(settings) as platform:
        owner = platform.users.register(RegisterUser("owner@example.com", PASSWORD, "Owner"))
        platform.users.register(RegisterUser("stranger@example.com", PASSWORD, "Stranger"))
        platform.users.create_admin(RegisterUser("admin@example.com", PASSWORD, "Admin"))
        video = platform.videos.upload(
            Caller(owner.id),
            UploadVideo(
                title="Private",
                source=io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + bytes(256)),
                visibility=Visibility.PRIVATE,
            ),
        )
        return str(video.id)


def _connect(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def _token(url: str, email: str) -> str:
    conn = _connect(url)
    try:
        body = json.dumps({"email": email, "password": PASSWORD})
        conn.request("POST", "/api/v1/auth/session", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
        if response.status != 201:
            raise RuntimeError(f"login answered {response.status}: {answer[:200]!r}")
        return str(json.loads(answer)["token"])
    finally:
        conn.close()


def _timed_get(url: str, path: str, headers: dict[str, str]) -> tuple[float, int]:
    conn = _connect(url)
    try:
        began = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return time.perf_counter() - began, response.status
    finally:
        conn.close()


def _bearer(url: str, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(url, email)}"}


def _pairs(
    url: str, sides: dict[str, tuple[str, dict[str, str]]], pairs: int, warmup: int
) -> dict[str, Any]:
    """Latencies of each of two requests (path, headers), timed in interleaved pairs
    (alternating which goes first) after ``warmup`` untimed ones; under ``statuses``, the
    statuses seen per side."""
    first, second = sides
    timings: dict[str, Any] = {first: [], second: []}
    statuses: dict[str, set[int]] = {first: set(), second: set()}
    for n in range(warmup + pairs):
        for side in (first, second) if n % 2 == 0 else (second, first):
            path, headers = sides[side]
            seconds, status = _timed_get(url, path, headers)
            statuses[side].add(status)
            if n >= warmup:
                timings[side].append(seconds)
    timings["statuses"] = {side: sorted(seen) for side, seen in statuses.items()}
    return timings


def _sign_test_interval(differences: list[float]) -> tuple[float, float]:
    """A 95 % confidence interval of the median of ``differences`` (sign test, normal
    approximation of the binomial order statistics)."""
    ordered = sorted(differences)
    n = len(ordered)
    half = 1.96 * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half))
    high = min(n - 1, math.ceil(n / 2 + half) - 1)
    return ordered[low], ordered[high]


def _summary_ms(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p90_ms": ordered[round(0.9 * (len(ordered) - 1))] * 1000,
    }


def run(*, pairs: int = 2000, warmup: int = 200) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        data = work / "data"
        hidden_id = _seed(data)
        env = server_env(data_dir=str(data), processing_threads="0")
        command = single_server()
        (work / "served").mkdir()
        with _server(command, env, work / "served") as url:
            path = f"/api/v1/videos/{hidden_id}"
            print(f"refusals: {warmup} warm-up and {pairs} timed pairs, twice...", flush=True)
            stranger = _bearer(url, "stranger@example.com")
            timings = _pairs(
                url,
                {"hidden": (path, stranger), "missing": (f"/api/v1/videos/{MISSING}", stranger)},
                pairs,
                warmup,
            )
            reference = _pairs(
                url,
                {
                    "admin": (path, _bearer(url, "admin@example.com")),
                    "owner": (path, _bearer(url, "owner@example.com")),
                },
                pairs,
                warmup,
            )
    statuses = {"hidden_missing": timings.pop("statuses"), "admin_owner": reference.pop("statuses")}
    differences = [h - m for h, m in zip(timings["hidden"], timings["missing"], strict=True)]
    low, high = _sign_test_interval(differences)
    write_cost = [a - o for a, o in zip(reference["admin"], reference["owner"], strict=True)]
    report: dict[str, Any] = {
        "pairs": pairs,
        "warmup_pairs": warmup,
        "cpus": os.cpu_count(),
        "statuses": statuses,
        "hidden": _summary_ms(timings["hidden"]),
        "missing": _summary_ms(timings["missing"]),
        "median_ratio": statistics.median(timings["hidden"])
        / statistics.median(timings["missing"]),
        "paired_difference_ms": {
            "median": statistics.median(differences) * 1000,
            "ci95_low": low * 1000,
            "ci95_high": high * 1000,
        },
        "audit_write_on_request_path_ms": statistics.median(write_cost) * 1000,
    }
    report["goal"] = {
        "gap_ms_max": GAP_GOAL_MS,
        "met": max(abs(low), abs(high)) * 1000 <= GAP_GOAL_MS,
    }
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"\nhidden vs missing video, one signed-in stranger, {report['pairs']} interleaved "
        f"pairs, gunicorn sync worker x1 on loopback, {report['cpus']} CPUs; "
        f"statuses seen: {report['statuses']}"
    )
    header = f"{'request':<10} {'p50 ms':>8} {'p90 ms':>8}"
    print(header)
    print("-" * len(header))
    for side in ("hidden", "missing"):
        row = report[side]
        print(f"{side:<10} {row['p50_ms']:>8.3f} {row['p90_ms']:>8.3f}")
    gap = report["paired_difference_ms"]
    print(f"median ratio hidden/missing: {report['median_ratio']:.3f}")
    print(
        f"paired difference (hidden - missing): median {gap['median']:+.3f} ms, "
        f"95 % CI [{gap['ci95_low']:+.3f}, {gap['ci95_high']:+.3f}] ms"
    )
    print(
        "for scale, one audit write on the request path (admin minus owner reading the "
        f"video, median of pairs): {report['audit_write_on_request_path_ms']:+.3f} ms"
    )
    goal = report["goal"]
    print(
        f"goal: the interval within {goal['gap_ms_max']:g} ms of 0: "
        f"{'met' if goal['met'] else 'NOT met'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.refusals")
    parser.add_argument("--pairs", type=int, default=2000, help="timed request pairs")
    parser.add_argument("--warmup", type=int, default=200, help="untimed pairs first")
    parser.add_argument("--out", default="bench/results", help="folder for the JSON results")
    args = parser.parse_args(argv)
    report = run(pairs=args.pairs, warmup=args.warmup)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"refusals-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nrefusals: results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
