"""The installed ``videoplatform`` console command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "videoplatform")
    return subprocess.run(
        [exe, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_check_validates_settings_and_wires_the_platform() -> None:
    done = _run("check")
    assert done.returncode == 0, done.stderr
    assert "settings are valid" in done.stdout
    assert "database_url   memory://" in done.stdout


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("VIDEOPLATFORM_MAX_UPLOAD_BYTES", "lots", "is not an integer"),
        ("VIDEOPLATFORM_REQUIRE_EMAIL_VERIFICATION", "maybe", "is not a boolean"),
        ("VIDEOPLATFORM_DATABASE_URL", "postgresql://localhost/vp", "not part of this release"),
    ],
)
def test_check_reports_bad_settings_with_exit_code_2(
    variable: str, value: str, message: str
) -> None:
    done = _run("check", env={variable: value})
    assert done.returncode == 2
    assert "configuration error" in done.stderr
    assert message in done.stderr


def test_serve_says_plainly_that_the_http_api_is_not_in_this_release() -> None:
    done = _run("serve")
    assert done.returncode == 2
    assert "not part of this release" in done.stderr
