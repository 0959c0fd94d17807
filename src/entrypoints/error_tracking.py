"""Unhandled errors of the API and the worker, sent to Sentry (sentry-sdk).

Off unless ``VIDEOPLATFORM_SENTRY_DSN`` is set. Every error the processes log with its
exception (``log.exception``: the API's 500s, a job that failed unexpectedly, a
background loop that broke) becomes a Sentry event through one structlog processor,
:func:`report_logged_errors`, which both structlog's and the standard library's records
pass through. sentry-sdk does the rest (batching, retries, rate limits, the release and
environment); its own integrations stay off, so nothing reaches it but what is passed
here.

What an event carries is chosen, never collected: the exception and its stack (no
local variables: they hold passwords, tokens and bodies), the log line's event name,
and from its context the request id, the route, the method, the job and the user's id.
Never an email address, a token, a header or a body (no personal data is collected, and
:func:`_scrub` drops what a future sentry-sdk might add).
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentry_sdk._types import Event
    from sentry_sdk.transport import Transport

    from videoplatform.entrypoints.settings import Settings

# sentry-sdk is imported only where error tracking is on: every process logs, few report.

CONTEXT_KEYS = ("request_id", "method", "route", "use_case", "job_id", "video_id", "logger")
"""What of a log line's context goes with its error: ids and names, never free text nor
a path (a playback path carries its signed token)."""
_state: dict[str, str | None] = {"component": None}


def configure_error_tracking(
    settings: Settings, component: str, *, transport: Transport | None = None
) -> bool:
    """Send this process's unhandled errors to Sentry when the settings name a DSN
    (``transport``: where events go instead, for tests); whether it is on."""
    if not settings.sentry_dsn:
        _state["component"] = None
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        release=f"videoplatform@{_release()}",
        environment=settings.sentry_environment,
        sample_rate=settings.sentry_sample_percent / 100,
        include_local_variables=False,
        default_integrations=False,
        auto_enabling_integrations=False,
        before_send=_scrub,
        transport=transport,
    )
    sentry_sdk.set_tag("component", component)
    _state["component"] = component
    return True


def error_tracking_on() -> bool:
    return _state["component"] is not None


def report_logged_errors(
    _logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: an error logged with its exception goes to Sentry (when
    it is on); the log line itself is unchanged."""
    if _state["component"] is None or method not in ("error", "critical", "exception"):
        return event
    error = _exception_of(event.get("exc_info"))
    if error is None:
        return event
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        for key in CONTEXT_KEYS:
            value = event.get(key)
            if isinstance(value, str | int) and value != "":
                scope.set_tag(key, str(value))
        user_id = event.get("user_id")
        if isinstance(user_id, str) and user_id:
            scope.set_user({"id": user_id})
        scope.set_extra("event", str(event.get("event", ""))[:200])
        sentry_sdk.capture_exception(error)
    return event


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    if exc_info is True:
        return sys.exc_info()[1]
    return None


def _scrub(event: Event, _hint: dict[str, Any]) -> Event:
    """Only an id for the user; no request, cookies or breadcrumbs at all."""
    for key in ("request", "breadcrumbs"):
        event.pop(key, None)  # type: ignore[misc]
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    return event


def _release() -> str:
    try:
        return version("videoplatform")
    except PackageNotFoundError:
        return "unknown"
