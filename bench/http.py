"""Requests per second and latency of the HTTP API under gunicorn (one synchronous
worker, loopback), next to a bare Falcon app returning a constant JSON under identical
server settings, measured in the same run.

Measured: ``GET /api/v1/videos/{id}`` (a public, ready video; the ids rotate) and the
first page of ``GET /api/v1/videos``, on the embedded profile (SQLite in a temporary data
directory) seeded through the platform's own services and repositories. The load comes
from another process: ``wrk`` when it is installed, otherwise a bounded Python load
generator (http.client, a fixed number of connections for a fixed time). A Python driver
can be the bottleneck: the bare app's absolute rate is reported so the reader can tell.

Goals: single video at least 0.55 of the bare app's requests per second, p99 < 10 ms.

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
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import falcon

from videoplatform.application.context import Caller
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import MediaInfo, PlaybackAssets, Rendition, Visibility
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.http.server import GunicornServer, ServeOptions
from videoplatform.entrypoints.logging import configure_logging
from videoplatform.entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
VIDEO_RATIO_GOAL = 0.55
P99_GOAL_MS = 10.0
LISTENING = re.compile(r"listening on\s+(http://[\d.]+:\d+)")
BARE_BODY = json.dumps({"status": "ok", "service": "bare"}).encode()
# The server settings both apps run under; only the application differs.
SERVER = {"bind": "127.0.0.1:0", "workers": 1, "threads": 1}
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


# -- seeding ---------------------------------------------------------------------------


def _seed(data_dir: Path, count: int) -> list[str]:
    """``count`` public videos, uploaded then moved to ready through the aggregate."""
    settings = Settings(
        data_dir=str(data_dir),
        argon2_time_cost=CHEAP_ARGON2["argon2_time_cost"],
        argon2_memory_kib=CHEAP_ARGON2["argon2_memory_kib"],
        argon2_parallelism=CHEAP_ARGON2["argon2_parallelism"],
    )
    ids: list[str] = []
    with create_platform(settings) as platform:
        owner = platform.users.register(
            RegisterUser("bench@example.com", "a long bench passphrase", "Bench")
        )
        caller = Caller(owner.id)
        for n in range(count):
            video = platform.videos.upload(
                caller,
                UploadVideo(
                    title=f"Bench video {n}",
                    description=f"Video number {n}, seeded for the HTTP benchmark.",
                    source=io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + bytes(256)),
                    tags=["bench", f"batch-{n % 10}"],
                    visibility=Visibility.PUBLIC,
                ),
            )
            ids.append(str(video.id))
        units: UnitOfWorkFactory = platform.resolve(UnitOfWorkFactory)  # type: ignore[type-abstract]
        for video_id in ids:
            with units() as uow:
                video = uow.videos.get(VideoId(video_id))
                now = video.created_at + timedelta(seconds=5)
                video.start_processing(now)
                video.mark_ready(
                    media_info=MediaInfo(
                        duration_seconds=12.5,
                        width=1280,
                        height=720,
                        video_codec="h264",
                        audio_codec="aac",
                        fps=30.0,
                        bitrate=2_500_000,
                        container="mp4",
                    ),
                    renditions=[
                        Rendition(
                            "720p",
                            1280,
                            720,
                            2_500_000,
                            "avc1.64001f,mp4a.40.2",
                            "720p/index.m3u8",
                        )
                    ],
                    assets=PlaybackAssets(
                        prefix=f"videos/{video_id}/out/", master_playlist="master.m3u8"
                    ),
                    now=now,
                )
                uow.videos.save(video)
                uow.commit()
    return ids


# -- the servers -----------------------------------------------------------------------


def bare_app() -> falcon.App[falcon.Request, falcon.Response]:
    class Constant:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = falcon.MEDIA_JSON
            resp.data = BARE_BODY

    app: falcon.App[falcon.Request, falcon.Response] = falcon.App()
    app.add_route("/", Constant())
    return app


def _serve_bare() -> None:
    """The bare app under exactly the gunicorn configuration ``videoplatform serve``
    builds from the same options."""
    configure_logging(json=True)
    options = ServeOptions.from_settings(Settings(), **SERVER)

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


def _fetch(url: str, path: str) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- the load drivers --------------------------------------------------------------------


def _percentiles_ms(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000

    return {"p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def _drive(url: str, paths: list[str], connections: int, duration: float, warmup: float) -> None:
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
                conn.request("GET", path)
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
        **(_percentiles_ms(merged) if merged else {}),
    }
    print(json.dumps(result), flush=True)


def _python_driver(
    url: str, paths: list[str], connections: int, duration: float, warmup: float
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as listing:
        json.dump(paths, listing)
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
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("VPBENCH %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _wrk_driver(
    wrk: str, url: str, paths: list[str], connections: int, duration: float, warmup: float
) -> dict[str, Any]:
    quoted = ", ".join(json.dumps(p) for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % quoted)
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
    url: str, paths: list[str], connections: int, duration: float, warmup: float
) -> dict[str, Any]:
    status, body = _fetch(url, paths[0])
    if status != 200:
        return {"unavailable": f"GET {paths[0]} answered {status}: {body[:200]!r}"}
    wrk = shutil.which("wrk")
    if wrk:
        result = _wrk_driver(wrk, url, paths, connections, duration, warmup)
    else:
        result = _python_driver(url, paths, connections, duration, warmup)
    result["rps"] = result["requests"] / result["seconds"]
    result["response_bytes"] = len(body)
    return result


def run(
    *, videos: int = 200, duration: float = 8.0, connections: int = 2, warmup: float = 1.0
) -> dict[str, Any]:
    options = ServeOptions.from_settings(Settings(), **SERVER)
    driver = (
        "wrk"
        if shutil.which("wrk")
        else f"python http.client, {connections} threads in one process"
    )
    report: dict[str, Any] = {
        "driver": driver,
        "server": {
            "worker_class": options.worker_kind,
            "workers": options.workers,
            "threads": options.threads,
            "timeout": options.timeout,
            "graceful_timeout": options.graceful_timeout,
        },
        "videos": videos,
        "connections": connections,
        "duration_s": duration,
        "warmup_s": warmup,
        "cpus": os.cpu_count(),
        "endpoints": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        data = work / "data"
        started = time.perf_counter()
        ids = _seed(data, videos)
        report["seed_seconds"] = round(time.perf_counter() - started, 1)

        base_env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
        ours_env = {
            **base_env,
            "VIDEOPLATFORM_DATA_DIR": str(data),
            **{f"VIDEOPLATFORM_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()},
        }
        ours_cmd = [
            str(Path(sys.executable).parent / "videoplatform"),
            "serve",
            "--bind",
            str(SERVER["bind"]),
            "--workers",
            str(SERVER["workers"]),
            "--threads",
            str(SERVER["threads"]),
        ]
        bare_cmd = [sys.executable, "-m", "bench.http", "--serve-bare"]
        # The same server with the anonymous read cache off: what a video read costs
        # when it must go to the database (signed-in callers, or a cold entry).
        uncached_env = {**ours_env, "VIDEOPLATFORM_READ_CACHE_SECONDS": "0"}
        # The same server with Prometheus metrics on: every answer and use case counted.
        metered_env = {**ours_env, "VIDEOPLATFORM_METRICS_TOKEN": "bench-metrics-token-0123"}
        (work / "bare").mkdir()
        (work / "ours").mkdir()
        (work / "uncached").mkdir()
        (work / "metered").mkdir()
        rotation = [f"/api/v1/videos/{video_id}" for video_id in ids[:: max(1, len(ids) // 50)]]
        with (
            _server(bare_cmd, base_env, work / "bare") as bare_url,
            _server(ours_cmd, ours_env, work / "ours") as ours_url,
            _server(ours_cmd, uncached_env, work / "uncached") as uncached_url,
            _server(ours_cmd, metered_env, work / "metered") as metered_url,
        ):
            plan = [
                ("bare", bare_url, ["/"]),
                ("video", ours_url, rotation),
                ("video_metered", metered_url, rotation),
                ("video_uncached", uncached_url, rotation),
                ("first_page", ours_url, ["/api/v1/videos"]),
            ]
            for name, url, paths in plan:
                print(f"http: measuring {name} ({duration:g} s)...", flush=True)
                report["endpoints"][name] = _measure(url, paths, connections, duration, warmup)

    bare = report["endpoints"]["bare"]
    for name in ("video", "video_metered", "video_uncached", "first_page"):
        measured = report["endpoints"][name]
        if "rps" in measured:
            measured["ratio_vs_bare"] = measured["rps"] / bare["rps"]
    video = report["endpoints"]["video"]
    metered = report["endpoints"]["video_metered"]
    if "rps" in video and "rps" in metered:
        report["metrics_overhead"] = 1 - metered["rps"] / video["rps"]
    report["goals"] = {
        "video_ratio_min": VIDEO_RATIO_GOAL,
        "p99_ms_max": P99_GOAL_MS,
        "video_ratio_met": video.get("ratio_vs_bare", 0) >= VIDEO_RATIO_GOAL,
        "video_p99_met": video.get("p99_ms", float("inf")) < P99_GOAL_MS,
    }
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    server = report["server"]
    print(
        f"\nHTTP on loopback: gunicorn {server['worker_class']} worker x{server['workers']}, "
        f"{report['connections']} connections, {report['duration_s']:g} s each, "
        f"{report['videos']} videos seeded, {report['cpus']} CPUs"
    )
    print(f"driver: {report['driver']}")
    header = (
        f"{'endpoint':<15} {'rps':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'x bare':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, row in report["endpoints"].items():
        if "unavailable" in row:
            print(f"{name:<15} not measured: {row['unavailable']}")
            continue
        ratio = f"{row['ratio_vs_bare']:.2f}" if "ratio_vs_bare" in row else "1.00"
        print(
            f"{name:<15} {row['rps']:>9.0f} {row['p50_ms']:>8.2f} {row['p95_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f} {row['errors']:>7} {ratio:>7}"
        )
    goals = report["goals"]
    print(
        f"goal: single video >= {goals['video_ratio_min']} x bare: "
        f"{'met' if goals['video_ratio_met'] else 'NOT met'}; "
        f"p99 < {goals['p99_ms_max']:g} ms: {'met' if goals['video_p99_met'] else 'NOT met'}"
    )
    print(
        "video: anonymous reads of public videos, served from the read cache after the "
        "first; video_uncached: the same with the cache off (every read hits SQLite); "
        "video_metered: with Prometheus metrics on."
    )
    if "metrics_overhead" in report:
        cost = report["metrics_overhead"]
        print(f"metrics cost {cost:.1%} of the video rate (goal: at most 10 %)")
    if report["driver"] != "wrk":
        print(
            "note: a Python driver may saturate before the server does; judge the ratio "
            "against the bare app's absolute rps."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http")
    parser.add_argument("--serve-bare", action="store_true", help="run the bare app's server")
    parser.add_argument("--drive", metavar="URL", help="run the Python load driver")
    parser.add_argument("--paths", help="a JSON file listing the paths to request")
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.serve_bare:
        _serve_bare()
        return 0
    if args.drive:
        paths: list[str] = json.loads(Path(args.paths).read_text()) if args.paths else ["/"]
        _drive(args.drive, paths, args.connections, args.duration, args.warmup)
        return 0
    run(connections=args.connections, duration=args.duration, warmup=args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
