"""Following processing as Server-Sent Events through the real processes: ``serve``
alone on the embedded profile (its in-process feed), and ``serve`` and ``worker`` as
separate processes sharing a Redis feed on the production profile, where the updates
the worker publishes reach the stream the API process serves."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench import clips as media_clips

from tests.conftest import ServiceEndpoint
from tests.integration.served import API, Served, process_env, sign_up, upload_video

EXE = str(Path(sys.executable).parent / "videoplatform")
FAST_MEDIA = {
    "VIDEOPLATFORM_X264_PRESET": "ultrafast",
    "VIDEOPLATFORM_HLS_SEGMENT_SECONDS": "1",
    "VIDEOPLATFORM_POSTER_WIDTHS": "320",
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("clip")
    return media_clips.clip(folder, "clip.mp4", width=640, height=360, duration=4.0).read_bytes()


class Events:
    """An open event stream, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def next(self) -> dict[str, Any] | None:
        """The next event, or None when the stream ended."""
        fields: dict[str, str] = {}
        for line in self._lines:
            if line == "":
                if "data" in fields:
                    return {
                        "event": fields["event"],
                        "id": int(fields["id"]),
                        "data": json.loads(fields["data"]),
                    }
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
        return None

    def rest(self) -> list[dict[str, Any]]:
        found = []
        while (event := self.next()) is not None:
            found.append(event)
        return found


def _check_sequence(events: list[dict[str, Any]], video_id: str) -> None:
    """Ids count up from 1, progress never goes back, the last event is ready."""
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert {e["data"]["id"] for e in events} == {video_id}
    progress = [e["data"]["progress"] for e in events]
    assert progress == sorted(progress)
    assert events[-1]["event"] == "status"
    assert events[-1]["data"]["status"] == "ready", events[-1]
    assert events[-1]["data"]["progress"] == 100


def test_an_event_stream_follows_an_upload_until_ready_on_the_embedded_profile(
    tmp_path: Path, clip: bytes
) -> None:
    server = Served(tmp_path, env=FAST_MEDIA)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            me = sign_up(http)
            video_id = upload_video(http, me, clip, "Followed")
            url = f"{API}/videos/{video_id}/events"
            with http.stream("GET", url, headers=me, timeout=120) as response:
                assert response.status_code == 200
                assert response.headers["content-type"] == "text/event-stream"
                events = Events(response).rest()  # the stream ends by itself after ready
            _check_sequence(events, video_id)
            assert events[0]["event"] == "status"
            final = http.get(f"{API}/videos/{video_id}/progress", headers=me).json()
            assert events[-1]["data"] == final
    finally:
        server.stop()


def test_the_workers_updates_reach_the_api_processes_stream_over_redis(
    tmp_path: Path,
    clip: bytes,
    production_env: dict[str, str],
    redis_service: ServiceEndpoint,
) -> None:
    production_env.update(
        {
            **FAST_MEDIA,
            "VIDEOPLATFORM_FEED_URL": f"redis://{redis_service.host}:{redis_service.port}/0",
        }
    )
    env = process_env(production_env)
    (tmp_path / "api").mkdir()
    # Database re-reads every 5 seconds could carry the states too; the stream must show
    # the worker's progress steps, which only the feed brings in such detail.
    server = Served(tmp_path / "api", env=production_env)
    worker: subprocess.Popen[bytes] | None = None
    worker_log = (tmp_path / "worker.log").open("wb")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            me = sign_up(http)
            video_id = upload_video(http, me, clip, "Followed")
            url = f"{API}/videos/{video_id}/events"
            with http.stream("GET", url, headers=me, timeout=120) as response:
                assert response.status_code == 200
                events = Events(response)
                first = events.next()
                assert first is not None
                # No worker runs yet: the video waits, and the stream says so.
                assert (first["event"], first["data"]["status"]) == ("status", "uploaded")
                worker = subprocess.Popen(
                    [EXE, "worker", "--concurrency", "1"],
                    env=env,
                    cwd=tmp_path,
                    stdout=worker_log,
                    stderr=subprocess.STDOUT,
                )
                started = time.monotonic()
                rest = events.rest()
            _check_sequence([first, *rest], video_id)
            statuses = [e["data"]["status"] for e in rest]
            assert statuses[0] == "processing"
            steps = [e for e in rest if e["event"] == "progress"]
            assert len(steps) >= 2, rest
            assert time.monotonic() - started < 110
    finally:
        server.stop()
        if worker is not None:
            worker.terminate()
            try:
                assert worker.wait(timeout=30) == 0, (tmp_path / "worker.log").read_text()
            finally:
                if worker.poll() is None:
                    worker.kill()
        worker_log.close()
