"""gunicorn's threaded worker, made to hold idle, slow and killed-neighbour conditions.

gunicorn's own ``gthread`` worker hands every accepted connection to a thread, which
then reads the request head and body with blocking calls and no deadline: four clients
that stop half-way through their headers or body hold four threads, and the worker
answers nobody (measured: 200 idle connections delayed a normal request by 25 s; four
stalled ones stopped the server for 210 s). It also accepts up to ``worker_connections``
connections while its threads are busy, so a worker killed with SIGKILL takes every
connection it had queued with it. This worker changes four things:

- **Request heads are read by the event loop, not by threads.** A connection is parked
  in the worker's selector until its whole head has arrived (and its body too, when it
  is small), within ``header_timeout`` seconds of connecting (or of the first byte of a
  request on a kept-alive connection); past that it is closed. Idle and trickling
  clients cost a file descriptor, never a thread.
- **Streamed bodies have threads of their own.** A request whose body is larger than
  :data:`BUFFERED_BODY` (uploads, tus) runs in a pool of ``upload_threads``; everything
  else in the pool of ``threads``. Uploads, however many or slow, never take the
  threads that answer the rest of the API. An upload that finds them all taken waits
  up to ``upload_wait`` seconds for one, then is answered 503 ``server_busy``.
- **A slow client is given up on.** Reading a body, each wait for more bytes lasts at
  most ``client_timeout`` seconds, and the whole body gets ``client_timeout`` seconds
  plus one second for every ``min_body_rate`` bytes received (the model of Apache's
  mod_reqtimeout ``body=20,MinRate=500``). Writing a response, a client that takes no
  bytes for ``client_timeout`` seconds is dropped. Either way the application sees
  :class:`ClientTooSlow` (a connection reset: the client's doing, logged at info).
- **A worker accepts only what it can serve now**: while every thread of the main pool
  is busy or promised, it stops accepting, so new connections wait in the kernel's
  listen backlog for whichever worker frees a thread first, and a worker killed with
  SIGKILL loses only the requests it was serving (and uploads waiting for an upload
  thread, for at most ``upload_wait`` seconds).

On SIGTERM it takes the connections already waiting in the backlog (they are answered
like the others), then closes its listening sockets at once: a new connection is
refused immediately, and a load balancer moves on to a live node.
"""

from __future__ import annotations

import contextlib
import errno
import json
import selectors
import socket
import time
from collections import deque
from concurrent import futures
from functools import partial
from typing import Any

from attrs import Factory, define, frozen
from gunicorn import util as gunicorn_util
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

from videoplatform.entrypoints.http.errors import ClientTooSlow

SERVER_NAME = "videoplatform"
"""What the ``Server`` response header says: the product, never the server software or a
version (server.py makes gunicorn send it too)."""

BUFFERED_BODY = 64 * 1024
"""Bodies up to this size are read by the event loop with the head; larger ones are
streamed by a thread of the upload pool."""
HEAD_LIMIT = 64 * 1024
"""A head larger than this is handed to a thread as it is, for gunicorn's parser to
refuse (its limits on the request line and header fields are smaller)."""
ARRIVING = 0.2
"""For this long after it was accepted, a connection whose request has not all arrived
yet counts against the worker's threads, as the request about to be served it nearly
always is (a killed worker would lose it with the others). A client slower than that
stops counting, so clients that trickle their heads cannot stop a worker accepting."""
SWEEP_INTERVAL = 0.25
"""How often parked connections are checked against their deadlines."""
CLOSE_LINGER = 2.0
"""How long a closed connection's unread input is drained, so that the kernel sends
FIN rather than a reset over the end of the response (RFC 9112, section 9.6)."""


@frozen
class ConnectionLimits:
    """How long and how slowly a client may take; see the module's description."""

    header_timeout: float = 10.0
    client_timeout: float = 30.0
    min_body_rate: int = 8192  # bytes per second; 0: no minimum
    upload_threads: int = 16
    upload_wait: float = 10.0  # seconds an upload may wait for an upload thread


