"""Property-based API tests from the OpenAPI document (schemathesis), against a real
``videoplatform serve``: every operation, every check, every phase, as an administrator
and as a member.

CI runs a few dozen examples per operation from a fixed seed (the same cases every run);
``nox -s api_fuzz`` runs the same tests with 1,000 and a fresh seed
(``VIDEOPLATFORM_API_FUZZ_EXAMPLES``, ``VIDEOPLATFORM_API_FUZZ_SEED``). What the document
cannot say and the tests need to know is in ``api_contract/hooks.py`` and
``api_contract/schemathesis.toml``, each rule with its reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.served import API, EXE, Served, process_env

HERE = Path(__file__).parent / "api_contract"
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
EXAMPLES = os.environ.get("VIDEOPLATFORM_API_FUZZ_EXAMPLES", "8")
SEED = os.environ.get("VIDEOPLATFORM_API_FUZZ_SEED", "20261206")  # empty: a fresh one
PASSWORD = "a long passphrase"
ENV = {"VIDEOPLATFORM_MEDIA_BACKEND": "synthetic"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    running = Served(tmp_path, env=ENV)
    yield running
    running.stop()


def _token(served: Served, email: str, role: str, folder: Path) -> str:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        if role == "admin":
            made = subprocess.run(
                [EXE, "createadmin", "--email", email, "--password-stdin"],
                input=PASSWORD + "\n",
                env=process_env({"VIDEOPLATFORM_DATA_DIR": str(folder / "data"), **ENV}),
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert made.returncode == 0, made.stderr
        else:
            body = {"email": email, "password": PASSWORD, "display_name": "Member"}
            assert http.post(f"{API}/auth/register", json=body).status_code == 202
        login = http.post(f"{API}/auth/session", json={"email": email, "password": PASSWORD})
        assert login.status_code == 201, login.text
        return str(login.json()["token"])


def _fuzz(served: Served, token: str) -> list[str]:
    return [
        SCHEMATHESIS,
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{served.url}{API}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        EXAMPLES,
        # Signing out would end the session the run is authenticated with.
        "--exclude-name",
        "DELETE /api/v1/auth/session",
        "--no-color",
        *(["--seed", SEED] if SEED else []),
    ]


def test_the_api_keeps_to_its_document(tmp_path: Path) -> None:
    # One run as an administrator and one as a member, each against its own server, at
    # the same time: each run is mostly the fuzzer's own CPU, one core each.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "SCHEMATHESIS_HOOKS": "hooks",
    }
    timeout = max(1800, 12 * int(EXAMPLES))  # 1,000 examples take a while
    runs: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    with contextlib.ExitStack() as stack:
        for role in ("admin", "member"):
            folder = tmp_path / role
            folder.mkdir()
            served = Served(folder, env=ENV)
            stack.callback(served.stop)
            token = _token(served, f"{role}@example.com", role, folder)
            # To files, not pipes: a run waited on second must never block on a full pipe.
            output = stack.enter_context((folder / "schemathesis.out").open("w"))
            process = subprocess.Popen(
                _fuzz(served, token),
                env=env,
                cwd=folder,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
            stack.callback(process.kill)
            runs[role] = (process, folder / "schemathesis.out")
        codes = {role: process.wait(timeout=timeout) for role, (process, _) in runs.items()}
    for role, (_, path) in runs.items():
        report = f"{role}: " + path.read_text(encoding="utf-8", errors="replace")[-25_000:]
        assert codes[role] == 0, report
        assert " passed" in report, report


def test_requests_over_the_servers_limits_are_problems_too(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        long_url = http.get(f"{API}/videos", params={"tag": "x" * 9000})
        big_headers = http.get(
            f"{API}/videos", headers={f"X-Filler-{n}": "y" * 100 for n in range(120)}
        )
    for result, status, code in (
        (long_url, 414, "uri_too_long"),
        (big_headers, 431, "headers_too_large"),
    ):
        assert result.status_code == status
        assert result.headers["content-type"] == "application/problem+json"
        assert result.headers["connection"] == "close"
        assert (result.json()["status"], result.json()["code"]) == (status, code)
