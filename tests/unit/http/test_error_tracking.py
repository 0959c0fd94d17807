"""Unhandled errors reach Sentry through a transport that keeps what it is given: the
API's 500s and a worker's failed job, with the request id, the route and the user's id,
the release and the environment, and never an email address, a token or a local
variable."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import falcon
import falcon.testing
import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from tests.unit.http.conftest import MakeAccount
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.error_tracking import configure_error_tracking, error_tracking_on
from videoplatform.entrypoints.http.app import HttpOptions, create_app
from videoplatform.entrypoints.http.openapi import Operation, Reply, Route
from videoplatform.entrypoints.logging import configure_logging
from videoplatform.entrypoints.settings import Settings

DSN = "https://public@sentry.example.com/1"
SECRET = "token-that-must-not-leave-7f3a"


class Captured(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(dict(event))


@pytest.fixture
def captured() -> Iterator[Captured]:
    transport = Captured()
    configure_logging(json=True, stream=io.StringIO())
    settings = Settings.in_memory(sentry_dsn=DSN, sentry_environment="staging")
    assert configure_error_tracking(settings, "api", transport=transport)
    yield transport
    configure_error_tracking(Settings.in_memory(), "api")  # off again
    # A client without a DSN sends nothing; like the platform's, with no integration
    # (an integration would patch Falcon for the rest of the process).
    sentry_sdk.init(default_integrations=False, auto_enabling_integrations=False)


class Broken:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        password = SECRET  # a local variable an event must not carry
        raise RuntimeError(f"the database refused {len(password)} bytes")


def test_an_api_500_reaches_sentry_with_ids_and_no_secrets(
    platform: Platform, captured: Captured, account: MakeAccount
) -> None:
    route = Route(
        "/broken",
        Broken(),
        (Operation("GET", "Broken", "test", (Reply(200, "never", schema={"type": "object"}),)),),
    )
    client = falcon.testing.TestClient(create_app(platform, HttpOptions(extra_routes=(route,))))
    member = account(Role.CREATOR, email="someone@example.com")
    result = client.simulate_get(
        "/broken", headers={"X-Request-ID": "boom-7", **member.headers, "Cookie": f"s={SECRET}"}
    )
    assert result.status_code == 500
    sentry_sdk.flush()
    (event,) = captured.events
    (error,) = event["exception"]["values"]
    assert (error["type"], error["value"]) == ("RuntimeError", "the database refused 30 bytes")
    assert event["tags"]["request_id"] == "boom-7"
    assert (event["tags"]["route"], event["tags"]["method"]) == ("/broken", "GET")
    assert event["tags"]["component"] == "api"
    assert event["user"] == {"id": member.user_id}
    assert event["environment"] == "staging"
    assert event["release"].startswith("videoplatform@")
    text = json.dumps(event)
    for secret in (SECRET, member.token, "someone@example.com"):
        assert secret not in text
    frames = error["stacktrace"]["frames"]
    assert frames and all("vars" not in frame for frame in frames)


def test_a_job_that_outlives_its_retries_reaches_sentry(captured: Captured) -> None:
    # What the job consumer logs (through the standard library) when it dead-letters.
    try:
        raise ValueError("the transcoder crashed")
    except ValueError as error:
        logging.getLogger("videoplatform.application.jobs").error(
            "job %s failed %d times; dead-lettering it", "job-9", 3, exc_info=error
        )
    sentry_sdk.flush()
    (event,) = captured.events
    assert event["exception"]["values"][0]["type"] == "ValueError"
    assert event["tags"]["logger"] == "videoplatform.application.jobs"


def test_errors_without_an_exception_and_warnings_are_not_sent(captured: Captured) -> None:
    log = logging.getLogger("videoplatform.test")
    log.error("a plain error line")
    try:
        raise OSError("retrying")
    except OSError:
        log.warning("will retry", exc_info=True)
    sentry_sdk.flush()
    assert captured.events == []


def test_without_a_dsn_it_is_off() -> None:
    assert not configure_error_tracking(Settings.in_memory(), "worker")
    assert not error_tracking_on()
