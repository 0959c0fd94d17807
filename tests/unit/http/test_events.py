"""Following processing over HTTP as Server-Sent Events: the current state first, each
change after it, the end after ready; 404 for a video the caller may not see; a
bounded number of streams per process."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import falcon.testing
import jsonschema
import pytest
from attrs import evolve

from tests.unit.conftest import CHEAP_ARGON2
from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from videoplatform.adapters.memory.feed import MemorySubscription, MemoryVideoFeed
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.adapters.memory.media import synthetic_clip
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.following import FollowConfig
from videoplatform.application.ports.feed import VideoFeed
from videoplatform.application.ports.mail import Mailer
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.ids import UserId, VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.http.app import create_app
from videoplatform.entrypoints.http.sse import EventStream
from videoplatform.entrypoints.settings import Settings

VIDEOS = "/api/v1/videos"
MISSING = "01NOSUCHVIDEO000000000000"
Client = falcon.testing.TestClient


class SignallingFeed(MemoryVideoFeed):
    """A memory feed that lets a test wait until someone subscribed."""

    def __init__(self) -> None:
        super().__init__()
        self.subscribed = threading.Event()

    def subscribe(self, video_id: VideoId) -> MemorySubscription:
        subscription = super().subscribe(video_id)
        self.subscribed.set()
        return subscription


@pytest.fixture
def settings() -> Settings:
    return evolve(CHEAP_ARGON2, event_streams=1)


@pytest.fixture
def feed() -> SignallingFeed:
    return SignallingFeed()


@pytest.fixture
def platform(
    settings: Settings,
    clock: ManualClock,
    mailer: MemoryMailer,
    storage: MemoryObjectStorage,
    uow_factory: MemoryUnitOfWorkFactory,
    feed: SignallingFeed,
) -> Platform:
    return create_platform(
        settings,
        overrides={
            Clock: clock,
            Mailer: mailer,
            ObjectStorage: storage,
            UnitOfWorkFactory: uow_factory,
            VideoFeed: feed,
            FollowConfig: FollowConfig(poll_seconds=0.1, heartbeat_seconds=5, lifetime_seconds=5),
        },
    )


@pytest.fixture
def creator(account: MakeAccount) -> Account:
    return account(Role.CREATOR)


def uploaded(
    platform: Platform, owner: Account, visibility: Visibility = Visibility.PRIVATE
) -> VideoId:
    video = platform.videos.upload(
        Caller(UserId(owner.user_id)),
        UploadVideo(title="A clip", source=io.BytesIO(synthetic_clip()), visibility=visibility),
    )
    return video.id


def parse(stream: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The events of a stream (kind, id, data) and its other blocks (retry, comments)."""
    events: list[dict[str, Any]] = []
    others: list[str] = []
    for block in stream.split("\n\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith(":"))
        if "data" in fields:
            events.append(
                {
                    "event": fields["event"],
                    "id": int(fields["id"]),
                    "data": json.loads(fields["data"]),
                }
            )
        else:
            others.append(block)
    return events, others


def test_a_ready_video_streams_its_state_once_and_ends(
    client: Client, platform: Platform, creator: Account
) -> None:
    video = uploaded(platform, creator)
    platform.processing.process("job-1", video)

    result = client.simulate_get(f"{VIDEOS}/{video}/events", headers=creator.headers)

    assert result.status_code == 200
    assert result.headers["content-type"] == "text/event-stream"
    assert result.headers["cache-control"] == "no-store"
    assert result.headers["x-accel-buffering"] == "no"
    events, others = parse(result.text)
    assert others == ["retry: 5000"]
    assert events == [
        {
            "event": "status",
            "id": 1,
            "data": {
                "id": video,
                "status": "ready",
                "progress": 100,
                "attempts": 1,
                "last_error": None,
                "failure_code": None,
                "reprocessing": False,
            },
        }
    ]


def test_the_owner_follows_processing_from_uploaded_to_ready(
    client: Client, platform: Platform, creator: Account, feed: SignallingFeed
) -> None:
    video = uploaded(platform, creator)

    def process_once_followed() -> None:
        assert feed.subscribed.wait(5)
        platform.processing.process("job-1", video)

    worker = threading.Thread(target=process_once_followed, daemon=True)
    worker.start()
    result = client.simulate_get(f"{VIDEOS}/{video}/events", headers=creator.headers)
    worker.join(5)

    events, _ = parse(result.text)
    states = [(e["event"], e["data"]["status"], e["data"]["progress"]) for e in events]
    assert states[0] == ("status", "uploaded", 0)
    assert states[1][:2] == ("status", "processing")
    assert states[-1] == ("status", "ready", 100)
    assert {kind for kind, status, _ in states[2:-1]} <= {"progress"}
    assert len(states) >= 4  # at least one progress step between start and ready
    progress = [p for _, _, p in states[1:]]
    assert progress == sorted(progress)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert (
        events[-1]["data"]
        == client.simulate_get(f"{VIDEOS}/{video}/progress", headers=creator.headers).json
    )


def test_a_video_one_may_not_see_is_404_like_a_missing_one(
    client: Client, platform: Platform, creator: Account, account: MakeAccount
) -> None:
    video = uploaded(platform, creator)
    other = account(Role.CREATOR)

    hidden = client.simulate_get(f"{VIDEOS}/{video}/events", headers=other.headers)
    anonymous = client.simulate_get(f"{VIDEOS}/{video}/events")
    missing = client.simulate_get(f"{VIDEOS}/{MISSING}/events", headers=other.headers)

    assert hidden.status_code == anonymous.status_code == missing.status_code == 404
    assert problem_code(hidden) == problem_code(missing) == "not_found"
    # Refusals give their stream slot back (this process has only one).
    platform.processing.process("job-1", video)
    assert (
        client.simulate_get(f"{VIDEOS}/{video}/events", headers=creator.headers).status_code == 200
    )


def test_anyone_may_follow_a_public_video_without_signing_in(
    client: Client, platform: Platform, creator: Account
) -> None:
    video = uploaded(platform, creator, Visibility.PUBLIC)
    platform.processing.process("job-1", video)

    result = client.simulate_get(f"{VIDEOS}/{video}/events")

    assert result.status_code == 200
    assert parse(result.text)[0][0]["data"]["status"] == "ready"


def test_streams_beyond_the_per_process_cap_are_refused_with_503(
    client: Client, platform: Platform, creator: Account
) -> None:
    video = uploaded(platform, creator)  # stays uploaded: its stream stays open
    app = client.app
    path = f"{VIDEOS}/{video}/events"
    environ = falcon.testing.create_environ(path, headers=creator.headers)
    started: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: object) -> Any:
        started.append(status)

    body = app(environ, start_response)
    assert started == ["200 OK"]
    assert isinstance(body, EventStream)
    try:
        first = next(iter(body))
        assert first == b"retry: 5000\n\n"

        refused = client.simulate_get(path, headers=creator.headers)
        assert refused.status_code == 503
        assert problem_code(refused) == "too_many_streams"
        assert refused.headers["retry-after"] == "5"
    finally:
        body.close()  # what the server does when the client goes away
    platform.processing.process("job-1", video)
    assert client.simulate_get(path, headers=creator.headers).status_code == 200


