"""The web application as Lighthouse scores it: performance, accessibility, best
practices and SEO of the home and watch pages (goal: 90 or more in each).

Lighthouse 12.2.3 comes from the npm registry (installed once, pinned, under
``bench/results/lighthouse``; 13 wants Node 22) and drives Debian's Chromium
(``/usr/bin/chromium``) headless, with its default mobile emulation and simulated
throttling. The server is ``videoplatform serve`` on the embedded profile with a few
generated clips processed by ffmpeg, so the pages hold real posters and a real player.

Run as ``python -m bench web`` from the repository root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import clips
from bench.http import ROOT, _server, server_env

LIGHTHOUSE = "12.2.3"
CHROMIUM = "/usr/bin/chromium"
TOOLS = ROOT / "bench" / "results" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
GOAL = 90
CLIPS = 4
PASSWORD = "a long passphrase for the bench"  # noqa: S105 - an account on a throwaway server
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} (Node.js) is needed to run Lighthouse")
    return found


def _lighthouse() -> Path:
    cli = TOOLS / "node_modules" / "lighthouse" / "cli" / "index.js"
    if not cli.exists():
        TOOLS.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - npm from the machine, a pinned release
            [_tool("npm"), "i", "-E", "--no-audit", "--no-fund", f"lighthouse@{LIGHTHOUSE}"],
            cwd=TOOLS,
            check=True,
            timeout=600,
        )
    return cli


def _call(url: str, method: str = "GET", body: Any = None, **headers: str) -> Any:
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    kind = {"Content-Type": "application/json"} if body is not None and data != body else {}
    request = urllib.request.Request(  # noqa: S310 - our own server on loopback
        url, data=data, method=method, headers={**kind, **headers}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        raw = answer.read()
    return json.loads(raw) if raw else None


def _publish(url: str, folder: Path) -> str:
    """A creator with ``CLIPS`` public videos, processed; the id of the first."""
    account = {"email": "creator@example.com", "password": PASSWORD}
    _call(f"{url}/api/v1/auth/register", "POST", {**account, "display_name": "Bench Creator"})
    token = _call(f"{url}/api/v1/auth/session", "POST", account)["token"]
    me = {"Authorization": f"Bearer {token}"}
    ids = []
    for n in range(CLIPS):
        clip = clips.clip(folder, f"clip{n}.mp4", width=1280, height=720, duration=6.0)
        made = _call(
            f"{url}/api/v1/videos?title=Harbour+light+number+{n}&visibility=public",
            "POST",
            clip.read_bytes(),
            **me,
            **{"Content-Type": "video/mp4"},
        )
        ids.append(made["id"])
    deadline = time.monotonic() + 600
    for video_id in ids:
        while _call(f"{url}/api/v1/videos/{video_id}", **me)["status"] not in ("ready", "failed"):
            if time.monotonic() > deadline:
                raise RuntimeError("the clips were not processed in time")
            time.sleep(0.5)
    return str(ids[0])


def _scores(cli: Path, url: str, out: Path) -> dict[str, Any]:
    subprocess.run(  # noqa: S603 - node and the pinned Lighthouse
        [
            _tool("node"),
            str(cli),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={out}",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={CHROME_FLAGS}",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        check=True,
        timeout=300,
    )
    report = json.loads(out.read_text())
    scores: dict[str, Any] = {
        name: round(report["categories"][name]["score"] * 100) for name in CATEGORIES
    }
    # What cost points: each weighed audit that did not pass, by category.
    audits = report["audits"]
    scores["shortfalls"] = {
        name: [
            audits[ref["id"]]["title"]
            for ref in report["categories"][name]["auditRefs"]
            if ref["weight"] > 0
            and audits[ref["id"]].get("score") is not None
            and audits[ref["id"]]["score"] < 1
        ]
        for name in CATEGORIES
    }
    return scores


def run() -> dict[str, Any]:
    cli = _lighthouse()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        env = server_env(
            data_dir=str(folder / "data"),
            x264_preset="ultrafast",
            hls_segment_seconds="2",
        )
        command = [
            str(Path(sys.executable).parent / "videoplatform"),
            "serve",
            "--bind",
            "127.0.0.1:0",
        ]
        with _server(command, env, folder) as url:
            video_id = _publish(url, folder)
            pages = {"home": f"{url}/", "watch": f"{url}/watch/{video_id}"}
            scores = {
                name: _scores(cli, page, folder / f"{name}.json") for name, page in pages.items()
            }
    report = {"lighthouse": LIGHTHOUSE, "chromium": CHROMIUM, "goal": GOAL, "scores": scores}
    _print(report)
    return report


def _print(report: dict[str, Any]) -> None:
    print(f"\nLighthouse {report['lighthouse']} (mobile, simulated throttling), goal >= {GOAL}")
    print(f"{'page':<8}" + "".join(f"{c:>16}" for c in CATEGORIES))
    for page, scores in report["scores"].items():
        cells = "".join(
            f"{scores[c]:>13}{'  ' if scores[c] >= GOAL else ' !'} " for c in CATEGORIES
        )
        print(f"{page:<8}{cells}")
    for page, scores in report["scores"].items():
        for category, titles in scores["shortfalls"].items():
            for title in titles:
                print(f"  {page} {category}: {title}")
