"""Idle and slow clients held open against a server, and a normal client timed beside
them: the conditions of a server facing the internet without a buffering proxy.

- *idle*: connected, never sending a byte;
- *slow headers*: a request line, then one header byte every ``trickle_seconds``,
  never ending the headers (slowloris);
- *slow bodies*: complete headers announcing a body of ``slow_body_bytes``, then
  ``trickle_bytes`` of it every ``trickle_seconds``.

Every socket is driven from one thread with non-blocking sends, so hundreds cost the
driver nothing. Used by the integration tests and by ``python -m bench clients``.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType

SLOW_HEADER_START = b"GET /health/live HTTP/1.1\r\nHost: slow\r\n"


class HostileClients:
    """A context manager holding the hostile connections open while it is entered."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        idle: int = 0,
        slow_headers: int = 0,
        slow_bodies: int = 0,
        body_path: str = "/api/v1/auth/login",
        body_headers: Mapping[str, str] | None = None,
        slow_body_bytes: int = 10 * 1024 * 1024,
        body_prefix: bytes = b"",
        trickle_bytes: int = 512,
        trickle_seconds: float = 1.0,
    ) -> None:
        self._address = (host, port)
        self._counts = (idle, slow_headers, slow_bodies)
        headers = {"Host": "slow", "Content-Type": "application/octet-stream"}
        headers.update(body_headers or {})
        headers["Content-Length"] = str(slow_body_bytes)
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._body_start = f"POST {body_path} HTTP/1.1\r\n{lines}\r\n".encode() + body_prefix
        self._trickle_bytes = trickle_bytes
        self._trickle_seconds = trickle_seconds
        self._idle: list[socket.socket] = []
        self._trickling: list[tuple[socket.socket, bytes]] = []  # (socket, one trickle)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, name="hostile", daemon=True)
        self.closed_by_server = 0

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self._address, timeout=5)
        sock.setblocking(False)
        return sock

    def __enter__(self) -> HostileClients:
        idle, slow_headers, slow_bodies = self._counts
        for _ in range(idle):
            self._idle.append(self._connect())
        for _ in range(slow_headers):
            sock = self._connect()
            sock.send(SLOW_HEADER_START)
            self._trickling.append((sock, b"x"))
        for _ in range(slow_bodies):
            sock = self._connect()
            sock.send(self._body_start)
            self._trickling.append((sock, b"\0" * self._trickle_bytes))
        self._thread.start()
        return self

    def _trickle(self) -> None:
        while not self._stop.wait(self._trickle_seconds):
            for sock, piece in self._trickling:
                if sock.fileno() < 0:
                    continue
                try:
                    sock.send(piece)
                except BlockingIOError:
                    pass  # the server is not reading: the send buffer is full
                except OSError:  # the server gave up on this client
                    sock.close()
                    self.closed_by_server += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self._idle + [sock for sock, _ in self._trickling]:
            sock.close()


def timed_requests(
    host: str, port: int, path: str, count: int, *, timeout: float = 30.0
) -> list[float]:
    """The seconds each of ``count`` GET requests took, one after another, each on a new
    connection (as a new visitor's would be); a request that fails or times out raises."""
    took, late = time_requests(host, port, path, count, timeout=timeout, give_up_after=1)
    if late:
        raise TimeoutError(f"a request got no answer within {timeout} s")
    return took


def time_requests(
    host: str, port: int, path: str, count: int, *, timeout: float, give_up_after: int
) -> tuple[list[float], int]:
    """Like :func:`timed_requests`, but a request that times out counts as ``timeout``
    seconds; after ``give_up_after`` time-outs, the rest count so without being made.
    Also how many timed out."""
    took: list[float] = []
    late = 0
    for _ in range(count):
        if late >= give_up_after:
            took.append(timeout)
            late += 1
            continue
        started = time.perf_counter()
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"answered {response.status}, not 200")
            took.append(time.perf_counter() - started)
        except TimeoutError:
            took.append(timeout)
            late += 1
        finally:
            connection.close()
    return took, late


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
