"""Liveness, readiness, the startup check and the detailed report.

``/health/live``, ``/health/ready`` and ``/health/startup`` are public and say no more
than names and states (what a load balancer or an orchestrator's probes need).
``/health/detailed`` tells what is wrong and where (latencies, reasons, paths): only an
administrator or a bearer of the metrics token gets it; anyone else is told nothing is
there. A report that is down answers 503 as readiness does: problem details (whose
``status`` is the HTTP status), with the report's ``components`` and ``duration_ms``.
"""

from __future__ import annotations

import hmac
from typing import Any

import attrs
import falcon
from attrs import frozen

from videoplatform.application.health import HealthReport, HealthService, HealthStatus
from videoplatform.application.users import UserService
from videoplatform.domain.errors import AuthenticationFailed, NotFound
from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.convert import dump
from videoplatform.entrypoints.http.errors import problem
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Operation, Reply, Route
from videoplatform.entrypoints.http.resources.common import HttpContext, reply

DETAILED_PATH = "/health/detailed"
SELF_AUTHENTICATED = frozenset({("GET", DETAILED_PATH)})
"""Operations that read their bearer themselves: the metrics token is no user's, so the
authentication middleware must not refuse it (nor ask the database about it)."""


@frozen
class Health:
    status: str


@frozen
class ReadinessView:
    status: str
    checks: dict[str, str]


@frozen
class StartupView:
    """Every startup check passed."""

    status: str = attrs.field(metadata={"schema": {"enum": ["ok"]}})
    checks: dict[str, str] = attrs.field(
        metadata={"doc": "each check by name: ok (or failed, in a 503's problem details)"}
    )


STATES = [state.value for state in HealthStatus]


@frozen
class ComponentView:
    """One dependency or disk, as the check found it."""

    status: str = attrs.field(metadata={"schema": {"enum": STATES}})
    required: bool = attrs.field(
        metadata={"doc": "down, it makes the whole report down; otherwise degraded"}
    )
    latency_ms: float = attrs.field(
        metadata={"doc": "how long its probe took, or had run when the check stopped waiting"}
    )
    message: str = attrs.field(metadata={"doc": "what was found, or what is wrong, for people"})


@frozen
class DetailedHealthView:
    """Every dependency of this process (database, storage, queue, cache, feed, mail,
    ffmpeg) and the free space of its data and work directories."""

    status: str = attrs.field(
        metadata={
            "schema": {"enum": ["ok", "degraded"]},
            "doc": "degraded: an optional component is down, or a disk is low on space "
            "(down, a required one is down, is a 503)",
        }
    )
    duration_ms: float = attrs.field(metadata={"doc": "how long the whole check took"})
    components: dict[str, ComponentView]


def _components(report: HealthReport) -> dict[str, ComponentView]:
    return {
        c.name: ComponentView(c.status.value, c.required, c.latency_ms, c.message)
        for c in report.components
    }


class Live:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, Health("ok"))


class Ready:
    def __init__(self, health: HealthService) -> None:
        self._health = health

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        readiness = self._health.readiness()
        if readiness.ready:
            reply(resp, ReadinessView("ok", readiness.checks))
            return
        down = ", ".join(name for name, state in readiness.checks.items() if state != "ok")
        problem(
            req,
            resp,
            503,
            "not_ready",
            "Service Unavailable",
            f"unavailable: {down}",
            {"checks": readiness.checks},
        )


class Startup:
    """Names and ok/failed only: the reasons are in the detailed report."""

    def __init__(self, health: HealthService) -> None:
        self._health = health

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        report = self._health.startup()
        checks = {
            c.name: "ok" if c.status is HealthStatus.OK else "failed" for c in report.components
        }
        resp.cache_control = ["no-store"]
        if report.status is HealthStatus.OK:
            reply(resp, StartupView("ok", checks))
            return
        problem(
            req,
            resp,
            503,
            "not_started",
            "Service Unavailable",
            f"failed: {', '.join(report.failing)}",
            {"checks": checks},
        )


