"""Prometheus over HTTP: every answer counted and timed by route template, and
``GET /metrics`` for a scraper holding the metrics token.

``/metrics`` sits beside the API, not in it (like ``/health``): it is for operators,
outside the versioned API and its OpenAPI document."""

from __future__ import annotations

import hmac
import time

import falcon

from videoplatform.entrypoints.metrics import CONTENT_TYPE, UNMATCHED, Metrics

METRICS_PATH = "/metrics"


class MetricsMiddleware:
    """Counts and times each answer by method, route template and status (never the
    path itself: ids would make a series each). First in the chain, so it sees every
    answer, refusals included."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.metrics_started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, succeeded: bool
    ) -> None:
        started = getattr(req.context, "metrics_started", None)
        if started is None:
            return
        route = req.uri_template or UNMATCHED
        method = req.method if req.method in _METHODS else "OTHER"
        status = str(resp.status).split(" ", 1)[0]
        metrics = self._metrics
        metrics.child(metrics.http_requests, method, route, status).inc()
        metrics.child(metrics.http_duration, method, route).observe(time.perf_counter() - started)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsEndpoint:
    """The scrape: for a bearer of the metrics token only (compared in constant time);
    anyone else is told nothing exists here."""

    def __init__(self, metrics: Metrics, token: str) -> None:
        self._metrics = metrics
        self._expected = f"Bearer {token}".encode()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        offered = (req.get_header("Authorization") or "").encode()
        if not hmac.compare_digest(offered, self._expected):
            raise falcon.HTTPNotFound()
        resp.content_type = CONTENT_TYPE
        resp.cache_control = ["no-store"]
        resp.data = self._metrics.render()
