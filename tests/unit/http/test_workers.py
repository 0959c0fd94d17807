"""The pieces of the HTTP worker that decide when a request is ready for a thread and
how long a client may take (entrypoints/http/workers.py)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from videoplatform.entrypoints.http.errors import ClientTooSlow
from videoplatform.entrypoints.http.workers import (
    BUFFERED_BODY,
    HEAD_LIMIT,
    QUICK,
    STREAMED,
    ConnectionLimits,
    HeadScan,
    PacedSocket,
    busy_response,
    request_shape,
)


def test_a_head_still_arriving_waits_for_more() -> None:
    assert request_shape(b"") is None
    assert request_shape(b"GET / HTTP/1.1\r\nHost: x\r\n") is None


def test_a_whole_head_without_a_body_is_quick() -> None:
    assert request_shape(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == QUICK
    assert request_shape(b"POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n") == QUICK


def test_a_small_body_is_read_whole_before_a_thread_takes_it() -> None:
    head = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
    assert request_shape(head + b"abc") is None
    assert request_shape(head + b"abcde") == QUICK
    # A pipelined next request behind it changes nothing.
    assert request_shape(head + b"abcdeGET / HTTP/1.1\r\n") == QUICK


def test_large_chunked_and_continued_bodies_are_streamed() -> None:
    large = f"POST /a HTTP/1.1\r\nContent-Length: {BUFFERED_BODY + 1}\r\n\r\n".encode()
    assert request_shape(large) == STREAMED
    assert request_shape(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == STREAMED
    continued = b"POST /a HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"
    assert request_shape(continued) == STREAMED
    # Header names are case-insensitive.
    assert request_shape(b"POST /a HTTP/1.1\r\ntransfer-ENCODING: chunked\r\n\r\n") == STREAMED


def test_heads_the_parser_refuses_go_to_it_at_once() -> None:
    # Oversized: gunicorn's parser answers 431/400 without waiting for more.
    assert request_shape(b"GET /" + b"a" * HEAD_LIMIT) == QUICK
    # Two lengths, or one that is not a number: refused without reading a body.
    twice = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
    assert request_shape(twice) == QUICK
    assert request_shape(b"POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == QUICK


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def test_a_blocking_paced_socket_waits_at_most_the_client_timeout(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, _ = pair
    paced = PacedSocket(server, ConnectionLimits(client_timeout=0.2))
    paced.setblocking(True)
    assert server.gettimeout() == 0.2
    started = time.monotonic()
    with pytest.raises(ClientTooSlow, match="stopped sending"):
        paced.recv(10)
    assert time.monotonic() - started < 2
    paced.setblocking(False)
    assert server.gettimeout() == 0.0


def test_an_armed_body_must_keep_to_the_minimum_rate(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    # 0.3 s, plus one second per 100 bytes received.
    paced = PacedSocket(server, ConnectionLimits(client_timeout=0.3, min_body_rate=100))
    paced.setblocking(True)
    paced.arm()
    client.sendall(b"x" * 10)
    assert paced.recv(100) == b"x" * 10  # now allowed 0.3 + 0.1 s in all
    time.sleep(0.5)
    client.sendall(b"y")
    with pytest.raises(ClientTooSlow, match="slower than 100 bytes per second"):
        paced.recv(100)
    # Disarmed (between requests), only the pause matters.
    paced.disarm()
    assert paced.recv(100) == b"y"


def test_a_client_that_takes_no_response_is_given_up_on(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, _ = pair
    paced = PacedSocket(server, ConnectionLimits(client_timeout=0.2))
    paced.setblocking(True)
    with pytest.raises(ClientTooSlow, match="stopped taking the response"):
        paced.sendall(b"z" * 10_000_000)  # far more than the socket buffers hold


def test_the_busy_answer_is_a_whole_problem_response() -> None:
    response = busy_response("/api/v1/videos?title=x")
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 503 Service Unavailable"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Retry-After"] == "2"
    assert headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(body)
    problem = json.loads(body)
    assert (problem["status"], problem["code"]) == (503, "server_busy")
    assert problem["instance"] == "/api/v1/videos"


def test_a_shorter_timeout_set_on_the_socket_is_kept(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, _ = pair
    paced = PacedSocket(server, ConnectionLimits(client_timeout=30, min_body_rate=100))
    paced.setblocking(True)
    paced.arm()
    paced.settimeout(0.2)  # as gunicorn does when it drains a socket before closing it
    started = time.monotonic()
    with pytest.raises(ClientTooSlow):
        paced.recv(10)
    assert time.monotonic() - started < 2


def test_a_head_arriving_piece_by_piece_is_found_across_the_pieces() -> None:
    scan = HeadScan()
    data = bytearray(b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r")
    assert scan.shape(data) is None
    data += b"\nab"  # the blank line's end, and part of the body
    assert scan.shape(data) is None
    data += b"c"
    assert scan.shape(data) == QUICK
