"""GET /metrics: Prometheus text for a bearer of the metrics token only, counting every
answer by route template, every use case at the dispatch point, logins, uploads and
processing, and reading the platform's state at each scrape, with label values from
closed sets only."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import attrs
import falcon.testing
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.conftest import CHEAP_ARGON2, MP4_HEAD
from tests.unit.http.conftest import MakeAccount
from videoplatform.adapters.memory.media import synthetic_clip
from videoplatform.adapters.sql.engine import create_database_engine
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.cache import Cache
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import Job, JobQueue
from videoplatform.application.shares import CreateShare
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.errors import NotFound
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import Role
from videoplatform.entrypoints import metrics as metrics_module
from videoplatform.entrypoints.bootstrap import USE_CASES, Platform, create_platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app
from videoplatform.entrypoints.metrics import Metrics

TOKEN = "a-metrics-token-of-some-length"
Client = falcon.testing.TestClient


@pytest.fixture
def http_options() -> HttpOptions:
    return HttpOptions(metrics_token=TOKEN)


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.simulate_get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def value(samples: Samples, metric: str, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


def test_only_a_bearer_of_the_token_gets_the_numbers(client: Client, account: MakeAccount) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, account(Role.ADMIN).headers):
        refused = client.simulate_get("/metrics", headers=headers)
        assert refused.status_code == 404
    assert scrape(client)


def test_without_a_token_there_is_no_metrics_route(platform: Platform) -> None:
    plain = falcon.testing.TestClient(create_app(platform, HttpOptions()))
    assert plain.simulate_get("/metrics").status_code == 404


def test_answers_use_cases_logins_uploads_and_state_are_counted(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    creator = account(Role.CREATOR)
    for _ in range(3):
        client.simulate_get("/api/v1/videos/01NOSUCHVIDEO000000000000", headers=creator.headers)
    client.simulate_post(
        "/api/v1/auth/session", json={"email": "nobody@example.com", "password": "x" * 12}
    )
    video = platform.videos.upload(
        Caller(UserId(creator.user_id)),
        UploadVideo("Clip", io.BytesIO(synthetic_clip(duration=2.0))),
    )
    platform.processing.process("job-1", video.id)
    platform.videos.upload(
        Caller(UserId(creator.user_id)), UploadVideo("Waiting", io.BytesIO(MP4_HEAD + b"x"))
    )
    platform.resolve(JobQueue).publish(Job("job-2", "transcode", {}))  # type: ignore[type-abstract]
    samples = scrape(client)
    route = "/api/v1/videos/{video_id}"
    assert (
        value(samples, "videoplatform_http_requests_total", method="GET", route=route, status="404")
        == 3
    )
    assert (
        value(
            samples, "videoplatform_http_request_duration_seconds_count", method="GET", route=route
        )
        == 3
    )
    assert (
        value(samples, "videoplatform_use_case_calls_total", name="videos.get", outcome="not_found")
        == 3
    )
    assert value(samples, "videoplatform_logins_total", result="failed") == 1
    assert value(samples, "videoplatform_logins_total", result="ok") >= 1  # the account fixture
    assert value(samples, "videoplatform_uploads_total") == 2
    assert (
        value(samples, "videoplatform_upload_bytes_total") == video.source_size + len(MP4_HEAD) + 1
    )
    assert value(samples, "videoplatform_processing_outcomes_total", outcome="ready") == 1
    for stage in ("fetch", "probe", "ladder", "stills", "upload"):
        assert value(samples, "videoplatform_processing_stage_seconds_count", stage=stage) == 1, (
            stage
        )
    assert value(samples, "videoplatform_transcode_speed_ratio_count") == 1
    assert value(samples, "videoplatform_transcode_speed_ratio_sum") > 0
    assert value(samples, "videoplatform_videos", status="ready") == 1
    assert value(samples, "videoplatform_videos", status="uploaded") == 1
    for dependency in ("database", "storage", "queue", "cache", "feed", "mail"):
        assert value(samples, "videoplatform_dependency_up", dependency=dependency) == 1
    assert value(samples, "videoplatform_outbox_pending") >= 1  # nothing relays here
    assert value(samples, "videoplatform_outbox_oldest_age_seconds") >= 0
    depth = {s: value(samples, "videoplatform_queue_jobs", state=s) for s in QUEUE_STATES}
    assert depth == {"ready": 1, "retrying": 0, "dead": 0}


QUEUE_STATES = ("ready", "retrying", "dead")
KNOWN_STATUS = re.compile(r"^[1-5][0-9]{2}$")
CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")  # the point of one request
def test_label_values_come_from_closed_sets(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    admin = account(Role.ADMIN)
    paths = [
        "/api/v1/videos/abc",
        "/api/v1/videos/def",
        "/api/v1/files/123",
        "/api/v1/no/such/thing/at/all",
        "/api/v1/users?limit=1",
        "/totally-unknown-42",
    ]
    for path in paths:
        client.simulate_get(path, headers=admin.headers)
    client.simulate_request("BREW", "/api/v1/videos")
    document = client.simulate_get("/api/v1/openapi.json").json
    routes = {*document["paths"], "unmatched", "/metrics", "/api/v1/openapi.json"}
    routes |= {p for p in ("/docs", "/health/live", "/health/ready")}
    methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}
    use_cases = {
        f"{service}.{method}"
        for service, cls in USE_CASES.items()
        for method in dir(cls)
        if not method.startswith("_")
    }
    for (name, labels), _ in scrape(client).items():
        found = dict(labels)
        if "route" in found:
            assert found["route"] in routes or found["route"].startswith("/docs"), found
            assert found["method"] in methods, found
        if "status" in found and name.startswith("videoplatform_http"):
            assert KNOWN_STATUS.match(found["status"]), found
        if name == "videoplatform_videos":
            assert found["status"] in {"uploaded", "processing", "ready", "failed"}, found
        if name.startswith("videoplatform_use_case"):
            assert found["name"] in use_cases, found
        if "outcome" in found:
            assert CODE.match(found["outcome"]), found
        for label in found.values():
            assert not re.search(r"[0-9A-Z]{26}|abc|def|123|42", label), (name, found)


def test_resources_storage_cache_pool_and_share_links_are_measured(tmp_path: Path) -> None:
    """A platform as settings make it (SQLite, local disk, the memory cache): storage
    calls timed, cache reads counted, the database pool followed, share links counted."""
    settings = attrs.evolve(CHEAP_ARGON2, database_url="", data_dir=str(tmp_path))
    with create_platform(settings) as platform:
        client = Client(create_app(platform, HttpOptions(metrics_token=TOKEN)))
        alice = platform.users.register(
            RegisterUser("alice@example.com", "a long passphrase", "Alice")
        )
        stored = platform.files.store(Caller(alice.id), StoreFile("a.txt", io.BytesIO(b"abc")))
        share = platform.shares.create(Caller(alice.id), CreateShare(file_id=stored.id))
        platform.shares.redeem(share.token)
        with pytest.raises(NotFound):
            platform.shares.redeem("no-such-token")
        cache: Cache = platform.resolve(Cache)  # type: ignore[type-abstract]
        cache.set("k", b"v", 60)
        assert cache.get("k") == b"v"
        assert cache.get("missing") is None
        samples = scrape(client)
        engine = platform.resolve(UnitOfWorkFactory).engine  # type: ignore[type-abstract,attr-defined]
        with engine.connect():
            held = scrape(client)
    assert value(samples, "videoplatform_storage_operation_seconds_count", operation="put") == 1
    assert value(samples, "videoplatform_storage_operation_seconds_sum", operation="put") > 0
    assert value(samples, "videoplatform_share_redemptions_total", result="ok") == 1
    assert value(samples, "videoplatform_share_redemptions_total", result="refused") == 1
    assert value(samples, "videoplatform_cache_reads_total", result="hit") >= 1
    assert value(samples, "videoplatform_cache_reads_total", result="miss") >= 1
    pool = {s: value(samples, "videoplatform_db_pool_connections", state=s) for s in POOL}
    assert pool == {"in_use": 0, "idle": 1, "overflow": 0}  # SQLite: a pool of one
    pool = {s: value(held, "videoplatform_db_pool_connections", state=s) for s in POOL}
    assert pool["in_use"] == 1
    assert pool["overflow"] == 0


POOL = ("in_use", "idle", "overflow")


def test_pool_gauges_follow_the_pool_between_scrapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process nobody scrapes (a worker process among several) still publishes its
    pool's counts, within a publishing period."""
    monkeypatch.setattr(metrics_module, "POOL_PUBLISH_SECONDS", 0.05)
    engine = create_database_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        metrics = Metrics()
        metrics.watch_pool(engine)
        in_use = metrics.db_pool.labels("in_use")

        def published(expected: float) -> bool:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if in_use._value.get() == expected:  # the gauge itself, no scrape
                    return True
                time.sleep(0.01)
            return False

        with engine.connect():
            assert published(1)
        assert published(0)
    finally:
        engine.dispose()
