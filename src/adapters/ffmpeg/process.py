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
"""

from __future__ import annotations

import contextlib
import ctypes
import os
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


class FfmpegFailed(Exception):
    """ffmpeg exited badly, was killed, or ran past its time."""

    def __init__(self, reason: str, stderr: str = "", timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stderr = stderr
        self.timed_out = timed_out


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
    return [config.executable(), "-hide_banner", "-nostdin", "-loglevel", "info"]


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
    (``-progress pipe:1``), as it comes.
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
    if process.stderr is None or process.stdout is None:  # pragma: no cover - PIPE above
        raise RuntimeError("ffmpeg's output pipes are missing")
    err_stream = process.stderr
    reader = threading.Thread(target=lambda: stderr_lines.extend(err_stream), daemon=True)
    watchdog = threading.Timer(timeout, kill_group)
    reader.start()
    watchdog.start()
    stdout: list[str] = []
    try:
        for line in process.stdout:
            if on_stdout_line is not None:
                on_stdout_line(line.rstrip("\n"))
            elif len(stdout) < 10_000:
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
        raise FfmpegFailed(f"ffmpeg ran longer than {timeout:g}s", stderr, timed_out=True)
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else ""
        raise FfmpegFailed(f"ffmpeg was killed by signal {name or -returncode}", stderr)
    if returncode != 0:
        raise FfmpegFailed(f"ffmpeg exited with status {returncode}", stderr)
    return FfmpegResult(returncode, "".join(stdout), stderr)


def last_error_line(stderr: str) -> str:
    """A short, path-free summary of why ffmpeg failed, for logs and reasons."""
    for line in reversed(stderr.splitlines()):
        text = line.strip()
        if not text or text.startswith(("frame=", "Conversion failed", "[out#")):
            continue
        if text.startswith("[") and "] " in text:
            text = text.split("] ", 1)[1]
        return text[:200]
    return "no diagnostic"
