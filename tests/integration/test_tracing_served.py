"""One trace, end to end, exported over OTLP/HTTP: an upload to ``serve`` and its
processing by a separate ``worker``, on the production profile (PostgreSQL, RabbitMQ,
Redis for the progress feed, real ffmpeg), both sending their spans to a receiver this
test runs on loopback. The trace goes from the API's request through the outbox, the
queue and the worker to each processing stage; log lines name it."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench import clips as media_clips
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import make_url

from tests.conftest import ServiceEndpoint
from tests.integration.served import API, Served, Worker, sign_up, upload_video
from videoplatform.application.processing.timings import STAGES
from videoplatform.application.video_jobs import PROCESS_VIDEO

FAST_MEDIA = {
    "VIDEOPLATFORM_X264_PRESET": "ultrafast",
    "VIDEOPLATFORM_HLS_SEGMENT_SECONDS": "1",
    "VIDEOPLATFORM_POSTER_WIDTHS": "320",
}
SERVER, PRODUCER, CONSUMER, CLIENT = (
    Span.SPAN_KIND_SERVER,
    Span.SPAN_KIND_PRODUCER,
    Span.SPAN_KIND_CONSUMER,
    Span.SPAN_KIND_CLIENT,
)


class Received:
    """A span as the receiver decoded it, with the service that sent it."""

    def __init__(self, service: str, span: Span) -> None:
        self.service = service
        self.span = span
        self.name = span.name
        self.trace_id = span.trace_id.hex()
        self.span_id = span.span_id.hex()
        self.parent_id = span.parent_span_id.hex()
        self.attributes = {a.key: a.value for a in span.attributes}


class OtlpReceiver:
    """An OTLP/HTTP receiver on loopback: decodes each ``POST /v1/traces`` (protobuf,
    gzip or not) with the opentelemetry-proto classes and keeps the spans."""

    def __init__(self) -> None:
        self.spans: list[Received] = []
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.keep(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def keep(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            self.requests += 1
            for resource_spans in request.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    ),
                    "",
                )
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend(Received(service, s) for s in scope_spans.spans)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.spans)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("clip")
    return media_clips.clip(folder, "clip.mp4", width=640, height=360, duration=2.0).read_bytes()


def one(spans: list[Received], name: str) -> Received:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, sorted(s.name for s in spans))
    return found[0]


def chain(span: Received, spans: list[Received]) -> list[Received]:
    """The span's ancestors, nearest first, as far as they were received."""
    by_id = {s.span_id: s for s in spans}
    found = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        found.append(span)
    return found


def wait_for_ready(http: httpx.Client, me: dict[str, str], video_id: str) -> str:
    deadline = time.monotonic() + 120
    status = ""
    while time.monotonic() < deadline:
        status = http.get(f"{API}/videos/{video_id}/progress", headers=me).json()["status"]
        if status in ("ready", "failed"):
            break
        time.sleep(0.2)
    return status


def test_one_trace_spans_the_api_the_queue_the_worker_and_each_ffmpeg_stage(
    tmp_path: Path,
    clip: bytes,
    production_env: dict[str, str],
    redis_service: ServiceEndpoint,
    receiver: OtlpReceiver,
) -> None:
    production_env.update(FAST_MEDIA)
    production_env.update(
        {
            "VIDEOPLATFORM_FEED_URL": f"redis://{redis_service.host}:{redis_service.port}/0",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
    )
    (tmp_path / "api").mkdir()
    server = Served(tmp_path / "api", env=production_env)
    worker = Worker(production_env, tmp_path, "worker")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            me = sign_up(http)
            video_id = upload_video(http, me, clip, "Traced")
            assert wait_for_ready(http, me, video_id) == "ready"
    finally:
        server.stop()
        worker.stop()  # each process exports what is left as it ends

    spans = receiver.received()
    request = one(spans, f"POST {API}/videos")
    assert (request.service, request.span.kind) == ("videoplatform-api", SERVER)
    trace = [s for s in spans if s.trace_id == request.trace_id]
    assert {s.service for s in trace} == {"videoplatform-api", "videoplatform-worker"}

    # The request wrote the video and its job in PostgreSQL.
    inserts = [
        s
        for s in trace
        if s.span.kind == CLIENT and s.name.startswith("INSERT") and s.service == request.service
    ]
    assert inserts and all(chain(s, trace)[-1] is request for s in inserts)
    assert {s.attributes["db.system.name"].string_value for s in inserts} == {"postgresql"}
    database = make_url(production_env["VIDEOPLATFORM_DATABASE_URL"])
    assert {s.attributes["server.address"].string_value for s in inserts} == {database.host}
    assert {s.attributes["db.namespace"].string_value for s in inserts} == {database.database}
    # Its reads too, those run on the driver's connection among them: the bearer token
    # with its account, in one statement.
    reads = [
        s.attributes["db.query.text"].string_value
        for s in trace
        if s.span.kind == CLIENT and s.name == "SELECT" and s.service == request.service
    ]
    assert any("FROM api_tokens JOIN users ON" in query for query in reads), reads

    # The worker's relay published the job to RabbitMQ, in the request's trace...
    publish = one(trace, f"publish {PROCESS_VIDEO}")
    assert (publish.service, publish.span.kind) == ("videoplatform-worker", PRODUCER)
    assert chain(publish, trace)[-1] is request

    # ...and its consumer handled it, each ffmpeg stage a span of that handling.
    process = one(trace, f"process {PROCESS_VIDEO}")
    assert (process.service, process.span.kind) == ("videoplatform-worker", CONSUMER)
    assert process.attributes["videoplatform.job.outcome"].string_value == "done"
    assert chain(process, trace)[0] is publish  # through the message's headers
    for stage in STAGES:
        span = one(trace, f"processing {stage}")
        ancestors = chain(span, trace)
        assert ancestors[0] is process, stage
        assert ancestors[-1] is request, stage

    # Progress went to followers through Redis, within the job's trace.
    redis = [
        s
        for s in trace
        if s.span.kind == CLIENT
        and "db.system" in s.attributes
        and s.attributes["db.system"].string_value == "redis"
    ]
    assert redis and all(process in chain(s, trace) for s in redis)

    # The worker's log lines about the job name its trace.
    logged = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    assert any(line.get("trace_id") == request.trace_id for line in logged)
