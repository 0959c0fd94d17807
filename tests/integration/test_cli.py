"""The installed ``videoplatform`` console command, on the embedded SQLite profile."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from videoplatform.adapters.sql import migrate

EXE = str(Path(sys.executable).parent / "videoplatform")


def run(
    *args: str, data_dir: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        input=stdin,
        cwd=data_dir.parent,
        env={**clean, "VIDEOPLATFORM_DATA_DIR": str(data_dir), **(env or {})},
    )


def test_check_wires_the_embedded_profile_into_the_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = run("check", data_dir=data)
    assert done.returncode == 0, done.stderr
    assert f"database  sqlite:///{data.resolve() / 'videoplatform.db'}" in done.stdout
    assert (data / "videoplatform.db").is_file()
    sections = re.findall(r"^  \[(\w+)\]$", done.stdout, re.MULTILINE)
    assert sections[:3] == ["persistence", "storage", "queue"]
    assert re.search(rf"^    DATA_DIR +{re.escape(str(data))}$", done.stdout, re.MULTILINE)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("VIDEOPLATFORM_MAX_UPLOAD_BYTES", "lots", "is not an integer"),
        ("VIDEOPLATFORM_REQUIRE_EMAIL_VERIFICATION", "maybe", "is not a boolean"),
        ("VIDEOPLATFORM_DATABASE_URL", "mysql://localhost/vp", "use sqlite:///PATH"),
        ("VIDEOPLATFORM_QUEUE_URL", "kafka://localhost", "use amqp://"),
    ],
)
def test_check_reports_bad_settings_with_exit_code_2(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    done = run("check", data_dir=tmp_path / "data", env={variable: value})
    assert done.returncode == 2
    assert "configuration error" in done.stderr
    assert message in done.stderr


def test_migrate_reports_and_moves_between_revisions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    head = migrate.head()
    assert head != "0001"  # there is more than one revision to move between
    assert f"revision base (head is {head})" in run("migrate", "current", data_dir=data).stdout
    assert f"revision {head} (up to date)" in run("migrate", "upgrade", data_dir=data).stdout
    assert "revision 0001" in run("migrate", "downgrade", "0001", data_dir=data).stdout
    assert "revision base" in run("migrate", "downgrade", "base", data_dir=data).stdout
    history = run("migrate", "history", data_dir=data)
    assert "base -> 0001: Initial schema" in history.stdout
    assert f"-> {head}" in history.stdout


def test_createadmin_then_audit_verify_then_tampering_is_detected(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = run(
        "createadmin",
        "--email",
        "Root@Example.com",
        "--password-stdin",
        data_dir=data,
        stdin="a long enough passphrase\n",
    )
    assert made.returncode == 0, made.stderr
    assert "administrator root@example.com created" in made.stdout

    again = run(
        "createadmin",
        "--email",
        "root@example.com",
        "--password-stdin",
        data_dir=data,
        stdin="a long enough passphrase\n",
    )
    assert again.returncode == 1
    assert "email_taken" in again.stderr

    verified = run("audit", "verify", data_dir=data)
    assert verified.returncode == 0, verified.stderr
    assert "audit trail intact: 1 events verified" in verified.stdout

    with sqlite3.connect(data / "videoplatform.db") as db:
        db.execute('UPDATE audit_events SET metadata = \'{"roles":"viewer"}\'')
    broken = run("audit", "verify", data_dir=data)
    assert broken.returncode == 1
    assert "audit trail BROKEN" in broken.stderr


def test_serve_refuses_bad_settings_before_it_starts_a_server(tmp_path: Path) -> None:
    done = run(
        "serve",
        "--bind",
        "127.0.0.1:0",
        data_dir=tmp_path / "data",
        env={"VIDEOPLATFORM_QUEUE_URL": "kafka://localhost"},
    )
    assert done.returncode == 2
    assert "configuration error" in done.stderr
    assert "listening on" not in done.stdout


def test_serve_refuses_a_worker_count_below_one(tmp_path: Path) -> None:
    done = run("serve", "--workers", "0", data_dir=tmp_path / "data")
    assert done.returncode == 2
    assert "is not at least 1" in done.stderr