class PacedSocket:
    """A client socket whose blocking reads and writes are bounded in time.

    gunicorn sets its sockets blocking (``setblocking(True)``) before a thread uses
    them; here that means blocking with ``client_timeout``. While :meth:`arm`-ed (a
    thread is serving a request), reads also keep to the minimum body rate."""

    def __init__(self, sock: Any, limits: ConnectionLimits) -> None:
        self._sock = sock
        self._limits = limits
        self._timeout: float | None = sock.gettimeout()  # as last set, not as shortened
        self._since: float | None = None
        self._received = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def arm(self) -> None:
        self._since = time.monotonic()
        self._received = 0

    def disarm(self) -> None:
        self._since = None

    def setblocking(self, flag: bool) -> None:
        self.settimeout(self._limits.client_timeout if flag else 0.0)

    def settimeout(self, seconds: float | None) -> None:
        self._timeout = seconds
        self._sock.settimeout(seconds)

    def recv(self, size: int, *flags: int) -> bytes:
        if self._since is not None and self._timeout:  # blocking, in a request
            self._sock.settimeout(min(self._timeout, self._allowance()))
        try:
            data: bytes = self._sock.recv(size, *flags)
        except TimeoutError:
            raise ClientTooSlow(
                errno.ECONNRESET, "the client stopped sending the request body"
            ) from None
        self._received += len(data)
        return data

    def _allowance(self) -> float:
        """Seconds the body may still take at the minimum rate; past it, ClientTooSlow."""
        since = self._since or time.monotonic()
        rate = self._limits.min_body_rate
        if not rate:
            return self._limits.client_timeout
        allowed = self._limits.client_timeout + self._received / rate
        left = since + allowed - time.monotonic()
        if left <= 0:
            raise ClientTooSlow(
                errno.ECONNRESET,
                f"the client sent the request body slower than {rate} bytes per second",
            )
        return left

    def send(self, data: bytes, *flags: int) -> int:
        try:
            return int(self._sock.send(data, *flags))
        except TimeoutError:
            raise _too_slow_to_read() from None

    def sendall(self, data: bytes, *flags: int) -> None:
        try:
            self._sock.sendall(data, *flags)
        except TimeoutError:
            raise _too_slow_to_read() from None

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        try:
            return int(self._sock.sendfile(file, offset, count))
        except TimeoutError:
            raise _too_slow_to_read() from None


def _too_slow_to_read() -> ClientTooSlow:
    return ClientTooSlow(errno.ECONNRESET, "the client stopped taking the response")


QUICK, STREAMED = "quick", "streamed"
BUSY_RETRY_AFTER = 2


def raw_problem(
    status: str, code: str, detail: str, instance: str | None, headers: str = ""
) -> bytes:
    """A whole HTTP response carrying a problem document like the application's, for
    refusals made before the application sees the request; the connection closes."""
    number, _, title = status.partition(" ")
    document = {
        "type": f"urn:videoplatform:problem:{code}",
        "title": title,
        "status": int(number),
        "code": code,
        **({"instance": instance} if instance else {}),
        "detail": detail,
    }
    body = json.dumps(document).encode()
    head = (
        f"HTTP/1.1 {status}\r\n"
        f"Server: {SERVER_NAME}\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{headers}"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def busy_response(path: str) -> bytes:
    """The whole HTTP response refusing a streamed request while every upload thread is
    taken, asking to retry shortly."""
    return raw_problem(
        "503 Service Unavailable",
        "server_busy",
        "the server is receiving as many uploads as it can; retry shortly",
        path.split("?", 1)[0],
        f"Retry-After: {BUSY_RETRY_AFTER}\r\n",
    )


_PARSER_REFUSALS: tuple[tuple[type[Exception], str, str, str], ...] = (
    (
        http_errors.LimitRequestLine,
        "414 URI Too Long",
        "uri_too_long",
        "the request line is longer than this server takes (8 KiB)",
    ),
    (
        http_errors.LimitRequestHeaders,
        "431 Request Header Fields Too Large",
        "headers_too_large",
        "the request's headers are larger than this server takes",
    ),
)


def parser_refusal(exc: BaseException) -> bytes | None:
    """The problem response for a request the HTTP parser refused for its size, instead
    of the parser's own HTML page; None for any other error."""
    for kind, status, code, detail in _PARSER_REFUSALS:
        if isinstance(exc, kind):
            return raw_problem(status, code, detail, None)
    return None


def request_shape(data: bytes | bytearray) -> str | None:
    """How a request that begins with ``data`` is to be served: ``None`` while more of
    it must arrive first; :data:`QUICK` when ``data`` holds the whole head and body (or
    something gunicorn's parser will refuse at once); :data:`STREAMED` when the head is
    complete and the body is to be read as it comes (large, chunked, or awaiting
    ``100 Continue``)."""
    return HeadScan().shape(data)


@define
class HeadScan:
    """:func:`request_shape` for a request arriving piece by piece: each call looks only
    at what came since the last, so a head sent a byte at a time costs linear work in
    the event loop, not quadratic."""

    searched: int = 0  # bytes already searched for the end of the head
    whole: int | None = None  # the request's length, once its head gave it

    def shape(self, data: bytes | bytearray) -> str | None:
        if self.whole is None:
            end = data.find(b"\r\n\r\n", max(0, self.searched - 3))
            self.searched = len(data)
            if end < 0:
                return None if len(data) <= HEAD_LIMIT else QUICK
            body = _body_of(bytes(data[:end]))
            if isinstance(body, str):
                return body
            self.whole = end + 4 + body
        return QUICK if len(data) >= self.whole else None


def _body_of(head: bytes) -> str | int:
    """From a whole head: :data:`STREAMED`, :data:`QUICK` (no body, or a head the
    parser refuses without reading one), or the length of a body read with the head."""
    length: int | None = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"transfer-encoding", b"expect"):
            return STREAMED
        if name == b"content-length":
            if length is not None or not value.strip().isdigit():
                return QUICK  # refused by the parser, with no body read
            length = int(value.strip())
    if not length:
        return QUICK
    return STREAMED if length > BUFFERED_BODY else length


