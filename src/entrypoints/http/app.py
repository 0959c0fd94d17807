"""``create_app``: the Falcon application, wired from a platform (used by tests and the
server alike)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import falcon
from attrs import frozen

from videoplatform.application.events.consumer import DurableHandlers
from videoplatform.application.ports.cache import Cache
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http import errors
from videoplatform.entrypoints.http.metrics import METRICS_PATH, MetricsEndpoint, MetricsMiddleware
from videoplatform.entrypoints.http.middleware import (
    Authentication,
    ClientAddress,
    RequestContext,
    SaneInput,
    SecurityHeaders,
    Versioning,
)
from videoplatform.entrypoints.http.openapi import Route, build_document
from videoplatform.entrypoints.http.read_cache import PublicVideoCache
from videoplatform.entrypoints.http.resources import (
    account_deletion,
    audit,
    auth,
    avatars,
    captions,
    categories,
    data_export,
    docs,
    email_change,
    files,
    health,
    playback,
    search,
    shares,
    tus,
    two_factor,
    users,
    videos,
)
from videoplatform.entrypoints.http.resources.common import HttpContext
from videoplatform.entrypoints.metrics import platform_metrics
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.tracing import http_middleware
from videoplatform.entrypoints.web import site

App = falcon.App[falcon.Request, falcon.Response]


@frozen
class HttpOptions:
    json_limit: int = 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    public_url: str = ""
    read_cache_seconds: float = 0
    """How long anonymous reads of public videos may be served from the cache; 0: off."""
    redirect_downloads: bool = False
    """Redirect downloads to presigned storage URLs (when storage is S3)."""
    accel_redirect_prefix: str = ""
    """Answer downloads with ``X-Accel-Redirect: <prefix><key>`` (local storage only)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks of reverse proxies whose ``X-Forwarded-For`` is believed."""
    extra_routes: tuple[Route, ...] = ()
    """More routes to mount (documented like the others); used to test mechanisms."""
    metrics_token: str = ""
    """Serve ``GET /metrics`` to a bearer of this token (and count every answer), and
    ``GET /health/detailed`` (as to administrators)."""
    site: bool = True
    """Serve the web application (its pages, forms and static files) beside the API."""


def options_from(platform: Platform) -> HttpOptions:
    settings = platform.settings
    origins = tuple(o.strip() for o in settings.cors_origins.split(",") if o.strip())
    # Invalidations travel on the in-process event bus: with several worker processes
    # each holding its own memory cache, one worker could not reach the others' entries.
    shared = settings.cache_url != "memory://" or settings.workers == 1
    return HttpOptions(
        json_limit=settings.json_body_limit,
        cors_origins=origins,
        public_url=settings.public_url,
        read_cache_seconds=settings.read_cache_seconds if shared else 0,
        redirect_downloads=settings.storage_url.startswith("s3://"),
        accel_redirect_prefix=settings.accel_redirect_prefix if _local_storage(settings) else "",
        trusted_proxies=settings.trusted_proxy_networks,
        metrics_token=settings.metrics_token,
    )


def _local_storage(settings: Settings) -> bool:
    """Objects kept as files on this machine's disk (what a front server can send)."""
    return not settings.storage_url or settings.storage_url.startswith("file:")


def _version() -> str:
    try:
        return version("videoplatform")
    except PackageNotFoundError:
        return "0"


def collect_routes(context: HttpContext, document: docs.OpenApiDocument) -> list[Route]:
    found: list[Route] = []
    for module in (
        health,
        auth,
        email_change,
        account_deletion,
        data_export,
        avatars,
        users,
        videos,
        captions,
        files,
        shares,
        audit,
        categories,
        playback,
        search,
        tus,
        two_factor,
    ):
        found += module.routes(context)
    return found + docs.routes(document)


def create_app(platform: Platform, options: HttpOptions | None = None) -> App:
    options = options or options_from(platform)
    video_cache = None
    if options.read_cache_seconds > 0:
        cache: Cache = platform.container.resolve(Cache)
        video_cache = PublicVideoCache(
            cache,
            platform.events,
            options.read_cache_seconds,
            shared=platform.settings.cache_url != "memory://",
            dispatcher=platform.dispatcher,
        )
        # Changes other processes commit reach this process's entries too.
        platform.resolve(DurableHandlers).add(video_cache.durable_handler())
    metrics = platform_metrics(platform) if options.metrics_token else None
    context = HttpContext(
        platform,
        options.json_limit,
        options.public_url,
        video_cache,
        options.redirect_downloads,
        accel_redirect_prefix=options.accel_redirect_prefix,
        metrics=metrics,
        metrics_token=options.metrics_token,
    )
    document = docs.OpenApiDocument()
    routes = collect_routes(context, document) + list(options.extra_routes)
    deprecations = {
        (op.method, route.path): op.deprecated
        for route in routes
        for op in route.operations
        if op.deprecated
    }
    middleware: list[Any] = [MetricsMiddleware(metrics)] if metrics is not None else []
    middleware += http_middleware()  # where tracing is on
    middleware.append(RequestContext())
    if options.cors_origins:
        middleware.append(
            falcon.CORSMiddleware(
                # Falcon takes "*" alone, never inside a list.
                allow_origins="*" if "*" in options.cors_origins else list(options.cors_origins),
                expose_headers=[
                    "X-Request-ID",
                    "Retry-After",
                    "Location",
                    "Content-Range",
                    "Content-Disposition",
                    "ETag",
                    "Deprecation",
                    "Sunset",
                    "API-Version",
                ],
            )
        )

    def needing(auth: str) -> frozenset[tuple[str, str]]:
        return frozenset(
            (op.method, route.path)
            for route in routes
            for op in route.operations
            if op.auth == auth
        )

    middleware += [
        Versioning(deprecations),
        SecurityHeaders(),
        # Who is asking is decided before anything the request says is checked: an
        # anonymous call to a protected operation is a 401 whatever its input.
        Authentication(
            platform.users,
            # /metrics and /health/detailed read their own token (not only a user's).
            needing("none") | {("GET", METRICS_PATH)} | health.SELF_AUTHENTICATED,
            ClientAddress(options.trusted_proxies),
            required=needing("required"),
            scopes={
                (op.method, route.path): op.needs() for route in routes for op in route.operations
            },
            enrolment=frozenset(
                (op.method, route.path)
                for route in routes
                for op in route.operations
                if op.for_enrolment
            ),
        ),
        SaneInput(),
        tus.TusProtocol(),
    ]
    app: App = falcon.App(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    app.resp_options.secure_cookies_by_default = True
    errors.install(app)
    for route in routes:
        app.add_route(route.path, route.resource)
    if metrics is not None:
        app.add_route(METRICS_PATH, MetricsEndpoint(metrics, options.metrics_token))
    app.add_static_route(docs.ASSETS, str(docs.assets_folder()))
    if options.site:
        site.mount(app, platform, options.public_url)
    document.publish(build_document(routes, version=_version()))
    return app
