"""Parallel uploads by one user over HTTP against the real ``serve`` on PostgreSQL:
each records its upload in turn (the owner is locked while the quota is checked), so
none is refused as a lost race after its whole body was sent."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.integration.served import API, Served, migrate, sign_up

UPLOADS = 24


def test_parallel_uploads_of_one_user_all_succeed_on_postgres(
    tmp_path: Path, database_url: str
) -> None:
    env = {
        "VIDEOPLATFORM_DATABASE_URL": database_url,
        "VIDEOPLATFORM_PLAYBACK_SECRET": secrets.token_urlsafe(48),
    }
    migrate(env, tmp_path)
    server = Served(tmp_path, "--threads", "8", env=env)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            me = sign_up(http)

        def upload(n: int) -> int:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                made = client.post(
                    f"{API}/files",
                    params={"folder": "/", "name": f"part-{n}.bin"},
                    content=secrets.token_bytes(256 * 1024),
                    headers={**me, "Content-Type": "application/octet-stream"},
                )
                return made.status_code

        with ThreadPoolExecutor(max_workers=UPLOADS) as pool:
            statuses = list(pool.map(upload, range(UPLOADS)))
        assert statuses == [201] * UPLOADS
        with httpx.Client(base_url=server.url, timeout=60) as http:
            listed = http.get(f"{API}/files", params={"folder": "/", "limit": 100}, headers=me)
        assert listed.status_code == 200
        assert len(listed.json()["files"]) == UPLOADS
    finally:
        server.stop()
