"""Tracing: off unless the OTEL_* environment turns it on; when on, spans for each HTTP
request and SQL statement, one trace from an upload's request through the outbox, the
queue and the worker to each processing stage, log lines that name their span, and
exports that never hold a request up. Spans are read from the SDK's in-memory exporter
(behind the same batch processor as in production)."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import falcon.testing
import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests.unit.conftest import CHEAP_ARGON2, PASSWORD
from videoplatform.adapters.memory.media import synthetic_clip
from videoplatform.adapters.memory.queue import MemoryJobQueue
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.adapters.sql import migrate
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.application.jobs import JobConsumer, RetryPolicy
from videoplatform.application.ports.outbox import OutboxMessage
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import Job
from videoplatform.application.ports.tracing import NoTracer, Tracer
from videoplatform.application.processing.timings import STAGES
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_jobs import PROCESS_VIDEO
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.http.app import create_app
from videoplatform.entrypoints.logging import configure_logging
from videoplatform.entrypoints.settings import ConfigurationError, Settings
from videoplatform.entrypoints.tracing import (
    OtelTracer,
    check_tracing_environment,
    configure_tracing,
    current_tracer,
    flush_tracing,
    shutdown_tracing,
    trace_engine,
    tracing_on,
    tracing_requested,
)
from videoplatform.entrypoints.worker import start_background

VIDEOS = "/api/v1/videos"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process, its spans kept in memory; off again afterwards."""
    exporter = InMemorySpanExporter()
    assert configure_tracing("api", environ={}, exporter=exporter)
    try:
        yield exporter
    finally:
        shutdown_tracing()


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    assert flush_tracing()
    return list(exporter.get_finished_spans())


def named(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, sorted(s.name for s in spans))
    return found[0]


