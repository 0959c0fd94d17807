"""The gunicorn-facing application factory.

``videoplatform serve`` uses it, and so can a plain gunicorn::

    gunicorn 'videoplatform.entrypoints.http.wsgi:create()'

Importing this module does nothing: :func:`create` runs in each worker process after
gunicorn forked it, so every worker opens its own database pool (a SQLite connection
or a PostgreSQL pool must never cross a fork). The platform is closed when the worker
exits: by ``videoplatform serve``'s ``worker_exit`` hook, or at interpreter exit under
a plain gunicorn.

Prefer ``videoplatform serve``: it prepares the database once in the master before
forking and sends no server name. Under a plain gunicorn with several workers on a fresh
embedded data directory, run ``videoplatform migrate upgrade`` first, so the workers do
not race to create the schema.
"""

from __future__ import annotations

import atexit
import os

import structlog

from videoplatform.application.events.consumer import DurableHandlers
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.error_tracking import configure_error_tracking
from videoplatform.entrypoints.http.app import App, create_app
from videoplatform.entrypoints.logging import configure_logging, logging_configured
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.tracing import configure_tracing, flush_tracing
from videoplatform.entrypoints.worker import (
    BackgroundWorkers,
    start_background,
    start_node_events,
)

BACKGROUND_GRACE_SECONDS = 10.0

log = structlog.get_logger("videoplatform.server")

_open: list[Platform] = []
_background: list[BackgroundWorkers] = []


def create() -> App:
    """Build the platform from the ``VIDEOPLATFORM_*`` environment and return the Falcon
    application serving it."""
    if not logging_configured():  # a plain gunicorn: nothing configured it yet
        configure_logging(json=True)
    settings = Settings.from_env()
    configure_error_tracking(settings, "api")  # in each worker process: after the fork
    # Also after the fork (the span exporter's thread is this process's own), and before
    # the app and the database engine exist (they are instrumented as they are made).
    configure_tracing("api")
    platform = create_platform(settings)
    _open.append(platform)
    atexit.unregister(close)  # registered once, however many apps this process builds
    atexit.register(close)
    try:
        app = create_app(platform)  # first: it adds this node's durable handlers
        if settings.in_process_queue and settings.processing_threads > 0:
            # The embedded profile: this process relays its outbox, processes videos and
            # handles committed events.
            _background.append(start_background(platform, concurrency=settings.processing_threads))
        elif any(d.subscription.per_node for d in platform.resolve(DurableHandlers)):
            # Production: workers do the rest; this node follows what concerns it.
            _background.append(start_node_events(platform))
        return app
    except BaseException:
        close()
        raise


def close() -> None:
    """Close the platforms :func:`create` built in this process (idempotent); their
    background work stops first (a job cut short is processed again at the next start)."""
    while _background:
        _background.pop().stop(timeout=BACKGROUND_GRACE_SECONDS)
    while _open:
        _open.pop().close()
        log.info("platform closed", pid=os.getpid())
    flush_tracing()
