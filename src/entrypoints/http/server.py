"""``videoplatform serve``: the HTTP API under gunicorn, started from Python.

The master process checks the settings and prepares the database (on the embedded
profile it creates the data directory and migrates the SQLite file), closes that
platform, then forks the workers; each worker builds its own platform
(:func:`entrypoints.http.wsgi.create`) and closes it when it exits.

Shutdown: on SIGTERM the server stops accepting connections, requests in flight get up
to ``graceful_timeout`` seconds to finish (then their workers are killed), and the master
exits 0. SIGINT (Ctrl+C) and SIGQUIT stop at once.
"""

from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import gunicorn
import gunicorn.http.wsgi
from attrs import evolve, field, frozen
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger

from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.http import wsgi
from videoplatform.entrypoints.http.workers import SERVER_NAME, ConnectionLimits, worker_class
from videoplatform.entrypoints.metrics import forget_process, prepare_multiprocess
from videoplatform.entrypoints.persistence import database_url
from videoplatform.entrypoints.settings import ConfigurationError, Settings, masked_url
from videoplatform.entrypoints.tracing import check_tracing_environment

WsgiApp = Callable[..., Any]


# Where each option comes from, for messages that refuse one.
_SOURCES = {
    "bind": "VIDEOPLATFORM_BIND or --bind",
    "workers": "VIDEOPLATFORM_WORKERS or --workers",
    "threads": "VIDEOPLATFORM_THREADS or --threads",
    "timeout": "VIDEOPLATFORM_REQUEST_TIMEOUT_SECONDS or --timeout",
    "graceful_timeout": "VIDEOPLATFORM_GRACEFUL_TIMEOUT_SECONDS or --graceful-timeout",
}

DOCS_PATH = "/docs"
OPENAPI_PATH = "/api/v1/openapi.json"


