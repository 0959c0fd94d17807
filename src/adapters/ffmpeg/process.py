"""Running ffmpeg confined: the one way every adapter here starts it.

* the input is opened with ``-protocol_whitelist file`` and ``-format_whitelist`` set to
  the configured demuxers; libavformat copies both whitelists into every nested context
  it opens (an HLS playlist, a concat list...), so media cannot make ffmpeg open a URL or
  a demuxer outside the list, whatever its name or content;
* ``-max_streams`` bounds what a hostile header can make ffmpeg allocate;
* the child gets its own process group (killed whole on timeout), no stdin (``-nostdin``
  and /dev/null), a memory limit set in the child before ffmpeg starts, and the caller's
  thread cap;
* on Linux the child dies with the thread that started it (``PR_SET_PDEATHSIG``): being
  in its own session, it would otherwise outlive a worker killed with SIGKILL (or by the
  OOM killer) and keep transcoding, unseen, for a job already given to another worker;
* outputs are written only where the caller (the adapter, into the job's own directory)
  says; ``-y`` is therefore safe.

A timeout, a crash or a non-zero exit raises :class:`FfmpegFailed`; the adapters turn it
into ``MediaRejected`` or ``RuntimeError`` with a reason. Partial outputs are left for the
caller to discard.

ffmpeg runs with ``-loglevel level+info``: every message it logs starts with its level
(``[image2 @ 0x...] [error] Could not open file : ...``). Why a run failed is in its
error-level messages, which are neither the last line (a statistic, a "Conversion failed!")
nor in a fixed place; the level tag is the only reliable way to tell them from progress and
statistics. The stderr kept is as ffmpeg wrote it, tags included (:func:`untagged` gives
the report as ffmpeg prints it without them); the error-level messages of the whole run
are collected apart, bounded, into :attr:`FfmpegFailed.errors`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import resource
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from attrs import frozen

from videoplatform.adapters.ffmpeg.config import FfmpegConfig
from videoplatform.application.ports.media import MediaRejected

STDERR_KEEP_LINES = 400
STDOUT_KEEP_LINES = 10_000
"""What a run keeps of stdout when no ``on_stdout_line`` takes it: the first lines, enough
for ffmpeg's listings (``-encoders``...). Output that may be longer (packet lists,
progress) must be read as it comes, through ``on_stdout_line``."""

# The error-level messages a failure carries: the first ones (the cause comes first; what
# follows is ffmpeg unwinding) and the last ones (the verdict, after any number of
# recoverable errors such as damaged frames), each cut to a line's worth.
ERRORS_KEPT_FIRST = 6
ERRORS_KEPT_LAST = 4
ERROR_LINE_CHARS = 300
ERROR_SUMMARY_CHARS = 1000

_LEVELS = "quiet|panic|fatal|error|warning|info|verbose|debug|trace"
# What precedes a message on its first line: the prefixes naming its context
# (``[h264 @ 0x...] ``), then its level. Only a line that starts a message has them;
# further lines of the same message do not.
_CONTEXT = r"(?P<context>(?:\[[^\[\]\n]* @ [^\[\]\n]*\] )*)"
_LEVEL_TAG = re.compile(rf"{_CONTEXT}\[(?P<level>{_LEVELS})\] ")
_PREFIXES = re.compile(rf"{_CONTEXT}(?:\[(?:{_LEVELS})\] )?")
_ERROR_LEVELS = frozenset({"panic", "fatal", "error"})
# An absolute path or file: URL (not the "max/min" or "1/25" inside words and numbers).
_PATH = re.compile(r"(?<![\w.~/-])(?:file:)?/[^\s'\",;]*?(?=[\s'\",;]|:\s|:$|$)")
# Lines ffmpeg prints while it works or as it ends, which never say why it failed.
_NOT_A_CAUSE = re.compile(
    r"^(?:frame=|size=|video:|Qavg|\[q=|Last message repeated|Conversion failed"
    r"|Exiting normally|Press \[q\])"
)
_LOOKS_LIKE_AN_ERROR = re.compile(
    r"error|fail|could not|cannot|can't|unable|invalid|no such|denied|not found|not supported",
    re.IGNORECASE,
)


def untagged(stderr: str) -> str:
    """``stderr`` without the level tags of ``-loglevel level+...``: ffmpeg's report as it
    prints it by default, for parsers of that report."""
    return "".join(
        line if (tag := _LEVEL_TAG.match(line)) is None else tag["context"] + line[tag.end() :]
        for line in stderr.splitlines(keepends=True)
    )


def _clean(message: str) -> str:
    """One message for a reason: no context prefixes, no paths (a file's name is kept),
    one line's length at most."""
    text = _PREFIXES.sub("", message.strip(), count=1).strip()
    text = _PATH.sub(lambda found: found[0].rstrip("/").rsplit("/", 1)[-1] or "/", text)
    text = " ".join(text.split())
    if len(text) > ERROR_LINE_CHARS:
        text = text[: ERROR_LINE_CHARS - 1] + "…"
    return text


class ErrorLines:
    """The distinct error-level messages of a run, bounded: the first
    ``ERRORS_KEPT_FIRST``, the last ``ERRORS_KEPT_LAST`` and how many between were left
    out."""

    def __init__(self) -> None:
        self._first: list[str] = []
        self._last: deque[str] = deque(maxlen=ERRORS_KEPT_LAST)
        self._left_out = 0

    def add(self, message: str) -> None:
        text = _clean(message)
        if not text or text in self._first or text in self._last:
            return
        if len(self._first) < ERRORS_KEPT_FIRST:
            self._first.append(text)
            return
        if len(self._last) == ERRORS_KEPT_LAST:
            self._left_out += 1
        self._last.append(text)

    def lines(self) -> tuple[str, ...]:
        between = (f"({self._left_out} more)",) if self._left_out else ()
        return (*self._first, *between, *self._last)


def _error_messages(stderr: str) -> ErrorLines:
    found = ErrorLines()
    for line in stderr.splitlines():
        if (tag := _LEVEL_TAG.match(line)) is not None and tag["level"] in _ERROR_LEVELS:
            found.add(line[tag.end() :])
    return found


class FfmpegFailed(Exception):
    """ffmpeg exited badly, was killed, or ran past its time.

    ``reason`` says which, in a few words; ``errors`` are ffmpeg's own error messages of
    the run (bounded, path-free), and the exception's text is both. ``stderr`` is the end
    of what ffmpeg wrote, level tags included."""

    def __init__(
        self,
        reason: str,
        stderr: str = "",
        timed_out: bool = False,
        errors: Sequence[str] = (),
    ) -> None:
        self.reason = reason
        self.stderr = stderr
        self.timed_out = timed_out
        self.errors = tuple(errors)
        summary = "; ".join(self.errors)
        if len(summary) > ERROR_SUMMARY_CHARS:
            summary = summary[: ERROR_SUMMARY_CHARS - 1] + "…"
        super().__init__(f"{reason}: {summary}" if summary else reason)


@frozen
class FfmpegResult:
    returncode: int
    stdout: str
    stderr: str


def file_url(path: Path) -> str:
    """``path`` as an explicit ``file:`` URL, so no part of a name is read as a protocol
    or an option."""
    return "file:" + str(path.resolve())


def input_args(config: FfmpegConfig, source: Path, container: str | None = None) -> list[str]:
    """The options that confine how ``source`` is opened, then ``-i`` itself.

    ``container`` (a probed demuxer name, checked against the allowlist) is forced with
    ``-f`` so nothing is guessed twice.
    """
    args = [
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        ",".join(config.allowed_formats),
        "-max_streams",
        str(config.max_streams),
    ]
    if container is not None:
        if container not in config.allowed_formats:
            raise MediaRejected(f"container format {container!r} is not allowed")
        args += ["-f", container]
    return [*args, "-i", file_url(source)]


def base_args(config: FfmpegConfig) -> list[str]:
    return [config.executable(), "-hide_banner", "-nostdin", "-loglevel", "level+info"]


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, loaded once here: nothing may be loaded between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - every Linux libc has it
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()


def _limit_child(memory_limit: int, limit_data_only: bool) -> Callable[[], None]:
    kind = resource.RLIMIT_DATA if limit_data_only else resource.RLIMIT_AS
    parent = os.getpid()

    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(kind, (memory_limit, memory_limit))
        if _PRCTL is not None:
            # SIGKILL when the forking thread ends (it waits for ffmpeg, so: when the
            # worker dies). A parent that died before this line is not noticed by the
            # kernel: then the child is already someone else's and ends itself.
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    return apply


def run_ffmpeg(
    args: Sequence[str],
    config: FfmpegConfig,
    *,
    timeout: float,
    on_stdout_line: Callable[[str], None] | None = None,
    limit_data_only: bool = False,
) -> FfmpegResult:
    """Run ``args`` (the full command line), raising FfmpegFailed unless it exits 0.

    ``on_stdout_line`` is called, in this thread, for each line ffmpeg writes to stdout
    (``-progress pipe:1``, a packet list), as it comes; without it the result keeps the
    first ``STDOUT_KEEP_LINES`` lines. The result keeps the last ``STDERR_KEEP_LINES``
    lines of stderr.
    """
    # The command is built by this package from checked parts; the only outside input,
    # the source path, goes in as an explicit file: URL after ``-i``.
    process = subprocess.Popen(  # noqa: S603
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_limit_child(config.memory_limit_bytes, limit_data_only),
        close_fds=True,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    timed_out = threading.Event()

    def kill_group() -> None:
        timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    stderr_lines: deque[str] = deque(maxlen=STDERR_KEEP_LINES)
    errors = ErrorLines()
    if process.stderr is None or process.stdout is None:  # pragma: no cover - PIPE above
        raise RuntimeError("ffmpeg's output pipes are missing")
    err_stream = process.stderr

    def read_stderr() -> None:
        # All of it, as it comes: the cause of a failure may be long gone from the tail.
        for line in err_stream:
            stderr_lines.append(line)
            if (tag := _LEVEL_TAG.match(line)) is not None and tag["level"] in _ERROR_LEVELS:
                errors.add(line[tag.end() :])

    reader = threading.Thread(target=read_stderr, daemon=True)
    watchdog = threading.Timer(timeout, kill_group)
    reader.start()
    watchdog.start()
    stdout: list[str] = []
    try:
        for line in process.stdout:
            if on_stdout_line is not None:
                on_stdout_line(line.rstrip("\n"))
            elif len(stdout) < STDOUT_KEEP_LINES:
                stdout.append(line)
        returncode = process.wait()
    except BaseException:
        kill_group()
        process.wait()
        raise
    finally:
        watchdog.cancel()
        reader.join(timeout=5)
        process.stdout.close()
        process.stderr.close()
    stderr = "".join(stderr_lines)
    if timed_out.is_set():
        raise FfmpegFailed(
            f"ffmpeg ran longer than {timeout:g}s", stderr, timed_out=True, errors=errors.lines()
        )
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else ""
        raise FfmpegFailed(
            f"ffmpeg was killed by signal {name or -returncode}", stderr, errors=errors.lines()
        )
    if returncode != 0:
        found = errors.lines()
        if not found and (guess := _untagged_cause(stderr)) is not None:
            found = (guess,)  # a command line without ``level+``
        raise FfmpegFailed(f"ffmpeg exited with status {returncode}", stderr, errors=found)
    return FfmpegResult(returncode, "".join(stdout), stderr)


def _untagged_cause(stderr: str) -> str | None:
    """For output without level tags: the last line that reads like an error, else the
    last that is not progress or statistics."""
    fallback = None
    for line in reversed(stderr.splitlines()):
        text = _clean(line)
        if not text or _NOT_A_CAUSE.match(text):
            continue
        if _LOOKS_LIKE_AN_ERROR.search(text):
            return text
        fallback = fallback or text
    return fallback


def last_error_line(stderr: str) -> str:
    """A short, path-free summary of why ffmpeg failed, for logs and reasons: its first
    error-level message (the cause) and, when there are more, its last (the verdict)."""
    found = _error_messages(stderr).lines()
    if found:
        first, last = found[0], found[-1]
        return first if first == last else f"{first} … {last}"
    return _untagged_cause(stderr) or "no diagnostic"
