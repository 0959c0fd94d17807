"""Structured logs for the processes the entrypoints start (the server, the CLI).

One handler on the root logger renders every record, whether it comes from structlog
(``structlog.get_logger(...).info("request", status=200)``) or from the standard
library (gunicorn, SQLAlchemy, warnings): one JSON object per line for machines, or
aligned, readable lines for a person at a terminal. Values bound with
``structlog.contextvars.bind_contextvars`` (the HTTP middleware binds ``request_id`` and
``user_id``) appear on every line logged while they are bound.

Nothing is configured at import time: call :func:`configure_logging` once at start-up.
Calling it again replaces the previous configuration instead of stacking handlers.
"""

from __future__ import annotations

import json
import logging
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import Processor

from videoplatform.application.dispatch import Message, Proceed
from videoplatform.entrypoints.error_tracking import report_logged_errors
from videoplatform.entrypoints.tracing import add_trace_context

_HANDLER_NAME = "videoplatform"
_state = {"configured": False}


def _level_number(level: int | str) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.strip().upper())
    if number is None:
        raise ValueError(f"unknown log level {level!r} (use debug, info, warning or error)")
    return number


def configure_logging(
    json: bool = True, level: int | str = "INFO", *, stream: TextIO | None = None
) -> None:
    """Route structlog and stdlib logging through one renderer on ``stream``
    (default: standard error).

    ``json``: one JSON object per line with ``timestamp`` (ISO 8601, UTC), ``level``,
    ``logger``, ``event`` and the bound context; otherwise a console rendering.
    """
    threshold = _level_number(level)
    # Applied to every entry, structlog's and stdlib's alike, before rendering.
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # The current span's trace_id and span_id, where tracing is on.
        add_trace_context,
        # Errors logged with their exception also go to Sentry, where it is on.
        report_logged_errors,
    ]
    output = stream if stream is not None else sys.stderr
    renderer: Processor
    if json:
        renderer = structlog.processors.JSONRenderer(serializer=_json_line)
        # Never the frames' local variables: they hold passwords, tokens and bodies.
        finish: list[Processor] = [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        ]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_is_terminal(output))
        finish = []
    # structlog's own entries (every request line) are rendered and written directly:
    # going through stdlib logging's handler machinery cost more than the rest of the
    # line. Records from stdlib loggers get the same processors through the formatter.
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *finish, renderer],
        logger_factory=_NamedWriteLoggerFactory(output),
        # Filtering in the bound logger drops a disabled call before any processor runs.
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        # Not cached: a later configure_logging (or structlog.testing.capture_logs)
        # must reach loggers that modules created at import time.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(output)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # A stdlib record's structured ``extra`` fields that are rendered: the
            # dispatch point's (what ran, for whom, how long, how it ended).
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(allow=["dispatch"])],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *finish,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(previous)
        previous.close()
    root.addHandler(handler)
    root.setLevel(threshold)
    logging.captureWarnings(True)
    _state["configured"] = True


def bind_use_case(message: Message, proceed: Proceed) -> Any:
    """Dispatch middleware: what is logged while a use case (or an event handler) runs
    carries its name as ``use_case`` (a slow statement, an error of a job)."""
    with structlog.contextvars.bound_contextvars(use_case=message.name):
        return proceed()


class _NamedWriteLogger(structlog.WriteLogger):
    """A direct writer that knows its name, for the ``logger`` field.

    Given the stream's file descriptor, it writes each line with one ``write`` system
    call, holding no lock over it. ``structlog.WriteLogger`` holds a lock around the
    write, and under the threaded server a thread that lets go of the interpreter inside
    that system call keeps every other thread that logs waiting on the lock, then on the
    interpreter (profiled with four request threads: a fifth of their time went there).
    See :class:`_LineGate` for how lines stay whole."""

    def __init__(
        self, file: TextIO, name: str, fd: int | None = None, gate: _LineGate | None = None
    ) -> None:
        super().__init__(file)
        self.name = name
        self._fd = fd
        self._gate = gate

    def msg(self, message: str) -> None:
        fd, gate = self._fd, self._gate
        if fd is None or gate is None:
            super().msg(message)
            return
        data = (message + "\n").encode("utf-8", "backslashreplace")
        alone = len(data) > select.PIPE_BUF
        gate.enter(alone)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            gate.leave(alone)

    log = debug = info = warn = warning = fatal = failure = err = error = critical = exception = msg


class _LineGate:
    """Keeps the lines written to one descriptor whole.

    A write of up to ``PIPE_BUF`` bytes lands whole even on a pipe that other writers
    share, so such lines are written side by side; a longer line (a traceback) may be
    split by the kernel, so it is written alone, while no other line is. A long line
    waiting goes before short lines that come after it. The lock is held only to count,
    never over a system call."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._short = 0  # short lines being written
        self._long = False  # a long line being written
        self._long_waiting = 0
        self._waiting = 0  # writers of either kind waiting for their turn

    def enter(self, alone: bool) -> None:
        with self._changed:
            if alone:
                self._long_waiting += 1
                self._wait_while(lambda: self._long or self._short > 0)
                self._long_waiting -= 1
                self._long = True
            else:
                if self._long or self._long_waiting:
                    self._wait_while(lambda: self._long or self._long_waiting > 0)
                self._short += 1

    def leave(self, alone: bool) -> None:
        with self._changed:
            if alone:
                self._long = False
            else:
                self._short -= 1
            if self._waiting and not self._short:
                self._changed.notify_all()

    def _wait_while(self, blocked: Callable[[], bool]) -> None:
        self._waiting += 1
        try:
            while blocked():
                self._changed.wait()
        finally:
            self._waiting -= 1


class _NamedWriteLoggerFactory:
    """One writer per logger name (structlog asks for one at every call: loggers are
    not cached, so that a new configuration reaches them)."""

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._fd = _descriptor(file)
        self._gate = _LineGate()
        self._made: dict[str, _NamedWriteLogger] = {}

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        name = str(args[0]) if args else ""
        made = self._made.get(name)
        if made is None:
            made = _NamedWriteLogger(self._file, name, self._fd, self._gate)
            made = self._made.setdefault(name, made)
        return made


def _json_line(event: dict[str, Any], default: Callable[[Any], Any] = repr, **_: Any) -> str:
    """One entry as JSON, written by orjson (a twentieth of ``json.dumps``'s time).
    What orjson does not take (an integer past 64 bits, a string with a lone
    surrogate) is written by ``json.dumps`` instead."""
    try:
        return orjson.dumps(event, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(event, default=default)


def _descriptor(file: TextIO) -> int | None:
    """The file descriptor under ``file``, flushed so that nothing it holds comes out
    after lines written to the descriptor directly; None for a stream without one (an
    in-memory buffer, a test's capture)."""
    try:
        fd = file.fileno()
        file.flush()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return fd


def logging_configured() -> bool:
    """Whether :func:`configure_logging` ran in this process (or the one it forked from)."""
    return _state["configured"]


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
