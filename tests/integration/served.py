"""A running ``videoplatform serve`` for integration tests: the real console script on a
free loopback port with the embedded profile in a temporary data directory."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from videoplatform.adapters.rabbitmq.topology import Topology
from videoplatform.entrypoints.settings import Settings

EXE = str(Path(sys.executable).parent / "videoplatform")
LISTENING = re.compile(r"listening on\s+(http://127\.0\.0\.1:\d+)")
GRACE_SECONDS = 10
CHEAP_ARGON2 = {
    "VIDEOPLATFORM_ARGON2_TIME_COST": "1",
    "VIDEOPLATFORM_ARGON2_MEMORY_KIB": "1024",
    "VIDEOPLATFORM_ARGON2_PARALLELISM": "1",
}


def process_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a ``videoplatform`` process: this one's, without any
    ``VIDEOPLATFORM_*`` setting of its own, with cheap argon2 and ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
    return {**clean, **CHEAP_ARGON2, **env}


def command(env: Mapping[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``videoplatform ARGS`` with these settings, run to its end; what it printed."""
    return subprocess.run(
        [EXE, *args],
        env=process_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def migrate(env: Mapping[str, str], cwd: Path) -> None:
    """``videoplatform migrate upgrade`` with these settings."""
    done = command(env, cwd, "migrate", "upgrade")
    assert done.returncode == 0, done.stderr


def queue_topology(settings: Settings) -> Topology:
    """The RabbitMQ queues a platform with ``settings`` declares (as
    entrypoints.queueing does), to inspect or delete them."""
    return Topology(
        url=settings.queue_url,
        prefix=settings.queue_prefix,
        max_deliveries=settings.job_max_attempts + 1,
        retry_base_seconds=settings.job_retry_base_seconds,
        retry_cap_seconds=settings.job_retry_cap_seconds,
        consumer_timeout_ms=settings.queue_consumer_timeout_seconds * 1000,
    )


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
        env = process_env({"VIDEOPLATFORM_DATA_DIR": str(folder / "data"), **(env or {})})
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
        try:
            self.url = self._wait_until_ready()
        except BaseException:
            self.stop()  # a serve that never became ready is stopped all the same
            raise

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


class Worker:
    """A ``videoplatform worker`` leading its own process group, logging to a file."""

    def __init__(self, env: Mapping[str, str], folder: Path, name: str) -> None:
        self.log_path = folder / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [EXE, "worker", "--concurrency", "1", "--grace", "10"],
            env=process_env(env),
            cwd=folder,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill_group(self) -> None:
        """SIGKILL the worker and everything in its process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._log.close()

    def stop(self) -> None:
        """SIGTERM, and a clean exit expected."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                assert self.process.wait(timeout=30) == 0, self.log()
            finally:
                if self.process.poll() is None:
                    self.kill_group()
        self._log.close()


# -- what a client does over HTTP ---------------------------------------------------------

API = "/api/v1"


def sign_up(http: httpx.Client) -> dict[str, str]:
    """Register a new user, log in, and return the bearer header."""
    credentials = {"email": f"u{secrets.token_hex(4)}@example.com", "password": "a long passphrase"}
    registered = http.post(f"{API}/auth/register", json={**credentials, "display_name": "U"})
    assert registered.status_code == 202, registered.text
    login = http.post(f"{API}/auth/session", json=credentials)
    assert login.status_code == 201, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


def upload_video(http: httpx.Client, me: dict[str, str], content: bytes, title: str) -> str:
    """Upload ``content`` as a raw video body; the new video's id."""
    uploaded = http.post(
        f"{API}/videos",
        params={"title": title},
        content=content,
        headers={**me, "Content-Type": "video/mp4"},
    )
    assert uploaded.status_code == 201, uploaded.text
    return str(uploaded.json()["id"])


def play(http: httpx.Client, me: dict[str, str], video_id: str, rungs: int) -> None:
    """Play as a player would, through the signed URLs: the master playlist (``rungs``
    variants), then every segment of its first variant, each resolved relative to the
    playlist naming it."""
    issued = http.get(f"{API}/videos/{video_id}/playback", headers=me)
    assert issued.status_code == 200, issued.text
    master_url = urlsplit(issued.json()["master_url"]).path
    master = http.get(master_url)
    assert master.status_code == 200, master.text
    variants = [ln for ln in master.text.splitlines() if ln and not ln.startswith("#")]
    assert len(variants) == rungs
    variant_url = urljoin(master_url, variants[0])
    variant = http.get(variant_url)
    assert variant.status_code == 200
    segments = [ln for ln in variant.text.splitlines() if ln and not ln.startswith("#")]
    assert segments
    for segment in segments:
        reply = http.get(urljoin(variant_url, segment))
        assert reply.status_code == 200 and reply.content[:1] == b"\x47"  # MPEG-TS
