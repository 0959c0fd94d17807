"""Reprocessing over HTTP: the owner or a moderator has a ready video processed again;
players keep the old renditions until the new ones replace them, then need new URLs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import falcon.testing

from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from tests.unit.http.test_processing import MISSING, VIDEOS, uploaded
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.domain.ids import VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform

Client = falcon.testing.TestClient


def ready(platform: Platform, owner: Account) -> VideoId:
    video = uploaded(platform, owner, visibility=Visibility.PUBLIC)
    assert platform.processing.process("job-1", video) is ProcessingOutcome.READY
    return video


def master_url(client: Client, video: VideoId, who: Account) -> str:
    issued = client.simulate_get(f"{VIDEOS}/{video}/playback", headers=who.headers)
    assert issued.status_code == 200, issued.text
    url: str = issued.json["master_url"]
    return urlsplit(url).path


def test_the_owner_reprocesses_and_players_move_over_only_when_it_is_done(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    owner = account(Role.CREATOR)
    video = ready(platform, owner)
    old = master_url(client, video, owner)
    asked = client.simulate_post(f"{VIDEOS}/{video}/reprocess", headers=owner.headers)
    assert asked.status_code == 202
    assert asked.json == {
        "id": video,
        "status": "ready",
        "progress": 0,
        "attempts": 0,
        "last_error": None,
        "failure_code": None,
        "reprocessing": True,
    }
    shown = client.simulate_get(f"{VIDEOS}/{video}", headers=owner.headers).json
    assert (shown["status"], shown["reprocessing"], shown["kind"]) == ("ready", True, "video")
    # Waiting for its new renditions, the video plays the old ones, old URLs and new.
    assert client.simulate_get(old).status_code == 200
    assert client.simulate_get(master_url(client, video, owner)).status_code == 200

    assert platform.processing.process("job-2", video) is ProcessingOutcome.READY
    stale = client.simulate_get(old)
    assert (stale.status_code, problem_code(stale)) == (403, "playback_stale")
    fresh = client.simulate_get(master_url(client, video, owner))
    assert fresh.status_code == 200 and fresh.text.startswith("#EXTM3U")
    after = client.simulate_get(f"{VIDEOS}/{video}", headers=owner.headers).json
    assert (after["status"], after["reprocessing"], after["progress"]) == ("ready", False, 100)


def test_who_may_reprocess_and_what_is_refused(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    owner, viewer, moderator = account(Role.CREATOR), account(Role.CREATOR), account(Role.MODERATOR)
    video = ready(platform, owner)
    path = f"{VIDEOS}/{video}/reprocess"
    anonymous = client.simulate_post(path)
    assert (anonymous.status_code, problem_code(anonymous)) == (401, "authentication_failed")
    other = client.simulate_post(path, headers=viewer.headers)
    assert (other.status_code, problem_code(other)) == (403, "permission_denied")
    missing = client.simulate_post(f"{VIDEOS}/{MISSING}/reprocess", headers=viewer.headers)
    assert (missing.status_code, problem_code(missing)) == (404, "not_found")
    private = uploaded(platform, owner)
    platform.processing.process("job-p", private)
    hidden = client.simulate_post(f"{VIDEOS}/{private}/reprocess", headers=viewer.headers)
    assert (hidden.status_code, problem_code(hidden)) == (404, "not_found")
    assert hidden.json["detail"] == missing.json["detail"]
    assert client.simulate_post(path, headers=moderator.headers).status_code == 202
    twice = client.simulate_post(path, headers=owner.headers)
    assert (twice.status_code, problem_code(twice)) == (409, "already_reprocessing")
    waiting = uploaded(platform, owner)
    early = client.simulate_post(f"{VIDEOS}/{waiting}/reprocess", headers=owner.headers)
    assert (early.status_code, problem_code(early)) == (409, "video_not_ready")


def test_reprocess_responses_match_the_published_document(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    owner, viewer = account(Role.CREATOR), account(Role.CREATOR)
    video = ready(platform, owner)
    path = f"{VIDEOS}/{video}/reprocess"
    calls: list[dict[str, Any]] = [{}, {"headers": viewer.headers}, {"headers": owner.headers}]
    calls += [{"headers": owner.headers}]
    statuses = []
    for kwargs in calls:
        result = client.simulate_post(path, **kwargs)
        statuses.append(result.status_code)
        media = result.headers["content-type"].split(";")[0]
        docs.check("POST", path, result.status_code, result.json, media)
    assert statuses == [401, 403, 202, 409]
    missing = client.simulate_post(f"{VIDEOS}/{MISSING}/reprocess", headers=owner.headers)
    problem = "application/problem+json"
    docs.check("POST", f"{VIDEOS}/{MISSING}/reprocess", 404, missing.json, problem)
