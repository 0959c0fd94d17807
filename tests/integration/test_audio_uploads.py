"""An audio upload becomes a playable video through the real processes, as a video does
(test_processing_served.py): an MP3 posted to ``serve`` is processed (on the embedded
profile by ``serve`` itself; on the production profile by a ``worker`` over PostgreSQL
and RabbitMQ), and ffmpeg, as a player, reads the signed master playlist over HTTP and
decodes the whole recording."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from bench import clips as media_clips

from tests.integration.media import sound_clips
from tests.integration.served import API, Served, process_env, sign_up

EXE = str(Path(sys.executable).parent / "videoplatform")
FAST_MEDIA = {
    "VIDEOPLATFORM_HLS_SEGMENT_SECONDS": "1",
    "VIDEOPLATFORM_POSTER_WIDTHS": "320",
}
SECONDS = 4.0


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("song")
    return sound_clips.mp3_with_cover(folder, duration=SECONDS).read_bytes()


def _wait_until_ready(http: httpx.Client, me: dict[str, str], video_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    state: dict[str, object] = {}
    while time.monotonic() < deadline:
        state = http.get(f"{API}/videos/{video_id}/progress", headers=me).json()
        if state["status"] in ("ready", "failed"):
            break
        time.sleep(0.2)
    return state


def _played_by_ffmpeg(master_url: str) -> tuple[str, float]:
    """ffmpeg reading the signed master URL as a player would (HTTP, every playlist and
    segment resolved from it): its report, and how far it decoded."""
    done = subprocess.run(
        [
            media_clips.ffmpeg_exe(), "-hide_banner", "-nostdin",
            "-i", master_url, "-map", "0:a:0", "-f", "null", "-progress", "pipe:1", "-",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    decoded = [int(us) for us in re.findall(r"^out_time_us=(\d+)$", done.stdout, re.MULTILINE)]
    assert decoded, done.stdout[-2000:]
    return done.stderr, max(decoded) / 1_000_000


def _upload_and_play(url: str, song: bytes) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        me = sign_up(http)
        uploaded = http.post(
            f"{API}/videos",
            params={"title": "A song"},
            content=song,
            headers={**me, "Content-Type": "audio/mpeg"},
        )
        assert uploaded.status_code == 201, uploaded.text
        video_id = str(uploaded.json()["id"])
        state = _wait_until_ready(http, me, video_id)
        assert state["status"] == "ready", state
        issued = http.get(f"{API}/videos/{video_id}/playback", headers=me)
        assert issued.status_code == 200, issued.text
        master_url = urljoin(url, issued.json()["master_url"])
        master = http.get(master_url)
        assert master.status_code == 200
        variants = [ln for ln in master.text.splitlines() if ln and not ln.startswith("#")]
        assert len(variants) == 1
        assert 'CODECS="mp4a.40.2"' in master.text and "RESOLUTION=" not in master.text

    report, decoded = _played_by_ffmpeg(master_url)
    streams = re.findall(r"Stream #0:\d+.*?: (Video|Audio): (\w+)", report)
    assert ("Audio", "aac") in streams
    assert not [kind for kind, _ in streams if kind == "Video"]
    assert decoded == pytest.approx(SECONDS, abs=0.25)


def test_an_mp3_uploaded_to_serve_plays_as_sound_on_the_embedded_profile(
    tmp_path: Path, song: bytes
) -> None:
    server = Served(tmp_path, env=FAST_MEDIA)
    try:
        _upload_and_play(server.url, song)
    finally:
        server.stop()


def test_an_mp3_processed_by_a_worker_plays_on_the_production_profile(
    tmp_path: Path, song: bytes, production_env: dict[str, str]
) -> None:
    production_env.update(FAST_MEDIA)
    (tmp_path / "api").mkdir()
    server = Served(tmp_path / "api", env=production_env)
    worker_log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [EXE, "worker", "--concurrency", "1"],
        env=process_env(production_env),
        cwd=tmp_path,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        _upload_and_play(server.url, song)
    finally:
        server.stop()
        worker.terminate()
        try:
            assert worker.wait(timeout=30) == 0, (tmp_path / "worker.log").read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
            worker_log.close()
