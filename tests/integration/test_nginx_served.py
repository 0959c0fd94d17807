"""nginx with the shipped deploy/nginx/videoplatform.conf in front of the real ``serve``.

The shipped file is a snippet for nginx's http context. Each nginx here runs as this
user, in the foreground, from a main ``nginx.conf`` of the test's own (pid, logs and
temporary files in the test's directory) that includes a copy of the snippet with three
of its ``ADAPT`` values replaced: the upstream address, the listening address and the
storage directory of the X-Accel-Redirect location.

A missing ``nginx`` binary skips these tests, or fails them under
``VIDEOPLATFORM_REQUIRE_SERVICES=1``, like a missing service; ``VIDEOPLATFORM_TEST_NGINX``
names a binary to use instead of the one on the PATH.
"""

from __future__ import annotations

import grp
import hashlib
import io
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from bench.hostile import HostileClients, timed_requests
from tusclient import client as tus

from tests.conftest import REQUIRE_SERVICES_ENV, services_required
from tests.integration.served import API, Served, sign_up, upload_video
from tests.unit.conftest import MP4_HEAD

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "videoplatform.conf"
ACCEL_PREFIX = "/_protected/"
HOST = "127.0.0.1"


def nginx_binary() -> str:
    """The nginx to run; skips (or fails, when services are required) without one."""
    named = os.environ.get("VIDEOPLATFORM_TEST_NGINX")
    found = named or shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found is None:
        reason = "nginx is not installed (set VIDEOPLATFORM_TEST_NGINX to a binary)"
        if services_required():
            pytest.fail(f"nginx is required ({REQUIRE_SERVICES_ENV}=1): {reason}")
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def adapted(upstream: str, port: int, storage: Path) -> str:
    """The shipped snippet with this test's addresses and storage directory; each value
    replaced must be found exactly once, so that a change of the file shows here."""
    text = SHIPPED.read_text()
    for pattern, value in (
        (r"^    server 127\.0\.0\.1:8000;$", f"    server {upstream};"),
        (r"^    listen 80;\n    listen \[::\]:80;$", f"    listen {HOST}:{port};"),
        (r"^        alias /srv/videoplatform/objects/;$", f"        alias {storage}/;"),
    ):
        text, found = re.subn(pattern, value, text, flags=re.MULTILINE)
        assert found == 1, f"{pattern!r} found {found} times in {SHIPPED.name}"
    return text


def main_config(folder: Path, snippet: Path) -> Path:
    """A main nginx.conf that keeps everything of nginx's own in ``folder`` and includes
    ``snippet`` in its http context."""
    user = ""
    if os.geteuid() == 0:  # workers would otherwise drop to an unprivileged user
        user = f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};"
    config = folder / "nginx.conf"
    config.write_text(
        f"""{user}
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 512; }}
http {{
    # A site compressing event streams: events must still pass one by one.
    gzip on;
    gzip_types text/event-stream;
    gzip_min_length 1;
    access_log {folder}/access.log;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    default_type application/octet-stream;
    include {snippet};
}}
"""
    )
    return config


