"""One environment variable moves the whole platform onto PostgreSQL (plus the playback
secret that API nodes on several machines must share)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg

from videoplatform.adapters.sql import migrate

EXE = str(Path(sys.executable).parent / "videoplatform")


def run(
    args: list[str], url: str, tmp_path: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
    env = {
        **clean,
        "VIDEOPLATFORM_DATABASE_URL": url,
        "VIDEOPLATFORM_DATA_DIR": str(tmp_path / "data"),
        "VIDEOPLATFORM_PLAYBACK_SECRET": secrets.token_urlsafe(48),
    }
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        input=stdin,
        cwd=tmp_path,
        env=env,
    )


SCRIPT = textwrap.dedent(
    """
    import io
    import videoplatform as vp

    platform = vp.create_platform()
    alice = platform.users.register(vp.RegisterUser("alice@example.com", "long passphrase!", "A"))
    me = vp.Caller(alice.id)
    source = io.BytesIO(b"\\x00\\x00\\x00\\x18ftypmp42 bytes")
    video = platform.videos.upload(me, vp.UploadVideo("On Postgres", source))
    link = platform.shares.create(me, vp.CreateShare(video_id=video.id, max_uses=1))
    print(platform.shares.redeem(link.token).video.title)
    try:
        platform.shares.redeem(link.token)
    except vp.ShareRefused as refused:
        print(refused.code)
    platform.close()
    """
)


def test_the_platform_runs_on_postgresql_by_setting_one_variable(
    database_url: str, tmp_path: Path
) -> None:
    refused = run([EXE, "check"], database_url, tmp_path)
    assert refused.returncode == 2
    assert "run `videoplatform migrate upgrade` first" in refused.stderr

    migrated = run([EXE, "migrate", "upgrade"], database_url, tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert f"revision {migrate.head()} (up to date)" in migrated.stdout

    checked = run([EXE, "check"], database_url, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "database  postgresql://" in checked.stdout

    used = run([sys.executable, "-c", SCRIPT], database_url, tmp_path)
    assert used.returncode == 0, used.stderr
    assert used.stdout.splitlines() == ["On Postgres", "share_exhausted"]

    with psycopg.connect(database_url) as conn:
        actions = [
            row[0]
            for row in conn.execute("SELECT action FROM audit_events ORDER BY seq").fetchall()
        ]
    assert actions == [
        "user.register",
        "video.upload",
        "share.create",
        "share.redeem",
        "share.redeem",
    ]
    verified = run([EXE, "audit", "verify"], database_url, tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "5 events verified" in verified.stdout