def ancestors(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[str]:
    """The names of the span's parents, nearest first, as far as they were recorded."""
    by_id = {s.context.span_id: s for s in spans}
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        span = by_id[parent.span_id]
        names.append(span.name)
        parent = span.parent
    return names


# -- on or off --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "vp", "OTEL_TRACES_SAMPLER": "always_on"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_on_only_when_the_otel_environment_asks(
    environ: dict[str, str], on: bool
) -> None:
    assert tracing_requested(environ) is on


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "jaeger"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"},
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "10%",
        },
    ],
)
def test_settings_tracing_cannot_honour_are_refused_before_start(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        check_tracing_environment(environ)
    assert not tracing_on()


def test_by_default_nothing_is_traced_and_the_platform_tracer_does_nothing() -> None:
    assert configure_tracing("api", environ={}) is False
    assert not tracing_on()
    with create_platform(CHEAP_ARGON2) as platform:
        tracer: Tracer = platform.container.resolve(Tracer)
        assert isinstance(tracer, NoTracer)
        with tracer.span("anything"):
            assert tracer.carrier() == {}


def test_without_the_tracing_extra_tracing_stays_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    with structlog.testing.capture_logs() as logged:
        on = configure_tracing("api", environ={"OTEL_TRACES_EXPORTER": "otlp"})
    assert on is False
    assert not tracing_on()
    assert isinstance(current_tracer(), NoTracer)
    assert [e["event"] for e in logged] == ["tracing_unavailable"]


# -- the port's adapter -----------------------------------------------------------------


def test_a_carried_context_is_continued_in_the_same_trace(spans: InMemorySpanExporter) -> None:
    tracer = current_tracer()
    assert isinstance(tracer, OtelTracer)
    with tracer.span("write"):
        carrier = tracer.carrier()
    assert set(carrier) == {"traceparent"}
    with tracer.continued(carrier, "handle", kind="consumer"):
        pass
    with tracer.continued({}, "alone", kind="consumer"):
        pass
    done = finished(spans)
    write, handle, alone = named(done, "write"), named(done, "handle"), named(done, "alone")
    assert handle.context.trace_id == write.context.trace_id
    assert handle.parent is not None and handle.parent.span_id == write.context.span_id
    assert handle.kind is SpanKind.CONSUMER
    assert alone.parent is None and alone.context.trace_id != write.context.trace_id


def test_a_failure_is_recorded_on_its_span(spans: InMemorySpanExporter) -> None:
    tracer = current_tracer()
    with pytest.raises(RuntimeError), tracer.span("breaks"):
        raise RuntimeError("the encoder crashed")
    with tracer.span("gives up") as span:
        span.fail("dead-lettered")
    done = finished(spans)
    breaks = named(done, "breaks")
    assert breaks.status.status_code is StatusCode.ERROR
    assert [e.name for e in breaks.events] == ["exception"]
    gave_up = named(done, "gives up")
    assert (gave_up.status.status_code, gave_up.status.description) == (
        StatusCode.ERROR,
        "dead-lettered",
    )


# -- HTTP, SQL ----------------------------------------------------------------------------


def test_a_request_is_a_server_span_named_by_its_route_without_path_or_address(
    spans: InMemorySpanExporter,
) -> None:
    with create_platform(CHEAP_ARGON2) as platform:
        client = falcon.testing.TestClient(create_app(platform))
        missing = f"{VIDEOS}/01NOSUCHVIDEO000000000000"
        result = client.simulate_get(missing, query_string="t=secret", remote_addr="203.0.113.9")
        assert result.status_code in (401, 404)
    (request,) = [s for s in finished(spans) if s.kind is SpanKind.SERVER]
    assert request.name == f"GET {VIDEOS}/{{video_id}}"
    recorded = dict(request.attributes or {})
    # Answered by an error handler (a domain error): its status, not a failure.
    assert recorded["http.response.status_code"] == result.status_code
    assert recorded["http.route"] == f"{VIDEOS}/{{video_id}}"
    assert request.status.status_code is StatusCode.UNSET
    rendered = json.dumps(recorded)
    assert "01NOSUCHVIDEO" not in rendered and "secret" not in rendered
    assert "203.0.113.9" not in rendered


def test_a_request_continues_the_trace_its_client_sent(spans: InMemorySpanExporter) -> None:
    with create_platform(CHEAP_ARGON2) as platform:
        client = falcon.testing.TestClient(create_app(platform))
        client.simulate_get("/health/live", headers={"traceparent": TRACEPARENT})
    (request,) = [s for s in finished(spans) if s.kind is SpanKind.SERVER]
    assert format(request.context.trace_id, "032x") == TRACEPARENT.split("-")[1]


def test_statements_of_a_traced_use_case_get_spans(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        trace_engine(engine)
        tracer = current_tracer()
        with tracer.span("use case"), engine.connect() as conn:
            assert conn.execute(text("SELECT 41 + :one"), {"one": 1}).scalar_one() == 42
        with engine.connect() as conn:  # outside any request or job: no trace of its own
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    done = finished(spans)
    (statement,) = [s for s in done if s.kind is SpanKind.CLIENT]
    assert statement.name == "SELECT"
    assert dict(statement.attributes or {}) == {
        "db.system.name": "sqlite",
        "db.operation.name": "SELECT",
        "db.query.text": "SELECT 41 + ?",  # as sent: the parameter is not in it
    }
    assert ancestors(statement, done)[-1] == "use case"


def test_a_failed_statement_is_an_error_span(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        trace_engine(engine)
        with current_tracer().span("use case"), engine.connect() as conn:
            with pytest.raises(OperationalError):
                conn.execute(text("DELETE FROM no_such_table"))
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    failed, fine = [s for s in finished(spans) if s.kind is SpanKind.CLIENT]
    assert (failed.name, fine.name) == ("DELETE", "SELECT")
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "OperationalError"
    assert fine.status.status_code is StatusCode.UNSET


# -- one trace, from the request to the last processing stage ----------------------------


def embedded(tmp_path: Path) -> Settings:
    """SQLite in a file (statements to trace), the in-process queue, synthetic media."""
    return attrs.evolve(CHEAP_ARGON2, database_url=f"sqlite:///{tmp_path / 'vp.db'}")


def wait_until_processed(client: falcon.testing.TestClient, video: str, me: Any) -> str:
    deadline = time.monotonic() + 30
    status = ""
    while time.monotonic() < deadline:
        status = client.simulate_get(f"{VIDEOS}/{video}/progress", headers=me).json["status"]
        if status in ("ready", "failed"):
            break
        time.sleep(0.02)
    return status


def test_one_trace_follows_an_upload_from_its_request_to_each_processing_stage(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    with create_platform(embedded(tmp_path)) as platform:
        client = falcon.testing.TestClient(create_app(platform))
        platform.users.register(RegisterUser("maker@example.com", PASSWORD, "Maker"))
        login = client.simulate_post(
            "/api/v1/auth/session", json={"email": "maker@example.com", "password": PASSWORD}
        )
        me = {"Authorization": f"Bearer {login.json['token']}"}
        uploaded = client.simulate_post(
            VIDEOS,
            body=synthetic_clip(duration=2.0),
            params={"title": "Traced"},
            headers={**me, "Content-Type": "video/mp4"},
        )
        assert uploaded.status_code == 201, uploaded.text
        workers = start_background(platform, concurrency=1)
        try:
            assert wait_until_processed(client, uploaded.json["id"], me) == "ready"
        finally:
            workers.stop()
    done = finished(spans)
    request = named(done, f"POST {VIDEOS}")
    assert request.kind is SpanKind.SERVER
    trace = [s for s in done if s.context.trace_id == request.context.trace_id]
    names = {s.name for s in trace}
    assert any(s.kind is SpanKind.CLIENT and s.name.startswith("INSERT") for s in trace), names
    publish = named(trace, f"publish {PROCESS_VIDEO}")
    process = named(trace, f"process {PROCESS_VIDEO}")
    assert (publish.kind, process.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert ancestors(publish, done)[-1] == request.name
    assert ancestors(process, done)[0] == publish.name
    assert (process.attributes or {})["videoplatform.job.outcome"] == "done"
    for stage in STAGES:
        span = named(trace, f"processing {stage}")
        chain = ancestors(span, done)
        assert chain[0] == process.name, (stage, chain)  # the stills' thread too
        assert chain[-1] == request.name


# -- the outbox and the queue -------------------------------------------------------------


class FixedTracer(NoTracer):
    """A tracer whose current context is always the same one."""

    def carrier(self) -> dict[str, str]:
        return {"traceparent": TRACEPARENT}


def memory_factory(_: Path) -> UnitOfWorkFactory:
    return MemoryUnitOfWorkFactory(tracer=FixedTracer())


def sqlite_factory(tmp_path: Path) -> UnitOfWorkFactory:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate.upgrade(engine)
    return SqlUnitOfWorkFactory(engine, tracer=FixedTracer())


@pytest.mark.parametrize("build", [memory_factory, sqlite_factory], ids=["memory", "sqlite"])
def test_the_outbox_records_the_writers_trace_context_unless_the_message_has_one(
    build: Any, tmp_path: Path
) -> None:
    factory = build(tmp_path)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    own = {"traceparent": "00-11111111111111111111111111111111-2222222222222222-00"}
    with factory() as uow:
        uow.outbox.add(OutboxMessage("m1", "process-video", {"video_id": "v1"}, at))
        uow.outbox.add(OutboxMessage("m2", "process-video", {"video_id": "v2"}, at, trace=own))
        uow.commit()
    with factory() as uow:
        pending = {m.id: dict(m.trace) for m in uow.outbox.pending(10)}
    assert pending == {"m1": {"traceparent": TRACEPARENT}, "m2": own}


def test_a_consumer_handles_each_job_in_the_trace_it_carries(
    spans: InMemorySpanExporter,
) -> None:
    tracer = current_tracer()
    queue = MemoryJobQueue(max_deliveries=5)
    with tracer.span("upload"):
        carrier = tracer.carrier()
    queue.publish(Job("j1", "process-video", {}, trace=carrier))
    queue.publish(Job("j2", "process-video", {}, trace=carrier))

    def handle(job: Job) -> None:
        if job.id == "j2":
            raise RuntimeError("the encoder crashed")

    consumer = JobConsumer(queue.client(), {"process-video": handle}, RetryPolicy(), tracer=tracer)
    assert consumer.run_once(1) and consumer.run_once(1)
    done = finished(spans)
    upload = named(done, "upload")
    handled = [s for s in done if s.name == "process process-video"]
    assert [(s.attributes or {})["videoplatform.job.outcome"] for s in handled] == [
        "done",
        "retrying",
    ]
    assert all(s.parent is not None and s.parent.span_id == upload.context.span_id for s in handled)
    assert handled[1].status.status_code is StatusCode.ERROR


# -- logs ---------------------------------------------------------------------------------


def lines_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_log_lines_carry_the_trace_and_span_of_the_work_they_are_about(
    spans: InMemorySpanExporter, restore_logging: None
) -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    with current_tracer().span("job"):
        structlog.get_logger("videoplatform.worker").info("transcoding")
        logging.getLogger("videoplatform.worker").warning("slow")
    structlog.get_logger("videoplatform.worker").info("idle")
    job = named(finished(spans), "job")
    inside, stdlib, outside = lines_of(out.getvalue())
    for line in (inside, stdlib):
        assert line["trace_id"] == format(job.context.trace_id, "032x")
        assert line["span_id"] == format(job.context.span_id, "016x")
    assert "trace_id" not in outside and "span_id" not in outside


def test_log_lines_carry_no_trace_fields_when_tracing_is_off(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    with NoTracer().span("job"):
        structlog.get_logger("videoplatform.worker").info("transcoding")
    (line,) = lines_of(out.getvalue())
    assert "trace_id" not in line


# -- exports stay off the request's path --------------------------------------------------


class StuckExporter(SpanExporter):
    """A collector that does not answer until the test lets it."""

    def __init__(self) -> None:
        self.exporting = threading.Event()
        self.release = threading.Event()
        self.exported: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exporting.set()
        self.release.wait(30)
        self.exported.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def test_requests_are_answered_while_the_collector_does_not_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")  # export as soon as a span ends
    exporter = StuckExporter()
    assert configure_tracing("api", environ={}, exporter=exporter)
    try:
        with create_platform(CHEAP_ARGON2) as platform:
            client = falcon.testing.TestClient(create_app(platform))
            assert client.simulate_get("/health/live").status_code == 200
            assert exporter.exporting.wait(10), "the first span was never exported"
            answered = [client.simulate_get("/health/live").status_code for _ in range(20)]
            assert answered == [200] * 20
            assert not exporter.release.is_set()  # all answered while the export hung
            exporter.release.set()
        assert flush_tracing()
        requests = [s for s in exporter.exported if s.kind is SpanKind.SERVER]
        assert len(requests) == 21
    finally:
        exporter.release.set()
        shutdown_tracing()