class Detailed:
    def __init__(self, health: HealthService, users: UserService, metrics_token: str) -> None:
        self._health = health
        self._users = users
        self._token = f"Bearer {metrics_token}".encode() if metrics_token else b""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self._may_read(req):
            raise falcon.HTTPNotFound()
        report = self._health.detailed()
        resp.cache_control = ["no-store"]
        components = _components(report)
        if report.status is not HealthStatus.DOWN:
            reply(resp, DetailedHealthView(report.status.value, report.duration_ms, components))
            return
        down = ", ".join(
            c.name for c in report.components if c.required and c.status is HealthStatus.DOWN
        )
        members: dict[str, Any] = {
            "duration_ms": report.duration_ms,
            "components": dump(components),
        }
        problem(req, resp, 503, "unhealthy", "Service Unavailable", f"down: {down}", members)

    def _may_read(self, req: falcon.Request) -> bool:
        """A bearer of the metrics token (compared in constant time, before anything
        asks the database), or of an administrator's token with the admin scope."""
        header = req.get_header("Authorization") or ""
        if self._token and hmac.compare_digest(header.encode(), self._token):
            return True
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        try:
            principal = self._users.authenticate(token.strip())
            if Scope.ADMIN not in principal.scopes:
                return False
            caller = attrs.evolve(caller_of(req), user_id=principal.user_id)
            self._health.ensure_details_reader(caller)
        except (AuthenticationFailed, NotFound):
            return False
        return True


_DOWN_SCHEMA = {
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "required": ["duration_ms", "components"],
            "properties": {
                "duration_ms": {"type": "number"},
                "components": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/components/schemas/ComponentView"},
                },
            },
        },
    ]
}


def routes(context: HttpContext) -> list[Route]:
    health = context.platform.health
    return [
        Route(
            "/health/live",
            Live(),
            (
                Operation(
                    "GET",
                    "Liveness",
                    "health",
                    (Reply(200, "The process answers", Health),),
                    auth="none",
                    description="Whether this process answers at all; it checks nothing else, "
                    "so an orchestrator restarts only a process that hangs.",
                ),
            ),
        ),
        Route(
            "/health/ready",
            Ready(health),
            (
                Operation(
                    "GET",
                    "Readiness",
                    "health",
                    (
                        Reply(200, "Every dependency answers", ReadinessView),
                        Reply(
                            503,
                            "A dependency is down: problem details with a `checks` member",
                            media="application/problem+json",
                            schema={"$ref": "#/components/schemas/Problem"},
                        ),
                    ),
                    auth="none",
                    description="Whether this process should get traffic now: every "
                    "dependency it needs answers (the database, storage and, where "
                    "configured, the queue and cache), each within a bound.",
                ),
            ),
        ),
        Route(
            "/health/startup",
            Startup(health),
            (
                Operation(
                    "GET",
                    "Startup",
                    "health",
                    (
                        Reply(200, "Every startup check passed", StartupView),
                        Reply(
                            503,
                            "A startup check failed: problem details (code `not_started`) "
                            "with a `checks` member naming each check `ok` or `failed`",
                            media="application/problem+json",
                            schema={"$ref": "#/components/schemas/Problem"},
                        ),
                    ),
                    auth="none",
                    description=(
                        "May this process start taking traffic: the database schema is "
                        "this release's (`migrations`), the storage takes a write "
                        "(`storage`) and, where the process processes videos itself, "
                        "ffmpeg runs (`ffmpeg`). For an orchestrator's startup probe."
                    ),
                ),
            ),
        ),
        Route(
            DETAILED_PATH,
            Detailed(health, context.platform.users, context.metrics_token),
            (
                Operation(
                    "GET",
                    "Detailed health",
                    "health",
                    (
                        Reply(200, "Everything is ok, or degraded", DetailedHealthView),
                        Reply(
                            503,
                            "A required component is down: problem details (code "
                            "`unhealthy`, `detail` naming them) with the report's "
                            "`components` and `duration_ms`",
                            media="application/problem+json",
                            schema=_DOWN_SCHEMA,
                        ),
                    ),
                    errors=(404,),
                    description=(
                        "Every dependency probed at once, each with its status, latency "
                        "and a message, within `VIDEOPLATFORM_HEALTH_TIMEOUT_SECONDS`. "
                        "Required: the database, the storage and (when it is a broker) "
                        "the queue. Optional: the cache, the feed, the mail server, "
                        "ffmpeg on API-only nodes, and the free space of the data and "
                        "work directories. For an administrator's bearer token or the "
                        "metrics token (`VIDEOPLATFORM_METRICS_TOKEN`); anyone else, "
                        "whatever the token, gets 404."
                    ),
                    scope=Scope.ADMIN,
                ),
            ),
        ),
    ]
