"""GET /api/v1/search through the Falcon app: what it answers, and what it refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import falcon.testing
import pytest

from tests.unit.conftest import MP4_HEAD
from tests.unit.http.conftest import MakeAccount, problem_code
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.worker import settle_events

Client = falcon.testing.TestClient


def upload(client: Client, headers: dict[str, str], title: str, visibility: str) -> str:
    result = client.simulate_post(
        "/api/v1/videos",
        params={"title": title, "visibility": visibility},
        body=MP4_HEAD,
        headers={**headers, "Content-Type": "video/mp4"},
    )
    assert result.status_code == 201, result.text
    video_id: str = result.json["id"]
    return video_id


def search(client: Client, headers: dict[str, str] | None = None, /, **params: str) -> Any:
    return client.simulate_get("/api/v1/search", params=params, headers=headers or {})


def test_an_owner_finds_their_upload_by_a_misspelled_word(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    me = account()
    video_id = upload(client, me.headers, "Sunset over the harbour", "private")
    settle_events(platform)
    result = search(client, me.headers, q="harbor sunest")
    assert result.status_code == 200, result.text
    body = result.json
    assert [item["video"]["id"] for item in body["items"]] == [video_id]
    assert (body["total"], body["total_is_estimate"]) == (1, False)
    assert body["corrected_from"] == "harbor sunest"
    title = body["items"][0]["title"]
    assert [title["text"][a:b] for a, b in title["matches"]] == ["Sunset", "harbour"]
    # Nobody else finds a private video.
    assert search(client, account().headers, q="sunset").json["items"] == []
    assert search(client, q="sunset").json["total"] == 0


@pytest.mark.parametrize(
    "query",
    [
        'NEAR(sunset harbour) OR "',
        "sunset* AND title:harbour",
        "'; DROP TABLE videos; --",
        '"unbalanced quote',
        "100%_off\\",
    ],
)
def test_engine_syntax_is_plain_text(client: Client, query: str) -> None:
    result = search(client, q=query)
    assert result.status_code == 200, result.text
    assert result.json["items"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "!!! ---"}, "q"),
        ({"q": "%_\\"}, "q"),
        ({"q": "a" * 201}, "q"),
        ({"q": "cat", "sort": "loudest"}, "sort"),
        ({"q": "cat", "duration": "forever"}, "duration"),
        ({"q": "cat", "uploaded": "decade"}, "uploaded"),
        ({"q": "cat", "limit": "0"}, "limit"),
        ({"q": "cat", "cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_input_is_a_422_problem(client: Client, params: dict[str, str], field: str) -> None:
    result = search(client, **params)
    assert result.status_code == 422, result.text
    assert problem_code(result) == "validation_failed"
    assert field in result.text


def test_owner_me_needs_a_caller(client: Client) -> None:
    result = search(client, q="cat", owner="me")
    assert result.status_code == 401


def test_the_document_states_the_query_rules(client: Client) -> None:
    document = client.simulate_get("/api/v1/openapi.json").json
    operation = document["paths"]["/api/v1/search"]["get"]
    (q,) = [p for p in operation["parameters"] if p["name"] == "q"]
    assert q["required"] is True
    assert (q["schema"]["minLength"], q["schema"]["maxLength"]) == (1, 200)
    assert {"200", "401", "422"} <= set(operation["responses"])


def test_the_first_page_counts_facets_and_filters_narrow(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    me = account()
    for n in range(3):
        upload(client, me.headers, f"Harbour walk {n}", "private")
    settle_events(platform)
    first = search(client, me.headers, q="harbour", limit="2").json
    facets = first["facets"]
    assert [b["bucket"] for b in facets["uploaded"]] == ["hour", "day", "week", "month", "year"]
    assert [b["count"] for b in facets["uploaded"]] == [3, 3, 3, 3, 3]
    assert [b["bucket"] for b in facets["durations"]] == ["short", "medium", "long"]
    assert [b["count"] for b in facets["durations"]] == [0, 0, 0]  # none probed yet
    assert (facets["categories"], facets["tags"]) == ([], [])
    second = search(client, me.headers, q="harbour", cursor=first["next_cursor"]).json
    assert second["facets"] is None
    assert len(second["items"]) == 1
    assert search(client, me.headers, q="harbour", duration="short").json["total"] == 0
    assert search(client, me.headers, q="harbour", uploaded="hour").json["total"] == 3


def test_suggestions_complete_the_last_word_among_visible_videos(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    me = account()
    upload(client, me.headers, "Harbour walk at night", "private")
    settle_events(platform)
    mine = client.simulate_get(
        "/api/v1/search/suggest", params={"q": "harbour wa"}, headers=me.headers
    )
    assert mine.status_code == 200, mine.text
    assert mine.json == {"titles": ["Harbour walk at night"], "tags": [], "queries": []}
    theirs = client.simulate_get("/api/v1/search/suggest", params={"q": "harbour wa"})
    assert theirs.json == {"titles": [], "tags": [], "queries": []}
    refused = client.simulate_get("/api/v1/search/suggest", params={"q": "?!", "limit": "3"})
    assert refused.status_code == 422
    too_many = client.simulate_get("/api/v1/search/suggest", params={"q": "ha", "limit": "21"})
    assert too_many.status_code == 422


def test_searches_and_opened_results_reach_the_analytics_of_administrators(
    client: Client, platform: Platform, account: MakeAccount, clock: ManualClock
) -> None:
    me = account()
    video_id = upload(client, me.headers, "Harbour walk", "public")
    settle_events(platform)
    for query in ("Harbour", "harbour", "zeppelin"):
        assert search(client, me.headers, q=query).status_code == 200
    opened = client.simulate_post(
        "/api/v1/search/clicks", json={"query": "harbour", "video_id": video_id, "position": 1}
    )
    assert opened.status_code == 204, opened.text
    clock.advance(timedelta(seconds=1))  # the report's range ends (exclusive) at its now
    admin = account(Role.ADMIN)
    report = client.simulate_get("/api/v1/search/analytics", headers=admin.headers)
    assert report.status_code == 200, report.text
    top = {row["query"]: row for row in report.json["top"]}
    assert top["harbour"] == {
        "query": "harbour",
        "searches": 2,
        "zero_results": 0,
        "clicks": 1,
        "click_through": 0.5,
    }
    assert [row["query"] for row in report.json["zero"]] == ["zeppelin"]
    # Nothing about who searched: only the query as the engine read it.
    assert set(top["harbour"]) == {"query", "searches", "zero_results", "clicks", "click_through"}


def test_only_administrators_read_search_analytics(client: Client, account: MakeAccount) -> None:
    assert client.simulate_get("/api/v1/search/analytics").status_code == 401
    moderator = account(Role.MODERATOR)
    refused = client.simulate_get("/api/v1/search/analytics", headers=moderator.headers)
    assert refused.status_code == 403
    admin = account(Role.ADMIN)
    backwards = client.simulate_get(
        "/api/v1/search/analytics",
        params={"since": "2026-12-06T00:00:00Z", "until": "2026-12-05T00:00:00Z"},
        headers=admin.headers,
    )
    assert backwards.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"query": "", "video_id": "v", "position": 1},
        {"query": "harbour", "video_id": "v", "position": 0},
        {"query": "!!", "video_id": "v", "position": 1},
        {"query": "harbour", "position": 1},
        {"query": "harbour", "video_id": "v" * 65, "position": 1},
        {"query": "harbour", "video_id": "", "position": 1},
    ],
)
def test_a_bad_click_is_a_422(client: Client, body: dict[str, object]) -> None:
    assert client.simulate_post("/api/v1/search/clicks", json=body).status_code == 422
