"""A running ``videoplatform serve`` for integration tests: the real console script on a
free loopback port with the embedded profile in a temporary data directory."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

EXE = str(Path(sys.executable).parent / "videoplatform")
LISTENING = re.compile(r"listening on\s+(http://127\.0\.0\.1:\d+)")
GRACE_SECONDS = 10
CHEAP_ARGON2 = {
    "VIDEOPLATFORM_ARGON2_TIME_COST": "1",
    "VIDEOPLATFORM_ARGON2_MEMORY_KIB": "1024",
    "VIDEOPLATFORM_ARGON2_PARALLELISM": "1",
}


class Served:
    """A running ``videoplatform serve`` and what it printed so far."""

    def __init__(
        self,
        folder: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        new_session: bool = False,
    ) -> None:
        """``new_session``: serve leads a process group of its own (with its workers and
        their children), which a test may kill whole with ``os.killpg``."""
        self.folder = folder
        self.out_path, self.err_path = folder / "stdout.txt", folder / "stderr.txt"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
        env = {
            **clean,
            **CHEAP_ARGON2,
            "VIDEOPLATFORM_DATA_DIR": str(folder / "data"),
            **(env or {}),
        }
        self._out: IO[bytes] = self.out_path.open("wb")
        self._err: IO[bytes] = self.err_path.open("wb")
        self.process = subprocess.Popen(
            [EXE, "serve", "--bind", "127.0.0.1:0", *args],
            stdout=self._out,
            stderr=self._err,
            cwd=folder,
            env=env,
            start_new_session=new_session,
        )
        self.url = self._wait_until_ready()

    def _wait_until_ready(self) -> str:
        deadline = time.monotonic() + 30
        url = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited with {self.process.returncode}:\n{self.stderr()}")
            if not url:
                found = LISTENING.search(self.stdout())
                url = found.group(1) if found else ""
            if url:
                try:
                    if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                        return url
                except httpx.TransportError:
                    pass  # the worker is still booting
            time.sleep(0.05)
        pytest.fail(f"serve did not become ready:\n{self.stdout()}\n{self.stderr()}")

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=GRACE_SECONDS + 5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()
        self._err.close()
