"""Processing over HTTP: following a video's progress, a moderator's retry of a failed
video, and the owner's choice of poster time."""

from __future__ import annotations

import io
from typing import Any

import falcon.testing
import pytest

from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from videoplatform.adapters.memory.media import synthetic_clip
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.events.codec import is_event_topic
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.application.video_commands import UploadVideo
from videoplatform.application.video_jobs import PROCESS_VIDEO
from videoplatform.domain.ids import UserId, VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform

VIDEOS = "/api/v1/videos"
MISSING = "01NOSUCHVIDEO000000000000"
Client = falcon.testing.TestClient


@pytest.fixture
def creator(account: MakeAccount) -> Account:
    return account(Role.CREATOR)


@pytest.fixture
def moderator(account: MakeAccount) -> Account:
    return account(Role.MODERATOR)


def uploaded(
    platform: Platform,
    owner: Account,
    data: bytes | None = None,
    visibility: Visibility = Visibility.PRIVATE,
) -> VideoId:
    video = platform.videos.upload(
        Caller(UserId(owner.user_id)),
        UploadVideo(
            title="A clip",
            source=io.BytesIO(synthetic_clip() if data is None else data),
            visibility=visibility,
        ),
    )
    return video.id


def failed(platform: Platform, owner: Account) -> VideoId:
    video = uploaded(platform, owner, b"\x00\x00\x00\x18ftypmp42 not really a video")
    assert platform.processing.process("job-1", video) is ProcessingOutcome.FAILED
    return video


def test_the_owner_follows_processing_until_ready(
    client: Client, platform: Platform, creator: Account
) -> None:
    video = uploaded(platform, creator)
    path = f"{VIDEOS}/{video}/progress"
    before = client.simulate_get(path, headers=creator.headers)
    assert before.status_code == 200
    assert before.json == {
        "id": video,
        "status": "uploaded",
        "progress": 0,
        "attempts": 0,
        "last_error": None,
        "failure_code": None,
        "reprocessing": False,
    }
    platform.processing.process("job-1", video)
    after = client.simulate_get(path, headers=creator.headers).json
    assert (after["status"], after["progress"], after["attempts"]) == ("ready", 100, 1)


def test_progress_of_a_video_one_may_not_see_is_404_like_a_missing_one(
    client: Client, platform: Platform, creator: Account, account: MakeAccount
) -> None:
    video = uploaded(platform, creator)
    other = account(Role.CREATOR)
    hidden = client.simulate_get(f"{VIDEOS}/{video}/progress", headers=other.headers)
    anonymous = client.simulate_get(f"{VIDEOS}/{video}/progress")
    missing = client.simulate_get(f"{VIDEOS}/{MISSING}/progress", headers=other.headers)
    assert hidden.status_code == anonymous.status_code == missing.status_code == 404
    assert problem_code(hidden) == problem_code(missing) == "not_found"
    assert hidden.json["detail"] == missing.json["detail"]


def test_a_failed_video_shows_why(client: Client, platform: Platform, creator: Account) -> None:
    video = failed(platform, creator)
    shown = client.simulate_get(f"{VIDEOS}/{video}/progress", headers=creator.headers).json
    assert (shown["status"], shown["last_error"], shown["attempts"]) == (
        "failed",
        "not a media file",
        1,
    )
    assert shown["failure_code"] == "not_media"


