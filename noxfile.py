"""Task runner for videoplatform's checks.

nox is only the task runner here; dev.py owns the environment. Every session
uses ``venv_backend="none"``: it runs in the already-active environment, the
``.venv`` that ``python3 dev.py`` creates and keeps installed with the
project's ``dev`` extra. Run the checks with

    python3 dev.py test                 # all default sessions
    python3 dev.py test -s unit -- -x   # one session, args after -- go to pytest

Tools are taken from the directory of the interpreter running nox (``.venv/bin``
when nox is run by dev.py), so a tool of the same name elsewhere on PATH is not
picked up by mistake.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox
from nox.command import CommandFailed

nox.options.sessions = ["lint", "typecheck", "contracts", "unit", "integration"]

ROOT = Path(__file__).resolve().parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
LINT_TARGETS = ("src", "tests", "noxfile.py", "dev.py", "setup.py", "bench", "scripts")

# pytest's exit code when it collected no tests at all.
PYTEST_NO_TESTS_COLLECTED = 5

# pytest-xdist worker processes. Unit tests are CPU-bound: one worker per core.
# Integration tests mostly wait on servers, outages and subprocesses: three keep two
# cores busy (four overload them: servers then miss their start-up deadlines).
# VIDEOPLATFORM_TEST_WORKERS overrides both ("0": every test in the pytest process
# itself, as `-- -n 0` does for one session).
WORKERS_ENV = "VIDEOPLATFORM_TEST_WORKERS"
UNIT_WORKERS = "auto"
INTEGRATION_WORKERS = "3"


def xdist_workers(default: str) -> tuple[str, ...]:
    """pytest's options for running the tests in pytest-xdist worker processes."""
    return ("--numprocesses", os.environ.get(WORKERS_ENV, default), "--dist", "loadfile")


def tool(name: str) -> str:
    """The path of a console script installed beside the running interpreter."""
    candidate = BIN / name
    return str(candidate) if candidate.exists() else name


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.run(tool("ruff"), "check", *LINT_TARGETS)
    session.run(tool("ruff"), "format", "--check", *LINT_TARGETS)


@nox.session(venv_backend="none")
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src, tests, noxfile.py and dev.py (see pyproject.toml)."""
    session.run(tool("mypy"), *session.posargs)


@nox.session(venv_backend="none")
def contracts(session: nox.Session) -> None:
    """import-linter: the hexagonal architecture's import contracts."""
    session.run(tool("lint-imports"), "--config", "architecture.toml")


@nox.session(venv_backend="none")
def unit(session: nox.Session) -> None:
    """Fast, isolated tests: unit tests and the port contract suites on the adapters
    that need no service (memory, argon2, ...), one pytest-xdist worker per core."""
    session.run(
        PYTHON,
        "-m",
        "pytest",
        "tests/unit",
        "tests/contracts",
        "-m",
        "not integration",
        *xdist_workers(UNIT_WORKERS),
        *session.posargs,
    )


@nox.session(venv_backend="none")
def integration(session: nox.Session) -> None:
    """Tests against real services (PostgreSQL, Redis, RabbitMQ, ...) and subprocesses.

    Two pytest runs cover tests/integration (every test there carries the
    ``integration`` marker, see its conftest) and the contract suites' cases for
    adapters marked ``integration``:

    1. every test not marked ``serial``, in ``INTEGRATION_WORKERS`` pytest-xdist worker
       processes at once. Most of an integration test's time is spent waiting (on a
       server to start, an outage to be noticed, a subprocess to finish), so more
       workers than cores keep the machine busy. ``--dist loadfile`` sends each test
       file to one worker, so a module's fixtures (a browser, a moto server, a
       database) are still set up once;
    2. then the tests marked ``serial`` (a test that needs the shared services to
       itself), one at a time, with nothing running beside them. None is at present:
       outages go through a TCP proxy (tests/integration/tcp_proxy.py), never by
       stopping a shared server.

    Collecting no test at all (in neither run) is a failure, not a silent success: it
    means the suite was lost (a bad path, a broken conftest, a misplaced marker filter).
    """
    collected = False
    for marker, workers in (
        ("integration and not serial", xdist_workers(INTEGRATION_WORKERS)),
        ("integration and serial", ()),
    ):
        try:
            session.run(
                PYTHON,
                "-m",
                "pytest",
                "tests/integration",
                "tests/contracts",
                "-m",
                marker,
                *workers,
                *session.posargs,
            )
        except CommandFailed as failure:
            if failure.return_code != PYTEST_NO_TESTS_COLLECTED:
                raise
        else:
            collected = True
    if not collected:
        session.error("pytest collected no integration tests (exit code 5)")


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Benchmarks: `python -m bench`, once a bench/ package exists."""
    if not (ROOT / "bench" / "__init__.py").is_file():
        session.skip("no bench/ package yet")
    session.run(PYTHON, "-m", "bench", *session.posargs)


@nox.session(venv_backend="none")
def api_fuzz(session: nox.Session) -> None:
    """The property-based API tests (tests/integration/test_api_contract_served.py) at
    1,000 examples per operation with a fresh seed, as an administrator and a member:
    `python3 dev.py test -s api_fuzz`. Set VIDEOPLATFORM_API_FUZZ_EXAMPLES or
    VIDEOPLATFORM_API_FUZZ_SEED to change either."""
    session.env.setdefault("VIDEOPLATFORM_API_FUZZ_EXAMPLES", "1000")
    session.env.setdefault("VIDEOPLATFORM_API_FUZZ_SEED", "")
    session.run(
        PYTHON,
        "-m",
        "pytest",
        "tests/integration/test_api_contract_served.py",
        "-m",
        "integration",
        *session.posargs,
    )