@frozen
class ServeOptions:
    """How gunicorn runs: taken from the settings, each overridable from the command line."""

    bind: str = "127.0.0.1:8000"
    workers: int = 1
    threads: int = 4
    timeout: int = 120
    graceful_timeout: int = 30
    log_level: str = "info"
    limits: ConnectionLimits = field(factory=ConnectionLimits)
    max_connections: int = 1000

    def __attrs_post_init__(self) -> None:
        for name in ("workers", "threads", "timeout"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be at least 1 ({_SOURCES[name]})")
        if self.graceful_timeout < 0:
            raise ConfigurationError(
                f"graceful_timeout cannot be negative ({_SOURCES['graceful_timeout']})"
            )
        if not self.bind.strip():
            raise ConfigurationError(f"bind must be HOST:PORT or unix:PATH ({_SOURCES['bind']})")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServeOptions:
        """Options from ``settings``; an override of ``None`` keeps the setting."""
        options = cls(
            bind=settings.bind,
            workers=settings.workers,
            threads=settings.threads,
            timeout=settings.request_timeout_seconds,
            graceful_timeout=settings.graceful_timeout_seconds,
            limits=ConnectionLimits(
                header_timeout=settings.header_timeout_seconds,
                client_timeout=settings.client_timeout_seconds,
                min_body_rate=settings.min_body_rate,
                upload_threads=settings.upload_threads,
                upload_wait=settings.upload_wait_seconds,
            ),
            max_connections=settings.max_connections,
        )
        return evolve(options, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def worker_class(self) -> type[Any] | str:
        # One thread: gunicorn's synchronous worker, for behind a buffering proxy only
        # (one slow client holds it). Several: the threaded worker of workers.py, which
        # reads request heads in its event loop and gives uploads threads of their own.
        return worker_class(self.limits) if self.worker_kind == "threaded" else "sync"

    @property
    def worker_kind(self) -> str:
        """The worker, in a word: ``threaded`` or ``sync``."""
        return "threaded" if self.threads > 1 else "sync"

    def gunicorn_config(self) -> dict[str, Any]:
        return {
            "bind": [self.bind],
            "workers": self.workers,
            "worker_class": self.worker_class,
            "threads": self.threads,
            "worker_connections": self.max_connections,
            "timeout": self.timeout,
            "graceful_timeout": self.graceful_timeout,
            "proc_name": SERVER_NAME,
            # Each worker builds its own platform after the fork, never the master's.
            "preload_app": False,
            # The HTTP middleware writes one structured line per request instead.
            "accesslog": None,
            "errorlog": "-",
            "loglevel": self.log_level,
            "logger_class": StructuredGunicornLogger,
            # gunicorn's runtime control socket lives at one fixed path per user: two
            # servers (tests, benchmarks, a second instance) would fight over it.
            "control_socket_disable": True,
            "worker_exit": _worker_exit,
            "child_exit": _child_exit,
        }


class StructuredGunicornLogger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's own messages (start, workers booting, timeouts) go through the root
    logger, so they are rendered like every other line (JSON by default)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            if getattr(handler, "_gunicorn", False):
                self.error_log.removeHandler(handler)
        self.error_log.propagate = True


def _worker_exit(server: Any, worker: Any) -> None:
    wsgi.close()


def _child_exit(server: Any, worker: Any) -> None:
    # In the master: a worker that ended stops counting in the live gauges.
    forget_process(worker.pid)


def hide_server_software() -> None:
    """Make gunicorn send ``Server: videoplatform`` instead of its own name.

    gunicorn writes the header itself (``Response.default_headers``) from the module
    constant ``gunicorn.http.wsgi.SERVER``, read when each response is created; it has
    no setting for it, and a ``Server`` header set by the application would be sent in
    addition, not instead. gunicorn has sent no version since 20.1, so this only
    stops naming the server software."""
    gunicorn.SERVER = SERVER_NAME
    gunicorn.http.wsgi.SERVER = SERVER_NAME


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from :class:`ServeOptions`, serving what ``load`` returns
    (called once in each worker)."""

    def __init__(
        self,
        options: ServeOptions,
        load: Callable[[], WsgiApp],
        announce: Callable[[list[str]], None] | None = None,
    ) -> None:
        self._options = options
        self._load = load
        self._announce = announce
        super().__init__(prog=SERVER_NAME)

    def load_config(self) -> None:
        config = self._options.gunicorn_config()
        if self._announce is not None:
            config["when_ready"] = self._when_ready
        for key, value in config.items():
            self.cfg.set(key, value)

    def _when_ready(self, arbiter: Any) -> None:
        if self._announce is not None:
            self._announce([str(listener) for listener in arbiter.LISTENERS])

    def load(self) -> WsgiApp:
        app = self._load()
        # What the worker built to serve (modules, the app, its platform) lives as long
        # as the worker: frozen, the collector's full passes stop walking it. One pass
        # over those ~140,000 objects took 70-90 ms, during which no request moves;
        # after the freeze, a few microseconds.
        gc.freeze()
        return app

    def run(self) -> None:
        hide_server_software()
        super().run()


def prepare(settings: Settings) -> bool:
    """Check that a platform wires up from ``settings`` and bring its storage up to
    date (the embedded profile creates the data directory and migrates the database),
    in the master, before any worker exists. Nothing opened here survives the call.

    With the in-process queue, jobs did not survive the last stop: every video still
    waiting or processing is queued again (through the outbox) before workers start.

    Whether the platform has an administrator yet (the banner says how to make one)."""
    with create_platform(settings) as platform:
        if settings.in_process_queue and settings.processing_threads > 0:
            platform.processing.requeue_unfinished()
        return platform.users.has_administrator()


def _version() -> str:
    try:
        return version("videoplatform")
    except PackageNotFoundError:
        return "unknown"


def banner(
    settings: Settings,
    options: ServeOptions,
    addresses: Iterable[str],
    *,
    administered: bool = True,
) -> list[str]:
    """The lines telling a person where the platform listens, where its site and docs
    are, and (while it has none) how to make its first administrator."""
    workers = f"{options.workers} worker{'s' if options.workers != 1 else ''}"
    threads = f"{options.threads} thread{'s' if options.threads != 1 else ''} each"
    lines = [f"videoplatform {_version()} is serving ({workers}, {threads})"]
    for address in addresses:
        if address.startswith(("http://", "https://")):
            lines += [
                f"  listening on  {address}",
                f"  web site      {address}/",
                f"  API docs      {address}{DOCS_PATH}",
                f"  OpenAPI       {address}{OPENAPI_PATH}",
            ]
        else:
            lines.append(f"  listening on  {address}")
    lines.append(f"  database      {masked_url(database_url(settings))}")
    if not settings.database_url or not settings.storage_url:
        lines.append(f"  data          {Path(settings.data_dir).resolve()}")
    if not administered:
        lines.append(
            "No administrator yet: make one with "
            "`videoplatform createadmin --email you@example.com` (in .venv/bin)."
        )
    lines.append("Ctrl+C stops it at once; SIGTERM lets requests in flight finish first.")
    return lines


def serve(settings: Settings, options: ServeOptions) -> int:
    """Prepare the platform, then run gunicorn until it is told to stop.

    gunicorn ends the process itself (``sys.exit``), in the master and in each worker:
    nothing after this call runs, and no context may stay open around it."""
    # Tracing itself is set up in each worker after the fork (wsgi.create); settings it
    # cannot honour are refused here, before any worker starts.
    check_tracing_environment(os.environ)
    administered = prepare(settings)
    if settings.metrics_token:
        # The workers' values meet in one directory, fresh for this run (see metrics).
        prepare_multiprocess(Path(tempfile.mkdtemp(prefix="videoplatform-metrics-")) / "values")

    def announce(addresses: list[str]) -> None:
        print(
            "\n".join(banner(settings, options, addresses, administered=administered)), flush=True
        )

    GunicornServer(options, wsgi.create, announce).run()
    return 0