def test_a_moderator_retries_a_failed_video(
    client: Client,
    platform: Platform,
    creator: Account,
    moderator: Account,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    video = failed(platform, creator)
    result = client.simulate_post(f"{VIDEOS}/{video}/retry", headers=moderator.headers)
    assert result.status_code == 202
    assert result.json == {
        "id": video,
        "status": "uploaded",
        "progress": 0,
        "attempts": 0,
        "last_error": "not a media file",
        "failure_code": "not_media",
        "reprocessing": False,
    }
    with uow_factory() as uow:
        pending = uow.outbox.pending(100)
    queued = [(m.topic, m.payload["video_id"]) for m in pending if not is_event_topic(m.topic)]
    assert queued == [(PROCESS_VIDEO, video), (PROCESS_VIDEO, video)]  # upload, retry
    again = client.simulate_post(f"{VIDEOS}/{video}/retry", headers=moderator.headers)
    assert (again.status_code, problem_code(again)) == (409, "video_not_failed")


def test_only_moderators_retry_and_only_failed_videos(
    client: Client, platform: Platform, creator: Account, account: MakeAccount
) -> None:
    video = failed(platform, creator)
    path = f"{VIDEOS}/{video}/retry"
    owner = client.simulate_post(path, headers=creator.headers)
    assert (owner.status_code, problem_code(owner)) == (403, "permission_denied")
    stranger = client.simulate_post(path, headers=account(Role.CREATOR).headers)
    assert (stranger.status_code, problem_code(stranger)) == (404, "not_found")
    anonymous = client.simulate_post(path)
    assert (anonymous.status_code, problem_code(anonymous)) == (401, "authentication_failed")
    admin = account(Role.ADMIN)
    ready = uploaded(platform, creator)
    platform.processing.process("job-2", ready)
    refused = client.simulate_post(f"{VIDEOS}/{ready}/retry", headers=admin.headers)
    assert (refused.status_code, problem_code(refused)) == (409, "video_not_failed")
    missing = client.simulate_post(f"{VIDEOS}/{MISSING}/retry", headers=admin.headers)
    assert missing.status_code == 404
    assert client.simulate_post(path, headers=admin.headers).status_code == 202


def test_the_owner_chooses_the_poster_time(
    client: Client, platform: Platform, creator: Account
) -> None:
    video = uploaded(platform, creator)
    path = f"{VIDEOS}/{video}"
    assert client.simulate_get(path, headers=creator.headers).json["poster_at_seconds"] is None
    changed = client.simulate_patch(path, json={"poster_at_seconds": 12.5}, headers=creator.headers)
    assert (changed.status_code, changed.json["poster_at_seconds"]) == (200, 12.5)
    whole = client.simulate_patch(path, json={"poster_at_seconds": 3}, headers=creator.headers)
    assert whole.json["poster_at_seconds"] == 3.0
    untouched = client.simulate_patch(path, json={"title": "New"}, headers=creator.headers)
    assert untouched.json["poster_at_seconds"] == 3.0
    for bad in (-1, "soon", 10 * 24 * 3600):
        refused = client.simulate_patch(
            path, json={"poster_at_seconds": bad}, headers=creator.headers
        )
        assert (refused.status_code, problem_code(refused)) == (422, "validation_failed")


def test_processing_responses_match_the_published_document(
    client: Client,
    platform: Platform,
    creator: Account,
    moderator: Account,
    account: MakeAccount,
) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    video = failed(platform, creator)
    other = account(Role.CREATOR)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"{VIDEOS}/{video}/progress", {"headers": creator.headers}),
        ("GET", f"{VIDEOS}/{video}/progress", {"headers": other.headers}),
        ("POST", f"{VIDEOS}/{video}/retry", {}),
        ("POST", f"{VIDEOS}/{video}/retry", {"headers": creator.headers}),
        ("POST", f"{VIDEOS}/{video}/retry", {"headers": other.headers}),
        ("POST", f"{VIDEOS}/{video}/retry", {"headers": moderator.headers}),
        ("POST", f"{VIDEOS}/{video}/retry", {"headers": moderator.headers}),
        (
            "PATCH",
            f"{VIDEOS}/{video}",
            {"json": {"poster_at_seconds": 2.5}, "headers": creator.headers},
        ),
        (
            "PATCH",
            f"{VIDEOS}/{video}",
            {"json": {"poster_at_seconds": -2}, "headers": creator.headers},
        ),
    ]
    statuses = []
    for method, path, kwargs in calls:
        result = client.simulate_request(method, path, **kwargs)
        statuses.append(result.status_code)
        media = result.headers.get("content-type", "").split(";")[0]
        payload = result.json if media.endswith("json") else result.text
        docs.check(method, path, result.status_code, payload, media)
    assert statuses == [200, 404, 401, 403, 404, 202, 409, 200, 422]
