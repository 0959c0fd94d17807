"""A newcomer's journey over real HTTP against the real ``serve`` command: register,
log in, upload a clip ffmpeg just generated, list, share, redeem, delete."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import imageio_ffmpeg
import pytest

from tests.integration.served import Served

API = "/api/v1"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Half a second of 64x64 test pattern with a tone, as MP4: a real media file."""
    target = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=10:duration=0.5",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.5",
            "-shortest",
            "-pix_fmt",
            "yuv420p",
            str(target),
        ],
        check=True,
        timeout=60,
    )
    return target.read_bytes()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    served = Served(tmp_path)
    try:
        yield served
    finally:
        served.stop()


def test_register_login_upload_list_share_redeem_delete(server: Served, clip: bytes) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        registered = http.post(
            f"{API}/auth/register",
            json={
                "email": "newcomer@example.com",
                "password": "a long passphrase",
                "display_name": "New",
            },
        )
        assert registered.status_code == 202, registered.text

        login = http.post(
            f"{API}/auth/session",
            json={"email": "newcomer@example.com", "password": "a long passphrase"},
        )
        assert login.status_code == 201, login.text
        me = {"Authorization": f"Bearer {login.json()['token']}"}

        uploaded = http.post(
            f"{API}/videos",
            params={"title": "First light", "tags": "demo,test", "visibility": "unlisted"},
            content=clip,
            headers={**me, "Content-Type": "video/mp4"},
        )
        assert uploaded.status_code == 201, uploaded.text
        video = uploaded.json()
        assert (video["title"], video["size"], video["status"]) == (
            "First light",
            len(clip),
            "uploaded",
        )

        refused = http.post(
            f"{API}/videos",
            params={"title": "Not a video"},
            content=b"%PDF-1.7 definitely not a video",
            headers={**me, "Content-Type": "video/mp4"},
        )
        assert refused.status_code == 415
        assert refused.headers["content-type"] == "application/problem+json"

        mine = http.get(f"{API}/videos", params={"owner": "me"}, headers=me)
        assert [v["id"] for v in mine.json()["items"]] == [video["id"]]
        assert http.get(f"{API}/videos").json()["items"] == []  # not public, not ready

        shared = http.post(
            f"{API}/shares", json={"video_id": video["id"], "max_uses": 2}, headers=me
        )
        assert shared.status_code == 201, shared.text
        token = shared.json()["token"]

        redeemed = http.post(f"{API}/public/shares/redeem", json={"token": token})
        assert redeemed.status_code == 200, redeemed.text
        assert redeemed.json()["video"]["title"] == "First light"

        deleted = http.delete(f"{API}/videos/{video['id']}", headers=me)
        assert deleted.status_code == 204
        gone = http.get(f"{API}/videos/{video['id']}", headers=me)
        assert gone.status_code == 404
        dead_link = http.post(f"{API}/public/shares/redeem", json={"token": token})
        assert dead_link.status_code == 410
        assert dead_link.json()["code"] == "share_revoked"

    requests = [line for line in server.log_lines() if line.get("event") == "request"]
    assert {line["route"] for line in requests} >= {
        f"{API}/auth/register",
        f"{API}/videos",
        f"{API}/videos/{{video_id}}",
        f"{API}/public/shares/redeem",
    }
    assert all(line["request_id"] for line in requests)
