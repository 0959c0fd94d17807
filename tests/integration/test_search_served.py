"""Search through real processes: a video uploaded over HTTP is found by a misspelled
word of its title within a second or so of its commit, on the embedded profile (SQLite
FTS5, events handled in the serving process) and on PostgreSQL (the worker process
handles the event, the API answers from the shared index); ``search reindex`` rebuilds
the index from the database."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench import clips as media_clips

from tests.integration.served import API, Served, Worker, command, sign_up, upload_video


def found_within(
    http: httpx.Client, me: dict[str, str], query: str, seconds: float = 10
) -> tuple[dict[str, Any], float]:
    """The first answer to ``query`` that lists a video, and how long it took to come."""
    started = time.monotonic()
    while True:
        result = http.get(f"{API}/search", params={"q": query}, headers=me)
        assert result.status_code == 200, result.text
        body: dict[str, Any] = result.json()
        if body["items"] or time.monotonic() - started > seconds:
            return body, time.monotonic() - started
        time.sleep(0.05)


def check_found(http: httpx.Client, clip: bytes) -> None:
    me = sign_up(http)
    video_id = upload_video(http, me, clip, "Lighthouse at dawn")
    body, waited = found_within(http, me, "lighthuose")
    assert [item["video"]["id"] for item in body["items"]] == [video_id], body
    assert (body["query"], body["corrected_from"]) == ("lighthouse", "lighthuose")
    assert waited < 5, f"searchable {waited:.2f} s after the upload's commit"
    # Another user does not find a video that is not public yet (still processing or
    # private), whatever they type.
    stranger = sign_up(http)
    result = http.get(f"{API}/search", params={"q": "lighthouse"}, headers=stranger)
    assert [i["video"]["id"] for i in result.json()["items"]] in ([], [video_id])
    if result.json()["items"]:
        assert http.get(f"{API}/videos/{video_id}", headers=stranger).status_code == 200


@pytest.fixture
def clip(tmp_path: Path) -> bytes:
    return media_clips.clip(tmp_path, "clip.mp4", width=160, height=90, duration=0.5).read_bytes()


def test_embedded_a_new_upload_is_found_by_a_misspelled_word(tmp_path: Path, clip: bytes) -> None:
    (tmp_path / "api").mkdir()
    server = Served(tmp_path / "api")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            check_found(http, clip)
    finally:
        server.stop()
    reindexed = command(
        {"VIDEOPLATFORM_DATA_DIR": str(tmp_path / "api" / "data")}, tmp_path, "search", "reindex"
    )
    assert reindexed.returncode == 0, reindexed.stderr
    assert "indexed 1 video(s)" in reindexed.stdout


def test_postgresql_a_new_upload_is_found_by_a_misspelled_word(
    tmp_path: Path, clip: bytes, production_env: dict[str, str]
) -> None:
    env = {**production_env, "VIDEOPLATFORM_RELAY_POLL_MS": "100"}
    (tmp_path / "api").mkdir()
    server = Served(tmp_path / "api", env=env)
    worker = Worker(env, tmp_path, "worker")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            check_found(http, clip)
    finally:
        server.stop()
        worker.stop()