def check_config(binary: str, folder: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "-t", "-p", str(folder), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


class Nginx:
    """A running nginx in front of ``upstream`` with the adapted snippet."""

    def __init__(self, folder: Path, upstream: str, storage: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.url = f"http://{HOST}:{port}"
        folder.mkdir(parents=True, exist_ok=True)
        snippet = folder / "videoplatform.conf"
        snippet.write_text(adapted(upstream, port, storage))
        config = main_config(folder, snippet)
        binary = nginx_binary()
        checked = check_config(binary, folder, config)
        assert checked.returncode == 0, checked.stderr
        self._output: IO[bytes] = (folder / "output.txt").open("wb")
        self.process = subprocess.Popen(
            [binary, "-p", str(folder), "-c", str(config)],
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited with {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        pytest.fail(f"nginx did not listen on {self.port}:\n{self.log()}")

    def log(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")
            for path in (self.folder / "output.txt", self.folder / "error.log")
            if path.exists()
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast shutdown, workers included
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._output.close()


class Stack:
    """``serve`` and an nginx in front of it."""

    def __init__(self, served: Served, nginx: Nginx) -> None:
        self.served = served
        self.nginx = nginx

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.nginx.url, timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("nginx")
    nginx_binary()  # skip before starting anything
    port = free_port()
    env = {
        # Absolute URLs (tus Location, playback, share links) name nginx, not serve.
        "VIDEOPLATFORM_PUBLIC_URL": f"http://{HOST}:{port}",
        "VIDEOPLATFORM_ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX,
        "VIDEOPLATFORM_PROCESSING_THREADS": "0",  # uploaded videos stay as they are
        "VIDEOPLATFORM_TRUSTED_PROXIES": "127.0.0.1",  # as deploy/nginx/README.md says
        # One upload thread: behind nginx, uploads trickling in never hold it.
        "VIDEOPLATFORM_UPLOAD_THREADS": "1",
    }
    (folder / "serve").mkdir()
    served = Served(folder / "serve", env=env)
    try:
        storage = served.folder / "data" / "objects"
        upstream = served.url.removeprefix("http://")
        nginx = Nginx(folder / "nginx", upstream, storage, port)
        try:
            yield Stack(served, nginx)
        finally:
            nginx.stop()
    finally:
        served.stop()


@pytest.fixture(scope="module")
def me(stack: Stack) -> dict[str, str]:
    with stack.client() as http:
        return sign_up(http)  # registers and logs in through nginx


def test_nginx_accepts_the_shipped_file_as_it_is(tmp_path: Path) -> None:
    binary = nginx_binary()
    snippet = tmp_path / "videoplatform.conf"
    shutil.copyfile(SHIPPED, snippet)
    checked = check_config(binary, tmp_path, main_config(tmp_path, snippet))
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_the_api_health_and_docs_answer_through_nginx(stack: Stack, me: dict[str, str]) -> None:
    with stack.client() as http:
        assert http.get("/health/live").status_code == 200
        assert http.get("/health/ready").status_code == 200
        assert http.get("/docs").status_code == 200
        listed = http.get(f"{API}/videos", headers={**me, "X-Request-ID": "through-nginx-1"})
        assert listed.status_code == 200, listed.text
        assert listed.headers["x-request-id"] == "through-nginx-1"
        assert http.get(f"{API}/auth/me", headers=me).status_code == 200
        missing = http.get(f"{API}/no-such-route")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        # A body over the JSON limit is refused by nginx, in the platform's error shape.
        too_big = http.post(
            f"{API}/auth/session",
            content=b"{" + b" " * (1024 * 1024 + 1) + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert too_big.status_code == 413
        assert too_big.headers["content-type"] == "application/problem+json"
        assert too_big.json()["code"] == "payload_too_large"


def test_uploads_small_large_and_chunked_pass_through_nginx(
    stack: Stack, me: dict[str, str]
) -> None:
    with stack.client() as http:
        for size in (1_000, 300_000):  # inline with the head at serve, and streamed
            upload_video(http, me, MP4_HEAD + bytes(size), f"Sized {size}")

        def pieces() -> Iterator[bytes]:
            yield MP4_HEAD
            for _ in range(5):
                yield bytes(50_000)

        chunked = http.post(
            f"{API}/videos?title=Chunked",
            content=pieces(),
            headers={**me, "Content-Type": "video/mp4"},
        )
        assert chunked.status_code == 201, chunked.text
        assert chunked.json()["size"] == len(MP4_HEAD) + 250_000

        data = os.urandom(200_000)
        stored = http.post(
            f"{API}/files",
            params={"name": "noise.bin", "folder": "/nginx"},
            content=data,
            headers={**me, "Content-Type": "application/octet-stream"},
        )
        assert stored.status_code == 201, stored.text
        assert stored.json()["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_tus_upload_through_nginx_resumes_and_completes(stack: Stack, me: dict[str, str]) -> None:
    data = os.urandom(180_000)
    client = tus.TusClient(f"{stack.nginx.url}{API}/uploads", headers=me)
    uploader = client.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=70_000,  # each PATCH body larger than what serve reads with the head
        metadata={"kind": "file", "filename": "resumed.bin", "folder": "/tus"},
        upload_checksum=True,
    )
    url = uploader.create_url()
    # The Location names nginx (VIDEOPLATFORM_PUBLIC_URL), never serve's own address.
    assert url.startswith(f"{stack.nginx.url}{API}/uploads/"), url
    uploader.set_url(url)
    uploader.upload(stop_at=70_000)
    tus_headers = {**me, "Tus-Resumable": "1.0.0"}
    with stack.client() as http:
        head = http.head(url, headers=tus_headers)
        assert head.status_code == 200
        assert head.headers["upload-offset"] == "70000"
        assert head.headers["tus-resumable"] == "1.0.0"
        # A new client resumes from the offset the server reports.
        resumed = client.uploader(file_stream=io.BytesIO(data), url=url, chunk_size=70_000)
        resumed.upload()
        done = http.head(url, headers=tus_headers)
        assert done.headers["upload-offset"] == str(len(data))
        result = done.headers["upload-result"]
        assert result.startswith(f"{API}/files/")
        stored = http.get(result, headers=me)
        assert stored.json()["sha256"] == hashlib.sha256(data).hexdigest()


def test_downloads_are_checked_by_serve_and_sent_by_nginx(stack: Stack, me: dict[str, str]) -> None:
    data = os.urandom(100_000)
    with stack.client() as http:
        stored = http.post(
            f"{API}/files",
            params={"name": "report.txt", "folder": "/accel"},
            content=b"plain text " + data.hex().encode(),
            headers={**me, "Content-Type": "application/octet-stream"},
        )
        assert stored.status_code == 201, stored.text
        content_url = f"{API}/files/{stored.json()['id']}/content"
        expected = b"plain text " + data.hex().encode()

        # serve itself answers with a redirect to the internal location and no body...
        direct = httpx.get(stack.served.url + content_url, headers=me, timeout=10)
        assert direct.status_code == 200
        assert direct.headers["x-accel-redirect"].startswith(ACCEL_PREFIX)
        assert direct.content == b""

        # ...which nginx follows, keeping the platform's headers for uploaded content.
        whole = http.get(content_url, headers=me)
        assert whole.status_code == 200
        assert whole.content == expected
        assert "x-accel-redirect" not in whole.headers
        assert whole.headers["content-type"].startswith("text/plain")
        assert whole.headers["content-disposition"].startswith("attachment")
        assert whole.headers["x-content-type-options"] == "nosniff"
        assert whole.headers["content-security-policy"] == direct.headers["content-security-policy"]
        assert whole.headers["x-frame-options"] == "DENY"
        assert whole.headers["x-request-id"]
        part = http.get(content_url, headers={**me, "Range": "bytes=5-14"})
        assert part.status_code == 206
        assert part.content == expected[5:15]

        # Anybody else is refused by serve; nobody can ask nginx for the location itself.
        assert http.get(content_url).status_code in (401, 404)
        key = direct.headers["x-accel-redirect"]
        assert http.get(key).status_code == 404


def test_an_event_stream_passes_through_unbuffered(stack: Stack, me: dict[str, str]) -> None:
    with stack.client(timeout=10) as http:
        video_id = upload_video(http, me, MP4_HEAD + bytes(1000), "Followed")
        url = f"{API}/videos/{video_id}/events"
        # Nothing processes the video: the stream stays open after its first event,
        # which arrives only if nginx passes it on as it comes (gzip is on for event
        # streams in this http context; buffered, nothing would arrive for 15 s).
        with http.stream("GET", url, headers=me) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream"
            lines = response.iter_lines()
            fields: dict[str, str] = {}
            for line in lines:
                if line == "" and "data" in fields:
                    break
                name, _, value = line.partition(": ")
                fields[name] = value
            assert fields["event"] == "status"
            assert json.loads(fields["data"])["id"] == video_id
            # Once the video is gone the stream ends (at serve's next look, within 5 s),
            # and its end comes through too; serve's thread is free again.
            assert http.delete(f"{API}/videos/{video_id}", headers=me).status_code == 204
            assert [line for line in lines if line and not line.startswith(":")] == []


def test_uploads_trickling_into_nginx_hold_nothing_of_serve(
    stack: Stack, me: dict[str, str]
) -> None:
    hostile = HostileClients(
        HOST,
        stack.nginx.port,
        slow_bodies=25,
        body_path=f"{API}/videos?title=Slow",
        body_headers={**me, "Content-Type": "video/mp4"},
        body_prefix=MP4_HEAD,
        trickle_bytes=2048,
        trickle_seconds=0.5,
    )
    with hostile:
        time.sleep(1)  # every slow upload is being read, by nginx
        took = timed_requests(HOST, stack.nginx.port, f"{API}/videos?limit=20", 10, timeout=5)
        assert len(took) == 10
        with stack.client(timeout=5) as http:
            # serve has one upload thread; the uploads trickling in do not hold it.
            upload_video(http, me, MP4_HEAD + bytes(200_000), "Beside the slow ones")
            assert http.get(f"{API}/videos", params={"owner": "me"}, headers=me).status_code == 200
    assert hostile.closed_by_server == 0


@pytest.fixture
def unanswered(tmp_path: Path) -> Iterator[Nginx]:
    """An nginx whose platform is not running (its upstream port is closed), with
    per-address limits of its own."""
    nginx = Nginx(tmp_path / "nginx", f"{HOST}:{free_port()}", tmp_path, free_port())
    yield nginx
    nginx.stop()


def test_nginx_answers_for_a_platform_that_is_down_in_the_platforms_error_shape(
    unanswered: Nginx,
) -> None:
    with httpx.Client(base_url=unanswered.url, timeout=10) as http:
        down = http.get("/health/ready")
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert down.headers["retry-after"] == "5"
    assert down.json()["code"] == "service_unavailable"


def test_password_attempts_and_connections_are_limited_per_address(unanswered: Nginx) -> None:
    with httpx.Client(base_url=unanswered.url, timeout=10) as http:
        attempts = [
            http.post(f"{API}/auth/session", json={"email": "x@example.com", "password": "x"})
            for _ in range(25)
        ]
        statuses = [answer.status_code for answer in attempts]
        # One attempt and a burst of 20 go on (to a platform that is down), then 429.
        assert statuses == [503] * 21 + [429] * 4, statuses
        refused = attempts[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "too_many_requests"
        assert refused.headers["retry-after"]
        # Only POSTs are attempts: logging out still goes on.
        assert http.delete(f"{API}/auth/session").status_code == 503
    assert 'by zone "videoplatform_attempts"' in unanswered.log()

    # Requests in progress per address: 32 uploads whose bodies never come, then one more.
    held = []
    try:
        for _ in range(32):
            conn = socket.create_connection((HOST, unanswered.port), timeout=5)
            conn.sendall(
                f"POST {API}/files HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode()
            )
            held.append(conn)
        time.sleep(0.2)  # nginx has read every head
        with httpx.Client(base_url=unanswered.url, timeout=10) as http:
            over = http.get("/health/live")
        assert over.status_code == 429
        assert over.json()["code"] == "too_many_requests"
        assert 'limiting connections by zone "videoplatform_conn"' in unanswered.log()
    finally:
        for conn in held:
            conn.close()