def test_event_stream_responses_match_the_published_document(
    client: Client, platform: Platform, creator: Account
) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    video = uploaded(platform, creator)
    platform.processing.process("job-1", video)
    for path, headers, expected in (
        (f"{VIDEOS}/{video}/events", creator.headers, 200),
        (f"{VIDEOS}/{MISSING}/events", creator.headers, 404),
    ):
        result = client.simulate_get(path, headers=headers)
        assert result.status_code == expected
        media = result.headers["content-type"].split(";")[0]
        body = result.json if media.endswith("json") else result.text
        docs.check("GET", path, result.status_code, body, media)
        if media == "text/event-stream":
            # Each event's data has the schema the document names for that event.
            reply = docs.document["paths"]["/api/v1/videos/{video_id}/events"]["get"]
            named = reply["responses"]["200"]["content"][media]["schema"]["x-events"]
            events, _ = parse(result.text)
            assert events and {e["event"] for e in events} <= named.keys()
            for event in events:
                schema = {**named[event["event"]], "components": docs.document["components"]}
                jsonschema.Draft202012Validator(schema).validate(event["data"])


def test_a_process_with_a_single_thread_serves_no_streams_by_default() -> None:
    single = create_platform(evolve(CHEAP_ARGON2, threads=1))
    client = Client(create_app(single))
    result = client.simulate_get(f"{VIDEOS}/{MISSING}/events")
    assert result.status_code == 503
    assert problem_code(result) == "too_many_streams"