@define
class _Reading:
    """A parked connection: what arrived of its next request, and until when it may."""

    data: bytearray
    deadline: float
    kept_alive: bool
    registered: bool = False  # in the selector, waiting for more bytes
    scan: HeadScan = Factory(HeadScan)


class ThreadWorker(GunicornThreadWorker):  # type: ignore[misc]
    """See the module's description. :func:`worker_class` sets the limits."""

    limits = ConnectionLimits()
    sockets: list[Any]  # the listeners gunicorn handed this worker
    wsgi: Any  # the application, once loaded

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: Exception) -> None:
        """Requests too large for the parser get a problem document like every other
        refusal (gunicorn would answer an HTML page)."""
        refusal = parser_refusal(exc)
        if refusal is None:
            super().handle_error(req, client, addr, exc)
            return
        self.log.debug("refused a request from %s: %s", addr, exc)
        with contextlib.suppress(OSError):
            gunicorn_util.write_nonblock(client, refusal)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading: dict[TConn, _Reading] = {}
        # New connections still arriving (see ARRIVING), with when they stop counting.
        self._arriving: dict[TConn, float] = {}
        self._closing: dict[TConn, float] = {}
        self._ready: deque[TConn] = deque()  # whole requests waiting for a thread
        # Streamed requests waiting for an upload thread, with when they give up.
        self._streamed: deque[tuple[float, TConn]] = deque()
        self._busy = 0  # threads of the main pool serving or promised
        self._busy_streaming = 0
        self._upload_pool: futures.ThreadPoolExecutor | None = None
        self._next_sweep = 0.0

    def init_process(self) -> None:
        self._upload_pool = futures.ThreadPoolExecutor(
            max_workers=self.limits.upload_threads, thread_name_prefix="upload"
        )
        for listener in self.sockets:
            defer_accept(listener, self.limits.header_timeout)
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = _closing_unread_bodies(self.wsgi)

    def run(self) -> None:
        try:
            super().run()
        finally:
            if self._upload_pool is not None:
                self._upload_pool.shutdown(wait=False)

    # Accepting

    def _can_accept(self) -> bool:
        self._forget_slow_arrivals()
        return bool(
            self.alive
            and self.nr_conns < self.worker_connections
            and self._busy + len(self._ready) + len(self._arriving) < self.cfg.threads
        )

    def _forget_slow_arrivals(self) -> bool:
        """Stop counting the new connections that took longer than ARRIVING; whether
        there were any."""
        if not self._arriving:
            return False
        now = time.monotonic()
        slow = [conn for conn, until in self._arriving.items() if until <= now]
        for conn in slow:
            del self._arriving[conn]
        return bool(slow)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self._arriving:  # wake up when one stops counting, to accept again
            first = min(self._arriving.values())
            timeout = min(timeout, max(first - time.monotonic(), 0.0))
        super().wait_for_and_dispatch_events(timeout)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and self._can_accept())
        if not enabled and not self.alive:
            self._stop_accepting()

    def _update_accepting(self) -> None:
        if self.sockets:
            super().set_accept_enabled(self._can_accept())

    def accept(self, listener: Any) -> None:
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, PacedSocket(client, self.limits), address, listener.getsockname())
        # The kernel accepted it once data had arrived (defer_accept): read that now,
        # so that a whole request counts against the threads at once.
        conn.sock.setblocking(False)
        data = _receive(conn.sock)
        if data == b"":  # the client went away (or reset) before sending anything
            self._close(conn)
            self._update_accepting()
            return
        self._park(conn, data or b"", kept_alive=False)
        if conn in self._reading:
            self._arriving[conn] = time.monotonic() + ARRIVING
        self._update_accepting()

    def _stop_accepting(self) -> None:
        """Take the connections already waiting in the backlog, close the listeners, and
        let connections that have sent nothing go after a short linger."""
        for listener in self.sockets:
            self._take_waiting(listener)
            listener.close()
        self.sockets = []
        linger = time.monotonic() + STOP_KEEPALIVE_LINGER
        for reading in self._reading.values():
            if not reading.data:
                reading.deadline = min(reading.deadline, linger)

    def _take_waiting(self, listener: Any) -> None:
        """Accept every connection already completed in ``listener``'s backlog."""
        listener.setblocking(False)
        while True:
            before = self.nr_conns
            try:
                self.accept(listener)
            except OSError:
                return
            if self.nr_conns == before:  # nothing was waiting
                return

    # Reading request heads in the event loop

    def _park(self, conn: TConn, data: bytes, *, kept_alive: bool) -> None:
        conn.sock.setblocking(False)
        wait = self.cfg.keepalive if kept_alive and not data else self.limits.header_timeout
        reading = _Reading(bytearray(data), time.monotonic() + wait, kept_alive)
        self._reading[conn] = reading
        if not self._progress(conn, reading):
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))
            reading.registered = True

    def _readable(self, conn: TConn, _sock: Any) -> None:
        reading = self._reading.get(conn)
        if reading is None:  # an event selected before the connection moved on
            return
        data = _receive(conn.sock)
        if data is None:
            return
        if not data:  # the client went away before sending a whole request
            self._unpark(conn)
            self._close(conn)
            return
        if not reading.data and reading.kept_alive:
            reading.deadline = time.monotonic() + self.limits.header_timeout
        reading.data += data
        self._progress(conn, reading)

    def _unpark(self, conn: TConn) -> _Reading:
        reading = self._reading.pop(conn)
        self._arriving.pop(conn, None)
        if reading.registered:
            self.poller.unregister(conn.sock)
        return reading

    def _progress(self, conn: TConn, reading: _Reading) -> bool:
        """Hand the connection to a thread once enough of its request has arrived."""
        shape = reading.scan.shape(reading.data)
        if shape is None:
            return False
        self._unpark(conn)
        conn.preread = bytes(reading.data)
        if shape == QUICK:
            self._ready.append(conn)
        else:
            self._streamed.append((time.monotonic() + self.limits.upload_wait, conn))
        self._dispatch()
        return True

    def _refuse_busy(self, conn: TConn) -> None:
        """Answer a streamed request that waited ``upload_wait`` seconds for an
        upload thread with a 503, rather than holding it longer here, where a killed
        worker would lose it."""
        data = conn.__dict__.pop("preread", b"")
        path = data[: data.find(b"\r\n")].split(b" ")[1:2]
        self.log.warning(
            "every upload thread stayed busy (%d): a streamed request is refused with 503",
            self._busy_streaming,
        )
        with contextlib.suppress(OSError):
            conn.sock.send(busy_response(path[0].decode("latin-1") if path else "/"))
        self._close(conn)

    def murder_pending(self) -> None:
        """Close the parked connections whose time is up (each turn of the loop, at
        most every :data:`SWEEP_INTERVAL` seconds)."""
        super().murder_pending()
        if self._forget_slow_arrivals():
            self._update_accepting()
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL
        late = [conn for conn, reading in self._reading.items() if reading.deadline <= now]
        for conn in late:
            self._unpark(conn)
            self._close(conn)
        done = [conn for conn, deadline in self._closing.items() if deadline <= now]
        for conn in done:
            self._closed(conn)
        while self._streamed and self._streamed[0][0] <= now:
            self._refuse_busy(self._streamed.popleft()[1])

    # Threads

    def _dispatch(self) -> None:
        while self._ready and self._busy < self.cfg.threads:
            self._busy += 1
            self._submit(self.tpool, self._ready.popleft(), streamed=False)
        while self._streamed and self._busy_streaming < self.limits.upload_threads:
            self._busy_streaming += 1
            self._submit(self._upload_pool, self._streamed.popleft()[1], streamed=True)
        self._update_accepting()

    def _submit(self, pool: Any, conn: TConn, *, streamed: bool) -> None:
        done = pool.submit(self.handle, conn)
        done.add_done_callback(
            lambda future: self.method_queue.defer(self._served, conn, future, streamed)
        )

    def handle(self, conn: TConn) -> Any:
        """Serve the request whose beginning the event loop read (in a thread)."""
        conn.data_ready = True  # gunicorn's own wait for the first byte is not needed
        conn.sock.setblocking(True)
        conn.init()
        conn.parser.unreader.unread(conn.__dict__.pop("preread", b""))
        conn.sock.arm()
        try:
            return super().handle(conn)
        finally:
            conn.sock.disarm()

    def _served(self, conn: TConn, future: Any, streamed: bool) -> None:
        """After a thread served ``conn`` (in the event loop)."""
        if streamed:
            self._busy_streaming -= 1
        else:
            self._busy -= 1
        self.finish_request(conn, future)
        self._dispatch()

    def finish_request(self, conn: TConn, future: Any) -> None:
        try:
            keep_alive = bool(future.result()) if not future.cancelled() else False
        except Exception:
            keep_alive = False
        if keep_alive:
            # What the client sent past the end of the request is the next request.
            self._park(conn, conn.parser.unreader.take_buffered(), kept_alive=True)
        else:
            self._close(conn)

    # Closing

    def _close(self, conn: TConn) -> None:
        """Half-close, then drain what the client still sends until it closes or
        :data:`CLOSE_LINGER` passes, without holding the event loop."""
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._closed(conn, registered=False)
            return
        self._closing[conn] = time.monotonic() + CLOSE_LINGER
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._draining, conn))

    def _draining(self, conn: TConn, _sock: Any) -> None:
        if conn not in self._closing:  # an event selected before it was closed
            return
        try:
            if conn.sock.recv(65536):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self._closed(conn)

    def _closed(self, conn: TConn, *, registered: bool = True) -> None:
        if registered:
            self._closing.pop(conn, None)
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def murder_keepalived(self, force: bool = False) -> None:
        # Kept-alive connections are parked like new ones (see _park); on the way out,
        # whatever is still parked or draining is closed.
        super().murder_keepalived(force)
        if force:
            for conn in list(self._reading):
                self._unpark(conn)
                self.nr_conns -= 1
                conn.close()
            for conn in list(self._closing):
                self._closed(conn)


