"""Liveness and readiness."""

from __future__ import annotations

import falcon
from attrs import frozen

from videoplatform.application.health import HealthService
from videoplatform.entrypoints.http.errors import problem
from videoplatform.entrypoints.http.openapi import Operation, Reply, Route
from videoplatform.entrypoints.http.resources.common import HttpContext, reply


@frozen
class Health:
    status: str


@frozen
class ReadinessView:
    status: str
    checks: dict[str, str]


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


def routes(context: HttpContext) -> list[Route]:
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
                ),
            ),
        ),
        Route(
            "/health/ready",
            Ready(context.platform.health),
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
                ),
            ),
        ),
    ]
