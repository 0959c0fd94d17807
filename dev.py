#!/usr/bin/env python3
"""Bootstrap and run videoplatform's development environment.

This is the one script behind the README's quick-start commands. It needs
nothing but Python 3.11+ (standard library only):

    python3 dev.py setup           create/refresh .venv only
    python3 dev.py test [ARGS]     run the checks: nox's default sessions
                                   (ARGS go to nox, e.g. `-s unit -- -k users`)
    python3 dev.py serve [ARGS]    run `videoplatform serve [ARGS]`

dev.py owns the environment: it creates `.venv` with the standard venv module
and installs the project into it in editable mode with its `dev` extra. The
editable install is setuptools' strict mode: a tree of links under `build/`
that lays the folders of src/ out under their import names (`videoplatform.*`,
see docs/packaging.md), which mypy and import-linter can read. A link tree does
not see a module added later, so the install is redone whenever the packaging
files or the set of files under src/ changed since the last successful one
(their sha256 is kept in `.venv/.videoplatform-installed`). nox is only the
task runner: its sessions run in this already-active environment.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
EXE = ".exe" if os.name == "nt" else ""
PYTHON = BIN / f"python{EXE}"
STAMP = VENV / ".videoplatform-installed"
PYPROJECT = ROOT / "pyproject.toml"
SETUP = ROOT / "setup.py"
SRC = ROOT / "src"
BUILD = ROOT / "build"

USAGE = """\
usage: python3 dev.py {setup,test,serve} [ARGS...]

  setup          create .venv and install videoplatform[dev] into it
  test [ARGS]    run nox's default sessions in .venv (ARGS are passed to nox)
  serve [ARGS]   run `videoplatform serve` from .venv (ARGS are passed on)
"""


def say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def venv_env() -> dict[str, str]:
    """The current environment, with .venv activated."""
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    return env


def install_digest() -> str:
    """What the editable install depends on: the packaging files and the names of the
    files under src/ (a link tree holds one link per file, made at install time)."""
    digest = hashlib.sha256(PYPROJECT.read_bytes())
    digest.update(SETUP.read_bytes())
    names = sorted(
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path)
    )
    digest.update("\n".join(names).encode())
    return digest.hexdigest()


def run(argv: Sequence[str | os.PathLike[str]]) -> int:
    """Run a command from the repository root and return its exit code."""
    try:
        return subprocess.run(argv, cwd=ROOT, env=venv_env(), check=False).returncode
    except KeyboardInterrupt:
        return 130


def ensure_env() -> int:
    """Create .venv if needed and (re)install the project when its files changed."""
    if not PYTHON.exists():
        say("creating .venv")
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)

    digest = install_digest()
    if STAMP.exists() and STAMP.read_text(encoding="utf-8").strip() == digest:
        return 0

    STAMP.unlink(missing_ok=True)
    say("upgrading pip")
    code = run([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    if code != 0:
        say(f"upgrading pip failed (exit code {code})")
        return code
    say("installing videoplatform[dev]")
    # A tree left by an earlier version would be a second copy of every module.
    for tree in BUILD.glob("__editable__.videoplatform-*"):
        shutil.rmtree(tree)
    code = run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--config-settings",
            "editable_mode=strict",
            "--editable",
            ".[dev]",
        ]
    )
    if code != 0:
        say(f"installing videoplatform[dev] failed (exit code {code})")
        return code
    STAMP.write_text(digest + "\n", encoding="utf-8")
    return 0


def replace_process(argv: Sequence[str]) -> int:
    """Hand the process over to argv (exec on POSIX), returning its exit code elsewhere."""
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(ROOT)
        os.execve(argv[0], list(argv), venv_env())
    return run(argv)


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE, end="")
        return 0 if argv else 2
    command, args = argv[0], list(argv[1:])
    if command not in {"setup", "test", "serve"}:
        print(f"dev.py: unknown command {command!r}\n\n{USAGE}", end="", file=sys.stderr)
        return 2
    if command == "setup" and args:
        print(f"dev.py: setup takes no arguments\n\n{USAGE}", end="", file=sys.stderr)
        return 2

    code = ensure_env()
    if code != 0 or command == "setup":
        return code
    if command == "test":
        return run([BIN / f"nox{EXE}", *args])
    return replace_process([str(BIN / f"videoplatform{EXE}"), "serve", *args])


if __name__ == "__main__":
    # Deliberate: dev.py is run by whatever `python3` a fresh machine has.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit("dev.py: Python 3.11 or newer is required")
    sys.exit(main(sys.argv[1:]))
