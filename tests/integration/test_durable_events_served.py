"""Durable events between real processes on the production profile: a ``worker``
process commits an event (a video it processed is ready), its relay publishes it to
RabbitMQ, and the per-node read-cache handler of a ``serve`` process receives it; the
shared share-revocation handler runs in the worker for a deletion committed by serve."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench import clips as media_clips

from tests.integration.served import API, Served, Worker, sign_up, upload_video

FAST_MEDIA = {
    "VIDEOPLATFORM_X264_PRESET": "ultrafast",
    "VIDEOPLATFORM_HLS_SEGMENT_SECONDS": "1",
    "VIDEOPLATFORM_POSTER_WIDTHS": "320",
    "VIDEOPLATFORM_RELAY_POLL_MS": "100",
}


def wait_for(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def deliveries(server: Served, handler: str) -> list[str]:
    """The events ``handler`` received in the serve process, from its dispatch log."""
    found: list[str] = []
    for line in server.log_lines():
        fields: Any = line.get("dispatch")
        if isinstance(fields, dict) and fields.get("name") == handler:
            found.append(str(fields.get("event")))
    return found


def test_a_serve_process_receives_an_event_a_worker_process_committed(
    tmp_path: Path, production_env: dict[str, str]
) -> None:
    events_env = {**production_env, **FAST_MEDIA}
    clip = media_clips.clip(tmp_path, "clip.mp4", width=320, height=180, duration=1.0)
    (tmp_path / "api").mkdir()
    server = Served(tmp_path / "api", "--log-level", "debug", env=events_env)
    worker = Worker(events_env, tmp_path, "worker")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            me = sign_up(http)
            video_id = upload_video(http, me, clip.read_bytes(), "Crossing")

            def ready() -> bool:
                state = http.get(f"{API}/videos/{video_id}/progress", headers=me).json()
                assert state["status"] != "failed", state
                return bool(state["status"] == "ready")

            wait_for("the worker to process the video", ready, 120)
            # VideoReady was committed by the worker; serve's node subscription gets it.
            wait_for(
                "serve's read cache to receive VideoReady",
                lambda: "VideoReady" in deliveries(server, "read-cache"),
            )
            assert "VideoUploaded" in deliveries(server, "read-cache")

            # And the other way: serve commits a deletion; the worker's shared handler
            # revokes the share (the owner's list of links says so).
            share = http.post(f"{API}/shares", json={"video_id": video_id}, headers=me)
            assert share.status_code == 201, share.text
            share_id = share.json()["share"]["id"]
            assert http.delete(f"{API}/videos/{video_id}", headers=me).status_code == 204

            def revoked() -> bool:
                got = http.get(f"{API}/shares/{share_id}", headers=me)
                return got.status_code == 200 and got.json().get("revoked_at") is not None

            wait_for("the worker to revoke the share", revoked)
    finally:
        server.stop()
        worker.stop()
