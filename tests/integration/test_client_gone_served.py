"""A client that resets its connection in the middle of a body is not a server fault:
no 500, no error-level traceback, nothing stored; the server goes on serving."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.served import Served, sign_up
from tests.unit.conftest import MP4_HEAD

API = "/api/v1"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    running = Served(tmp_path, env={"VIDEOPLATFORM_PROCESSING_THREADS": "0"})
    yield running
    running.stop()


def reset_mid_body(url: str, path: str, headers: dict[str, str], sent: bytes, length: int) -> None:
    """Send the head and the first bytes of a body of ``length``, then reset (RST)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        head = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {length}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + sent)
        time.sleep(0.3)  # the server is reading the body now
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_client_reset_mid_upload_is_logged_as_the_clients_doing(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        me = sign_up(http)
        upload = {**me, "Content-Type": "video/mp4"}
        for _ in range(3):
            reset_mid_body(
                served.url, f"{API}/videos?title=Cut", upload, MP4_HEAD + bytes(50_000), 10**6
            )
            # A JSON body larger than the server reads ahead of the application, which
            # is then reading it when the reset comes.
            reset_mid_body(
                served.url,
                f"{API}/shares",
                {**me, "Content-Type": "application/json"},
                b'{"video_id": ',
                200_000,
            )
            # A small one is read whole before the application sees the request: a
            # reset before its end reaches nothing but the server's event loop.
            reset_mid_body(
                served.url,
                f"{API}/shares",
                {**me, "Content-Type": "application/json"},
                b'{"video_id": ',
                100,
            )
        time.sleep(0.5)
        assert http.get(f"{API}/videos", headers=me).status_code == 200
        assert http.get(f"{API}/videos", params={"owner": "me"}, headers=me).json()["items"] == []

    lines = served.log_lines()
    assert [line for line in lines if line.get("event") == "unhandled_error"] == []
    assert not any(line.get("status") == 500 for line in lines)
    assert not any(line.get("level") == "error" for line in lines)
    requests = [line for line in lines if line.get("method") == "POST" and "status" in line]
    cut = [(line["route"], line["status"], line["level"]) for line in requests]
    assert cut.count((f"{API}/videos", 400, "info")) == 3, cut
    assert cut.count((f"{API}/shares", 400, "info")) == 3, cut
