"""Server-Sent Events: a video's processing states as ``text/event-stream``.

The body is an iterator that the WSGI server writes out event by event (nothing in the
middleware buffers it). Under gunicorn's threaded workers each open stream holds one
thread of its process for as long as it lasts, so :class:`StreamSlots` caps how many
streams a process serves at once; past the cap, a stream is refused with 503
``too_many_streams`` and a Retry-After.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator

import falcon
from prometheus_client import Gauge

from videoplatform.application.ports.feed import ProcessingProgress
from videoplatform.entrypoints.http.convert import dump
from videoplatform.entrypoints.http.errors import coded
from videoplatform.entrypoints.http.views import ProcessingView

EVENT_STREAM = "text/event-stream"
RECONNECT_MS = 5000
HEARTBEAT = b": heartbeat\n\n"


class StreamSlots:
    def __init__(self, limit: int, open_streams: Gauge | None = None) -> None:
        if limit < 0:
            raise ValueError("the stream limit cannot be negative")
        self._slots = threading.BoundedSemaphore(limit) if limit else None
        self._open = open_streams

    def take(self) -> None:
        """Hold a slot, or refuse the request with 503."""
        if self._slots is not None and self._slots.acquire(blocking=False):
            if self._open is not None:
                self._open.inc()
            return
        raise coded(
            falcon.HTTPServiceUnavailable(
                title="Service Unavailable",
                description="too many event streams are open here; retry shortly",
                retry_after=RECONNECT_MS // 1000,
            ),
            "too_many_streams",
        )

    def give_back(self) -> None:
        if self._slots is not None:
            self._slots.release()
            if self._open is not None:
                self._open.dec()


def event(number: int, kind: str, state: ProcessingProgress) -> bytes:
    data = json.dumps(dump(ProcessingView.of(state)), separators=(",", ":"))
    return f"event: {kind}\nid: {number}\ndata: {data}\n\n".encode()


class EventStream:
    """The body of one stream: the first event says when to reconnect; each state
    becomes a ``status`` event (the first one, and any change of status) or a
    ``progress`` event; a heartbeat is a comment. The WSGI server calls :meth:`close`
    when the stream ends or the client goes away, which gives the slot back even when
    no byte was ever sent."""

    def __init__(self, states: Iterator[ProcessingProgress | None], slots: StreamSlots) -> None:
        self._states = states
        self._slots: StreamSlots | None = slots
        self._body = self._events()

    def _events(self) -> Generator[bytes]:
        last: ProcessingProgress | None = None
        number = 0
        yield f"retry: {RECONNECT_MS}\n\n".encode()
        for state in self._states:
            if state is None:
                yield HEARTBEAT
                continue
            number += 1
            kind = "status" if last is None or last.status is not state.status else "progress"
            yield event(number, kind, state)
            last = state

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> bytes:
        return next(self._body)

    def close(self) -> None:
        try:
            self._body.close()
            close = getattr(self._states, "close", None)
            if close is not None:
                close()
        finally:
            slots, self._slots = self._slots, None
            if slots is not None:
                slots.give_back()
