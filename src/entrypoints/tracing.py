"""Traces of the API and the worker, through OpenTelemetry (the ``tracing`` extra).

Off unless the standard ``OTEL_*`` environment turns it on (:func:`tracing_requested`):
``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``), or, with it unset,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` names a
collector; ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` keeps it off.
The SDK reads the rest itself: where and how to export (``OTEL_EXPORTER_OTLP_*``, its
timeout included), the batching (``OTEL_BSP_*``), the sampler (``OTEL_TRACES_SAMPLER``
and ``_ARG``) and the resource (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``).

Each process configures its own tracer provider (:func:`configure_tracing`): a gunicorn
worker after the fork (its batch processor's export thread is its own), the
``videoplatform worker`` command at start. Spans are handed to a batch processor, which
exports them from its own thread: a slow or unreachable collector delays no request,
and when its queue is full, spans are dropped rather than waited for.

Spans: each HTTP request (Falcon), each SQL statement, each Redis command,
the relay's publish of each outbox message (to RabbitMQ or the in-process queue), the
handling of each job or event, and each processing stage. The trace context is written
with each outbox message and carried in each job's headers (W3C ``traceparent``), so
that one trace follows an upload from its request through the outbox, the queue and the
worker to the end of its processing. Log lines carry ``trace_id`` and ``span_id``
(:func:`add_trace_context`). docs/tracing.md has the details and the decisions.

opentelemetry is imported only where tracing is on: every process logs, few trace.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import structlog

from videoplatform.application.ports.tracing import (
    Attributes,
    AttributeValue,
    NoTracer,
    SpanKind,
    Tracer,
    TraceSpan,
)
from videoplatform.entrypoints.settings import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.trace import Span
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)

EXPORTERS = ("otlp", "console")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
FLUSH_MILLIS = 5000
"""How long a process that ends waits for its last spans to be exported."""


class _State:
    provider: TracerProvider | None = None
    component: str | None = None
    current_span: Any = None
    """opentelemetry.trace.get_current_span, once tracing is on."""
    logged_ids: tuple[object, str, str] = (None, "", "")
    """The span context last written into a log line, and its ids in hex (a request
    logs several lines under one span; 128-bit ids are not formatted for free)."""
    instrumented: list[Any]
    statements: list[_StatementSpans]

    def __init__(self) -> None:
        self.instrumented = []
        self.statements = []


_state = _State()


def _flag(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip().lower()


def tracing_requested(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` turns tracing on (see the module's docstring)."""
    if _flag(environ, "OTEL_SDK_DISABLED") == "true":
        return False
    exporters = _flag(environ, "OTEL_TRACES_EXPORTER")
    if exporters:
        return exporters != "none"
    return bool(
        _flag(environ, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or _flag(environ, "OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def check_tracing_environment(environ: Mapping[str, str]) -> None:
    """Refuse (ConfigurationError) tracing settings this release cannot honour, before
    any process is started with them; nothing is set up."""
    if not tracing_requested(environ):
        return
    names = _exporter_names(environ)
    if "otlp" in names:
        for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            protocol = _flag(environ, variable)
            if protocol:
                if protocol != "http/protobuf":
                    raise ConfigurationError(
                        f"{variable}={protocol!r}: traces are exported over OTLP/HTTP "
                        "(http/protobuf) only"
                    )
                break
    _sampler_name(environ)


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    given = _flag(environ, "OTEL_TRACES_EXPORTER") or "otlp"
    names = [name.strip() for name in given.split(",") if name.strip() not in ("", "none")]
    unknown = [name for name in names if name not in EXPORTERS]
    if unknown:
        raise ConfigurationError(
            f"OTEL_TRACES_EXPORTER={given!r}: use {', '.join(EXPORTERS)} or none"
        )
    return names


def _sampler_name(environ: Mapping[str, str]) -> str:
    name = _flag(environ, "OTEL_TRACES_SAMPLER") or "parentbased_always_on"
    if name not in SAMPLERS:
        raise ConfigurationError(f"OTEL_TRACES_SAMPLER={name!r}: use one of {', '.join(SAMPLERS)}")
    if name.endswith("traceidratio"):
        _ratio(environ)
    return name


def _ratio(environ: Mapping[str, str]) -> float:
    given = environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip() or "1.0"
    try:
        ratio = float(given)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigurationError(
            f"OTEL_TRACES_SAMPLER_ARG={given!r}: a ratio between 0 and 1 (0.1 traces 10 %)"
        )
    return ratio


def tracing_on() -> bool:
    return _state.provider is not None


def configure_tracing(
    component: str,
    *,
    environ: Mapping[str, str] | None = None,
    exporter: SpanExporter | None = None,
) -> bool:
    """Set up tracing for this process (``component``: ``api`` or ``worker``) when the
    environment asks for it, or when ``exporter`` is given (where spans go instead, for
    tests); whether it is on. Once per process: later calls change nothing until
    :func:`shutdown_tracing`. Without the ``tracing`` extra, tracing stays off (with a
    warning when it was asked for)."""
    environ = os.environ if environ is None else environ
    if _state.provider is not None:
        return True
    if exporter is None and not tracing_requested(environ):
        return False
    check_tracing_environment(environ)
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "tracing_unavailable",
            reason="the OTEL_* environment asks for traces, but the tracing extra "
            "(videoplatform[tracing]) is not installed",
        )
        return False
    provider = TracerProvider(resource=_resource(component), sampler=_sampler(environ))
    exporters = [exporter] if exporter is not None else _exporters(environ)
    for each in exporters:
        # Exported in the processor's own thread, in batches; a full queue drops spans.
        provider.add_span_processor(BatchSpanProcessor(each))
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        # For any other library in the process that traces through the global API.
        trace.set_tracer_provider(provider)
    _state.provider, _state.component = provider, component
    _state.current_span = trace.get_current_span
    _instrument_libraries(provider)
    log.info("tracing_on", component=component, exporters=[type(e).__name__ for e in exporters])
    return True


def _exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    for name in _exporter_names(environ):
        if name == "otlp":
            # Endpoint, headers, compression and timeout (10 s unless
            # OTEL_EXPORTER_OTLP_TIMEOUT says otherwise) from the environment.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        else:
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
    return exporters


def _resource(component: str) -> Any:
    """Who sends the spans: ``videoplatform-<component>`` unless ``OTEL_SERVICE_NAME``
    or ``OTEL_RESOURCE_ATTRIBUTES`` say otherwise (they win)."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    ours = Resource.create(
        {
            "service.name": f"videoplatform-{component}",
            "service.version": _release(),
            "videoplatform.component": component,
        }
    )
    return ours.merge(OTELResourceDetector().detect())


def _sampler(environ: Mapping[str, str]) -> Sampler:
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_OFF,
        ALWAYS_ON,
        ParentBased,
        TraceIdRatioBased,
    )

    name = _sampler_name(environ)
    root: Sampler
    if name.endswith("traceidratio"):
        root = TraceIdRatioBased(_ratio(environ))
    else:
        root = ALWAYS_OFF if name.endswith("always_off") else ALWAYS_ON
    chosen = ParentBased(root) if name.startswith("parentbased_") else root
    return _no_lone_client_spans(chosen)


def _no_lone_client_spans(sampler: Sampler) -> Sampler:
    """``sampler``, except that a call to a dependency (a SQL statement, a Redis
    command) outside any request or job starts no trace of its own: the relay's and
    the sweeper's polling would otherwise be a stream of one-span traces."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class NoLoneClientSpans(Sampler):
        def should_sample(
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: Any = None,
            attributes: Any = None,
            links: Any = None,
            trace_state: Any = None,
        ) -> SamplingResult:
            if (
                kind is trace.SpanKind.CLIENT
                and not trace.get_current_span(parent_context).get_span_context().is_valid
            ):
                return SamplingResult(Decision.DROP)
            return sampler.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"NoLoneClientSpans{{{sampler.get_description()}}}"

    return NoLoneClientSpans()


# -- the libraries' own instrumentations ------------------------------------------------


def http_middleware() -> list[Any]:
    """Falcon middleware the app adds where tracing is on (none where it is off): a
    server span per request (see :func:`_request_spans`)."""
    provider = _state.provider
    if provider is None:
        return []
    return [_request_spans(provider)]


def _request_spans(provider: TracerProvider) -> Any:
    """A server span per request, named by its method and route template
    (``GET /api/v1/videos/{video_id}``), continuing the trace of a ``traceparent``
    header. It records the method, the route and the status sent, never the path (a
    playback path carries its signed token), the query or the client's address; a 5xx
    is an error, any other answer (a domain error's 404 included) is not.

    Not opentelemetry-instrumentation-falcon: it collects a dozen request attributes
    and records its own metrics on every request, sampled or not, which cost more than
    a tenth of a cached read's time (``python -m bench observability``). Here a request
    that is not sampled costs a context extracted, a span started and ended."""
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.propagators.textmap import Getter
    from opentelemetry.trace import SpanKind, Status, StatusCode

    class Headers(Getter[Any]):
        def get(self, carrier: Any, key: str) -> list[str] | None:
            value = carrier.get_header(key)
            return None if value is None else [value]

        def keys(self, carrier: Any) -> list[str]:
            return [name.lower() for name in carrier.headers]

    headers = Headers()
    # The headers the configured propagators read (W3C traceparent, tracestate,
    # baggage by default): without any of them there is no context to extract.
    carriers = tuple(
        "HTTP_" + name.upper().replace("-", "_") for name in propagate.get_global_textmap().fields
    )
    tracer = provider.get_tracer("videoplatform.http")

    class RequestSpans:
        def process_request(self, req: Any, resp: Any) -> None:
            environ = req.env
            carried = any(name in environ for name in carriers)
            parent = propagate.extract(req, getter=headers) if carried else None
            span = tracer.start_span(f"{req.method}", context=parent, kind=SpanKind.SERVER)
            token = otel_context.attach(trace.set_span_in_context(span, parent))
            req.context.trace_span = (span, token)

        def process_response(
            self, req: Any, resp: Any, resource: object, req_succeeded: bool
        ) -> None:
            held = getattr(req.context, "trace_span", None)
            if held is None:
                return
            span, token = held
            if span.is_recording():
                route = getattr(req, "uri_template", None) or "<unmatched>"
                status = resp.status_code
                span.update_name(f"{req.method} {route}")
                span.set_attributes(
                    {
                        "http.request.method": req.method,
                        "http.route": route,
                        "http.response.status_code": status,
                        "url.scheme": req.scheme,
                    }
                )
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
            span.end()
            otel_context.detach(token)

    return RequestSpans()


def _instrument_libraries(provider: TracerProvider) -> None:
    """Redis where installed (requests are traced by the app's middleware,
    :func:`http_middleware`; the SQL engine when it is opened, :func:`trace_engine`).

    RabbitMQ is traced by the relay (a producer span for each message it publishes)
    and the consumers (a consumer span for each job), the trace context in the
    message's headers, not by opentelemetry-instrumentation-pika: on a blocking
    connection it wraps both the channel and the channel beneath it, so that every
    send is two nested spans, and its consumer spans cover only the moment a message
    is buffered, not the job's handling."""
    if importlib.util.find_spec("redis") is not None:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        redis = RedisInstrumentor()
        redis.instrument(tracer_provider=provider)
        _state.instrumented.append(redis)


def trace_engine(engine: Engine) -> None:
    """A span for each statement ``engine`` runs within a sampled request or job, when
    tracing is on (see :class:`_StatementSpans` and docs/tracing.md for why these are
    not opentelemetry-instrumentation-sqlalchemy's)."""
    provider = _state.provider
    if provider is None:
        return
    statements = _StatementSpans(provider, engine)
    statements.listen()
    _state.statements.append(statements)


class _StatementSpans:
    """Listeners on an engine's cursor events: a client span for each statement run
    under a span that records (a sampled request or job), named by the statement's
    operation (``SELECT``), with the database system, the operation, the statement as
    SQLAlchemy sent it (placeholders, never the parameters) and, for a server, its
    address, port and database. Under a span that records nothing a statement costs one
    check: its span would record nothing either (parent-based sampling). The span is not
    made current: nothing runs inside a cursor's execution that could be its child."""

    def __init__(self, provider: TracerProvider, engine: Engine) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._engine = engine
        self._tracer = provider.get_tracer("videoplatform.sql", _release())
        self._current_span = trace.get_current_span
        self._client = SpanKind.CLIENT
        self._error = (Status, StatusCode.ERROR)
        url = engine.url
        system = "postgresql" if engine.dialect.name == "postgresql" else engine.dialect.name
        where: dict[str, AttributeValue] = {"db.system.name": system}
        if system != "sqlite":  # a SQLite database is a file: its path says nothing useful
            if url.host:
                where["server.address"] = url.host
            if url.port:
                where["server.port"] = url.port
            if url.database:
                where["db.namespace"] = url.database
        self._where = where

    def listen(self) -> None:
        from sqlalchemy import event

        event.listen(self._engine, "before_cursor_execute", self._before)
        event.listen(self._engine, "after_cursor_execute", self._after)
        event.listen(self._engine, "handle_error", self._failed)

    def forget(self) -> None:
        from sqlalchemy import event

        for name, listener in (
            ("before_cursor_execute", self._before),
            ("after_cursor_execute", self._after),
            ("handle_error", self._failed),
        ):
            if event.contains(self._engine, name, listener):
                event.remove(self._engine, name, listener)

    def _before(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if context is None or not self._current_span().is_recording():
            return
        operation = _operation(statement)
        attributes: dict[str, AttributeValue] = {
            **self._where,
            "db.operation.name": operation,
            "db.query.text": statement,
        }
        if many:
            attributes["db.operation.batch.size"] = len(params)
        context._videoplatform_span = self._tracer.start_span(
            operation, kind=self._client, attributes=attributes
        )

    def _after(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        span = getattr(context, "_videoplatform_span", None)
        if span is not None:
            context._videoplatform_span = None
            span.end()

    def _failed(self, failure: Any) -> None:
        context = failure.execution_context
        span = getattr(context, "_videoplatform_span", None)
        if span is None:
            return
        context._videoplatform_span = None
        status, error = self._error
        kind = type(failure.original_exception).__name__
        span.set_attribute("error.type", kind)
        span.set_status(status(error, kind))
        span.end()


def _operation(statement: str) -> str:
    """The statement's first keyword, upper case (``SELECT``, ``INSERT``, ``WITH``):
    a span name from a small, known set, never the statement's text."""
    word = statement.lstrip()[:16].split(None, 1)
    head = word[0].upper() if word else ""
    return head if head.isalpha() else "SQL"


# -- the application's port -------------------------------------------------------------


class _OtelSpan:
    def __init__(self, span: Span) -> None:
        self._span = span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def fail(self, description: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        self._span.set_status(Status(StatusCode.ERROR, description))


class OtelTracer:
    """The :class:`Tracer` port on an OpenTelemetry tracer provider. Trace context is
    carried as W3C Trace Context, whatever ``OTEL_PROPAGATORS`` says for HTTP."""

    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry.trace import SpanKind as OtelKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._tracer = provider.get_tracer("videoplatform", _release())
        self._propagator = TraceContextTextMapPropagator()
        self._kinds = {
            "internal": OtelKind.INTERNAL,
            "producer": OtelKind.PRODUCER,
            "consumer": OtelKind.CONSUMER,
        }

    @contextmanager
    def span(self, name: str, attributes: Attributes | None = None) -> Iterator[TraceSpan]:
        with self._tracer.start_as_current_span(name, attributes=attributes) as span:
            yield _OtelSpan(span)

    def carrier(self) -> dict[str, str]:
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return carrier

    @contextmanager
    def continued(
        self,
        carrier: Mapping[str, str],
        name: str,
        *,
        kind: SpanKind = "consumer",
        attributes: Attributes | None = None,
    ) -> Iterator[TraceSpan]:
        # An empty context when the carrier holds none: a new trace, never a child of
        # whatever happens to be current in this thread.
        context = self._propagator.extract(carrier)
        with self._tracer.start_as_current_span(
            name, context=context, kind=self._kinds[kind], attributes=attributes
        ) as span:
            yield _OtelSpan(span)


def current_tracer() -> Tracer:
    """The tracer of this process: OpenTelemetry's once :func:`configure_tracing` set it
    up, else one that does nothing."""
    provider = _state.provider
    return OtelTracer(provider) if provider is not None else NoTracer()


# -- logs, and the end of a process -----------------------------------------------------


def add_trace_context(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: a line logged while a span is current carries its
    ``trace_id`` and ``span_id`` (hex, as trace viewers show them), sampled or not."""
    current_span = _state.current_span
    if current_span is None:
        return event
    context = current_span().get_span_context()
    if context.is_valid:
        logged, trace_id, span_id = _state.logged_ids
        if logged is not context:
            trace_id, span_id = format(context.trace_id, "032x"), format(context.span_id, "016x")
            _state.logged_ids = (context, trace_id, span_id)
        event.setdefault("trace_id", trace_id)
        event.setdefault("span_id", span_id)
    return event


def flush_tracing(timeout_millis: int = FLUSH_MILLIS) -> bool:
    """Export the spans still waiting, within ``timeout_millis``; whether all went."""
    provider = _state.provider
    if provider is None:
        return True
    return bool(provider.force_flush(timeout_millis))


def shutdown_tracing() -> None:
    """Export what is left, stop the export thread and undo the instrumentations (at
    the end of a process, and between tests). Tracing is off afterwards."""
    provider = _state.provider
    if provider is None:
        return
    for instrumentor in reversed(_state.instrumented):
        instrumentor.uninstrument()
    _state.instrumented.clear()
    while _state.statements:
        _state.statements.pop().forget()
    provider.force_flush(FLUSH_MILLIS)
    provider.shutdown()
    _state.provider, _state.component, _state.current_span = None, None, None
    _state.logged_ids = (None, "", "")


def _release() -> str:
    try:
        return version("videoplatform")
    except PackageNotFoundError:
        return "unknown"
