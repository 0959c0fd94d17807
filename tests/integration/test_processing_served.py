"""An upload becomes a playable video through the real processes: ``serve`` alone on the
embedded profile (its in-process queue and processing threads), and on the production
profile ``serve`` and ``worker`` as separate processes over PostgreSQL and RabbitMQ."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from bench import clips as media_clips

from tests.integration.served import (
    API,
    Served,
    play,
    process_env,
    sign_up,
    upload_video,
)

EXE = str(Path(sys.executable).parent / "videoplatform")
FAST_MEDIA = {
    "VIDEOPLATFORM_X264_PRESET": "ultrafast",
    "VIDEOPLATFORM_HLS_SEGMENT_SECONDS": "1",
    "VIDEOPLATFORM_POSTER_WIDTHS": "320",
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("clip")
    return media_clips.clip(folder, "clip.mp4", width=640, height=360, duration=2.0).read_bytes()


def _upload_and_play(url: str, clip: bytes) -> None:
    """Register, upload, wait for ready (following progress), then play the ladder as a
    player would, through the signed URLs; the same segment unsigned is refused."""
    with httpx.Client(base_url=url, timeout=30) as http:
        me = sign_up(http)
        video_id = upload_video(http, me, clip, "Processed")
        seen: list[int] = []
        deadline = time.monotonic() + 120
        state: dict[str, object] = {}
        while time.monotonic() < deadline:
            state = http.get(f"{API}/videos/{video_id}/progress", headers=me).json()
            seen.append(int(str(state["progress"])))
            if state["status"] in ("ready", "failed"):
                break
            time.sleep(0.2)
        assert state["status"] == "ready", state
        assert seen == sorted(seen)  # progress never goes backwards
        play(http, me, video_id, rungs=1)
        unsigned = http.get(f"{API}/play/x.y/hls/360p/segment_00000.ts")
        assert unsigned.status_code == 403


def test_serve_alone_processes_an_upload_on_the_embedded_profile(
    tmp_path: Path, clip: bytes
) -> None:
    server = Served(tmp_path, env=FAST_MEDIA)
    try:
        _upload_and_play(server.url, clip)
    finally:
        server.stop()


def test_api_and_worker_processes_on_the_production_profile(
    tmp_path: Path, clip: bytes, production_env: dict[str, str]
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
        _upload_and_play(server.url, clip)
    finally:
        server.stop()
        worker.terminate()
        try:
            assert worker.wait(timeout=30) == 0, (tmp_path / "worker.log").read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
            worker_log.close()