UNREAD_BODY_STATUSES = ("408", "413")
"""Answers given without reading the request's body (too slow, too large): the
connection cannot carry another request, and says so."""


def _closing_unread_bodies(app: Any) -> Any:
    """``app``, whose answers that leave the body unread say ``Connection: close``
    (gunicorn would announce keep-alive, then close the socket when it cannot drain the
    body). gunicorn's ``start_response`` is a method of its response, which is closed
    for good with ``force_close``."""

    def closing(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith(UNREAD_BODY_STATUSES):
                response = getattr(start_response, "__self__", None)
                if response is not None and hasattr(response, "force_close"):
                    response.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return closing


def _receive(sock: Any) -> bytes | None:
    """What a non-blocking client socket holds: None while nothing has arrived, and
    ``b""`` once the client has gone (closed, or reset)."""
    try:
        data: bytes = sock.recv(65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""
    return data


def defer_accept(listener: Any, seconds: float) -> None:
    """On Linux, have the kernel complete ``accept`` only once a connection has sent data
    (up to ``seconds``, as nginx's ``listen ... deferred``): a connection that has sent
    nothing belongs to no worker yet, so a killed worker cannot take it along, and a
    worker never parks idle connections it may not need."""
    option = getattr(socket, "TCP_DEFER_ACCEPT", None)
    if option is None or listener.sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    listener.sock.setsockopt(socket.IPPROTO_TCP, option, max(1, round(seconds)))


def worker_class(limits: ConnectionLimits) -> type[ThreadWorker]:
    """The worker class, with ``limits``."""
    return type("ThreadWorker", (ThreadWorker,), {"limits": limits})
