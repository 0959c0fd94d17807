"""Bytes in and out through the API: upload throughput and the worker's memory while a
large body streams in, and download throughput of a large file from local storage, each
beside plain file copying of the same bytes in the same run.

Goals (issue "storage, uploads and playback"): upload >= 150 MB/s per worker with RSS
growth < 50 MB while 2 GiB stream in; download >= 1 GB/s per worker. The download reads
back the uploaded file (the issue names 1 GiB; by default this reads 2 GiB).

Every read is measured from the disk, not from the page cache: just written, the file
would otherwise be read back from memory, at a speed no download of an older video
sees. Before each read the file is flushed (``fsync``: dirty pages cannot be dropped)
and dropped from the cache (``posix_fadvise(POSIX_FADV_DONTNEED)``), and the share of it
still cached is checked (``mincore``) and printed.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import mmap
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.http import _server, server_env, single_server

MiB = 1024 * 1024
CHUNK = MiB


def _pattern(total: int) -> Iterator[bytes]:
    block = os.urandom(CHUNK)  # random once: no compression or dedup anywhere helps
    sent = 0
    while sent < total:
        piece = block[: min(CHUNK, total - sent)]
        sent += len(piece)
        yield piece


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if not children:
        raise RuntimeError("no gunicorn worker found")
    return int(children[0])


def evict(path: Path) -> float | None:
    """Flush ``path`` to disk and drop it from the page cache, so that the next read
    comes from the disk. Returns the share of its pages still cached afterwards (None
    where that cannot be told)."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return cached_share(path)


def cached_share(path: Path) -> float | None:
    """The share of ``path``'s pages in the page cache (``mincore`` on a mapping of it),
    or None where that cannot be told. Mapping reads nothing: pages are only touched
    when accessed."""
    size = path.stat().st_size
    if size == 0:
        return 0.0
    try:
        mincore = ctypes.CDLL(None, use_errno=True).mincore
    except (OSError, AttributeError):
        return None
    mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    mincore.restype = ctypes.c_int
    pages = -(-size // mmap.PAGESIZE)
    vector = (ctypes.c_ubyte * pages)()
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_COPY) as m:
        view = ctypes.c_char.from_buffer(m)  # a private mapping is writable, so addressable
        try:
            failed = mincore(ctypes.addressof(view), size, vector)
        finally:
            del view  # the mapping cannot close while a buffer of it is exported
    if failed:
        return None
    return sum(byte & 1 for byte in bytes(vector)) / pages


def _baseline(folder: Path, total: int) -> dict[str, float | None]:
    """The same bytes written, then read back from the disk, with plain buffered file
    I/O."""
    target = folder / "baseline.bin"
    started = time.perf_counter()
    with target.open("wb") as out:
        for piece in _pattern(total):
            out.write(piece)
        out.flush()
        os.fsync(out.fileno())
    wrote = time.perf_counter() - started
    cached = evict(target)
    started = time.perf_counter()
    with target.open("rb") as source, open(os.devnull, "wb") as sink:
        shutil.copyfileobj(source, sink, CHUNK)
    read = time.perf_counter() - started
    target.unlink()
    return {
        "write_MBps": total / wrote / 1e6,
        "read_MBps": total / read / 1e6,
        "read_cached_share": cached,
    }


