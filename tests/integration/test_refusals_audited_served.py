"""Refused reads through the real server (``videoplatform serve``) on the embedded profile
(SQLite) and the production profile (PostgreSQL, RabbitMQ): someone else's private video
answers exactly like a missing one, byte for byte apart from the request's own id and
path, and both refusals reach the audit trail as the same ``denied`` record, written
after the answer, with the trail's hash chain intact."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.served import Served, command, process_env, sign_up, upload_video
from tests.unit.conftest import MP4_HEAD
from videoplatform.application.ports.persistence import AuditQuery, UnitOfWorkFactory
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.settings import Settings

API = "/api/v1"
MISSING = "01NOSUCHVIDEO0000000000000"


@pytest.fixture(params=["embedded", "production"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The server's settings: a SQLite data directory, or the production profile."""
    if request.param == "production":
        production: dict[str, str] = request.getfixturevalue("production_env")
        return production
    return {"VIDEOPLATFORM_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    folder = tmp_path / "served"
    folder.mkdir()
    running = Served(folder, env={**env, "VIDEOPLATFORM_PROCESSING_THREADS": "0"})
    yield running
    running.stop()


def without_own_ids(reply: httpx.Response) -> bytes:
    """The body with the request id and the requested path (``instance``) blanked."""
    problem = reply.json()
    body = reply.content
    for name in ("request_id", "instance"):
        assert isinstance(problem[name], str) and problem[name]
        body = body.replace(json.dumps(problem[name]).encode(), f'"<{name}>"'.encode())
    return body


def denied_reads(env: dict[str, str], seconds: float = 15.0, wanted: int = 2) -> list[AuditEvent]:
    """The ``denied`` video reads in the trail, oldest first, once ``wanted`` are there
    (they are written after the answers) or ``seconds`` passed."""
    with create_platform(Settings.from_env(process_env(env))) as platform:
        units: UnitOfWorkFactory = platform.resolve(UnitOfWorkFactory)  # type: ignore[type-abstract]
        query = AuditQuery(action=AuditAction.VIDEO_READ, result=AuditResult.DENIED)
        deadline = time.monotonic() + seconds
        while True:
            with units() as uow:
                found = uow.audit.search(query, 10)
            if len(found) >= wanted or time.monotonic() > deadline:
                return list(reversed(found))
            time.sleep(0.05)


def test_a_hidden_video_answers_and_is_audited_exactly_like_a_missing_one(
    server: Served, env: dict[str, str], tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        owner, stranger = sign_up(http), sign_up(http)
        video_id = upload_video(http, owner, MP4_HEAD + bytes(256), "Private")  # private
        assert http.get(f"{API}/videos/{video_id}", headers=owner).status_code == 200

        hidden = http.get(f"{API}/videos/{video_id}", headers=stranger)
        missing = http.get(f"{API}/videos/{MISSING}", headers=stranger)

    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["code"] == "not_found"
    assert without_own_ids(hidden) == without_own_ids(missing)
    for header in ("content-type", "content-length"):
        assert hidden.headers[header] == missing.headers[header]

    first, second = denied_reads(env)
    assert (first.resource_id, second.resource_id) == (video_id, MISSING)
    assert first.actor_id is not None
    for event in (first, second):
        assert (event.actor_id, event.resource_type, dict(event.metadata)) == (
            first.actor_id,
            "video",
            {"reason": "not_found"},
        )

    verified = command(env, tmp_path, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