def run(*, upload_bytes: int = 2 * 1024 * MiB) -> dict[str, Any]:
    """Upload ``upload_bytes`` through the API, then download that same file."""
    report: dict[str, Any] = {"upload_bytes": upload_bytes}
    with tempfile.TemporaryDirectory(dir=os.environ.get("VIDEOPLATFORM_BENCH_DIR")) as folder:
        work = Path(folder)
        report["baseline"] = _baseline(work, upload_bytes)
        env = server_env(
            data_dir=str(work / "data"),
            max_upload_bytes=str(upload_bytes + MiB),
            quota_bytes_per_user=str(4 * upload_bytes),
            request_timeout_seconds="600",
        )
        command = single_server()
        (work / "server").mkdir()
        with _server(command, env, work / "server") as base:
            host, port = base.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=600)

            def call(
                method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
            ) -> tuple[int, bytes]:
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                return response.status, response.read()

            payload = json.dumps(
                {"email": "bench@example.com", "password": "bench passphrase", "display_name": "B"}
            )
            call("POST", "/api/v1/auth/register", payload, {"Content-Type": "application/json"})
            status, body = call(
                "POST",
                "/api/v1/auth/session",
                json.dumps({"email": "bench@example.com", "password": "bench passphrase"}),
                {"Content-Type": "application/json"},
            )
            token = json.loads(body)["token"]
            auth = {"Authorization": f"Bearer {token}"}
            master = _server_pid(work / "server")
            worker = _worker_pid(master)
            before = _rss_kib(worker)
            peak = [before]
            stop = threading.Event()

            def watch() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], _rss_kib(worker))
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            started = time.perf_counter()
            status, body = call(
                "POST",
                "/api/v1/files?folder=/&name=big.bin",
                _pattern(upload_bytes),
                {
                    **auth,
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(upload_bytes),
                },
            )
            uploaded = time.perf_counter() - started
            stop.set()
            watcher.join()
            if status != 201:
                raise RuntimeError(f"upload failed: {status} {body[:200]!r}")
            report["upload"] = {
                "MBps": upload_bytes / uploaded / 1e6,
                "rss_before_MiB": before / 1024,
                "rss_peak_MiB": peak[0] / 1024,
                "rss_growth_MiB": (peak[0] - before) / 1024,
            }
            file_id = json.loads(body)["id"]
            cached = evict(_stored_copy(work / "data", upload_bytes))
            started = time.perf_counter()
            conn.request("GET", f"/api/v1/files/{file_id}/content", headers=auth)
            response = conn.getresponse()
            received = 0
            while piece := response.read(CHUNK):
                received += len(piece)
            downloaded = time.perf_counter() - started
            report["download"] = {
                "MBps": received / downloaded / 1e6,
                "bytes": received,
                "cached_share": cached,
            }
            report["download_bytes"] = received
            conn.close()
    _print(report)
    return report


def _stored_copy(data_dir: Path, size: int) -> Path:
    """The file local storage keeps the upload in (the only one of its size)."""
    found = [p for p in data_dir.rglob("*") if p.is_file() and p.stat().st_size == size]
    if len(found) != 1:
        raise RuntimeError(f"expected one stored file of {size} bytes, found {len(found)}")
    return found[0]


def _server_pid(folder: Path) -> int:
    for line in (folder / "stderr.txt").read_text(errors="replace").splitlines():
        if "Starting gunicorn" in line or "Listening at" in line:
            try:
                return int(json.loads(line).get("pid") or 0) or _pid_from_proc(folder)
            except ValueError:
                break
    return _pid_from_proc(folder)


def _pid_from_proc(folder: Path) -> int:
    target = str(Path(sys.executable).parent / "videoplatform")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(cmdline) > 1 and target.encode() in cmdline[1] and b"serve" in cmdline:
                return int(entry.name)
    raise RuntimeError("server process not found")


def _print(report: dict[str, Any]) -> None:
    base, up, down = report["baseline"], report["upload"], report["download"]
    up_mib, down_mib = report["upload_bytes"] / MiB, report["download_bytes"] / MiB
    print(f"\nstorage: {up_mib:.0f} MiB up, {down_mib:.0f} MiB down, 1 sync worker, local disk")
    print(
        "reads come from the disk: each file is fsynced and dropped from the page cache "
        "(posix_fadvise DONTNEED) before it is read; still cached then: "
        f"baseline {_share(base['read_cached_share'])}, "
        f"download {_share(down['cached_share'])}"
    )
    print(f"baseline   write {base['write_MBps']:8.0f} MB/s   read {base['read_MBps']:8.0f} MB/s")
    print(
        f"upload     {up['MBps']:8.0f} MB/s (x{up['MBps'] / base['write_MBps']:.2f} of plain "
        f"writing); worker RSS {up['rss_before_MiB']:.0f} -> peak {up['rss_peak_MiB']:.0f} MiB "
        f"(+{up['rss_growth_MiB']:.1f})"
    )
    ratio = down["MBps"] / base["read_MBps"]
    print(f"download   {down['MBps']:8.0f} MB/s (x{ratio:.2f} of plain reading, both from disk)")
    growth_mb = up["rss_growth_MiB"] * 1.048576
    print(
        f"goals: upload >= 150 MB/s: {'met' if up['MBps'] >= 150 else 'NOT met'}; "
        f"RSS growth < 50 MB: {'met' if growth_mb < 50 else 'NOT met'}; "
        f"download >= 1 GB/s: {'met' if down['MBps'] >= 1000 else 'NOT met'}"
    )


def _share(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1%}"
