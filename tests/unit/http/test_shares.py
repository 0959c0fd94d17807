"""Share links over HTTP: create, list, inspect, revoke, and the public redeem and
download endpoints that take the token in the body."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import falcon.testing
import pytest

from tests.unit.application.conftest import Studio
from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.domain.credentials import digest_token
from videoplatform.domain.ids import FileId, UserId, VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.app import HttpOptions

SHARES = "/api/v1/shares"
REDEEM = "/api/v1/public/shares/redeem"
DOWNLOAD = "/api/v1/public/shares/download"
MISSING = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
CONTENT = b"quarterly numbers, v3\n" * 100


@pytest.fixture
def studio(platform: Platform, uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock) -> Studio:
    return Studio(platform, uow_factory, clock)


def caller(who: Account) -> Caller:
    return Caller(UserId(who.user_id))


def a_video(studio: Studio, owner: Account, visibility: Visibility = Visibility.PRIVATE) -> VideoId:
    return studio.upload(caller(owner), visibility=visibility).id


def a_file(
    platform: Platform,
    owner: Account,
    name: str = "report.txt",
    content_type: str = "text/plain",
) -> FileId:
    command = StoreFile(name=name, content=io.BytesIO(CONTENT), content_type=content_type)
    return platform.files.store(caller(owner), command).id


def share(client: falcon.testing.TestClient, owner: Account, **body: Any) -> falcon.testing.Result:
    result = client.simulate_post(SHARES, json=body, headers=owner.headers)
    assert result.status_code == 201, result.text
    return result


def stored_secrets(uow_factory: MemoryUnitOfWorkFactory, share_id: str) -> list[str]:
    with uow_factory() as uow:
        stored = uow.shares.get(share_id)  # type: ignore[arg-type]
    return [stored.token_hash, *([stored.password_hash] if stored.password_hash else [])]


# -- create ------------------------------------------------------------------------------


def test_owner_shares_a_private_video_and_sees_the_token_once(
    client: falcon.testing.TestClient, account: MakeAccount, studio: Studio, clock: ManualClock
) -> None:
    owner = account()
    video_id = a_video(studio, owner)

    result = client.simulate_post(
        SHARES,
        json={"video_id": video_id, "expires_in_seconds": 3600, "password": "pw", "max_uses": 3},
        headers=owner.headers,
    )

    assert result.status_code == 201, result.text
    body = result.json
    token = body["token"]
    assert len(token) >= 22
    assert body["url"] == f"/s#{token}"
    view = body["share"]
    assert result.headers["location"] == f"{SHARES}/{view['id']}"
    assert result.headers["cache-control"] == "no-store"
    assert (view["target_type"], view["target_id"]) == ("video", video_id)
    assert view["password_protected"] is True
    assert (view["max_uses"], view["use_count"], view["revoked_at"]) == (3, 0, None)
    assert view["expires_at"] == (clock.now() + timedelta(hours=1)).isoformat()
    assert "hash" not in result.text and digest_token(token) not in result.text


@pytest.mark.parametrize("http_options", [HttpOptions(public_url="https://videos.example/")])
def test_the_link_is_absolute_under_the_public_url(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner = account()

    body = share(client, owner, file_id=a_file(platform, owner)).json

    assert body["url"] == f"https://videos.example/s#{body['token']}"
    assert body["share"]["target_type"] == "file"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"video_id", "file_id"}),
        ({"video_id": "v", "file_id": "f"}, {"video_id", "file_id"}),
        ({"file_id": "<own>", "expires_in_seconds": 0}, {"expires_in_seconds"}),
        ({"file_id": "<own>", "expires_in_seconds": 10**12}, {"expires_in_seconds"}),
        ({"file_id": "<own>", "expires_in_seconds": "3600"}, {"expires_in_seconds"}),
        ({"file_id": "<own>", "password": ""}, {"password"}),
        ({"file_id": "<own>", "max_uses": 0}, {"max_uses"}),
        ({"file_id": "<own>", "token": "mine"}, {"token"}),
    ],
)
def test_invalid_share_requests_are_unprocessable(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    platform: Platform,
    body: dict[str, Any],
    fields: set[str],
) -> None:
    owner = account()
    if body.get("file_id") == "<own>":
        body = {**body, "file_id": a_file(platform, owner)}

    result = client.simulate_post(SHARES, json=body, headers=owner.headers)

    assert result.status_code == 422, result.text
    assert {e["field"] for e in result.json["errors"]} == fields


def test_sharing_needs_a_token(client: falcon.testing.TestClient, studio: Studio) -> None:
    result = client.simulate_post(SHARES, json={"video_id": MISSING})

    assert result.status_code == 401
    assert problem_code(result) == "authentication_failed"


def test_viewers_may_not_share(client: falcon.testing.TestClient, account: MakeAccount) -> None:
    result = client.simulate_post(
        SHARES, json={"video_id": MISSING}, headers=account(Role.VIEWER).headers
    )

    assert result.status_code == 403
    assert problem_code(result) == "permission_denied"


def test_another_users_private_video_or_file_is_not_found_when_sharing(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform, studio: Studio
) -> None:
    owner, stranger = account(), account()
    private_video = a_video(studio, owner, Visibility.PRIVATE)
    their_file = a_file(platform, owner)

    for body in ({"video_id": private_video}, {"file_id": their_file}, {"video_id": MISSING}):
        result = client.simulate_post(SHARES, json=body, headers=stranger.headers)
        assert result.status_code == 404, body
        assert problem_code(result) == "not_found"


def test_another_users_visible_video_is_forbidden_to_share(
    client: falcon.testing.TestClient, account: MakeAccount, studio: Studio
) -> None:
    owner, stranger = account(), account()
    video = studio.publish(caller(owner), visibility=Visibility.PUBLIC)

    result = client.simulate_post(SHARES, json={"video_id": video.id}, headers=stranger.headers)

    assert result.status_code == 403
    assert problem_code(result) == "permission_denied"


# -- list, inspect, revoke ---------------------------------------------------------------


def test_listing_shows_only_my_shares_newest_first_without_secrets(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    platform: Platform,
    clock: ManualClock,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    owner, other = account(), account()
    file_id = a_file(platform, owner)
    made = []
    for n in range(3):
        made.append(share(client, owner, file_id=file_id, password=f"secret-{n}").json)
        clock.advance(timedelta(seconds=1))
    share(client, other, file_id=a_file(platform, other))

    listed: list[dict[str, Any]] = []
    texts: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        result = client.simulate_get(SHARES, params=params, headers=owner.headers)
        assert result.status_code == 200, result.text
        texts.append(result.text)
        listed += result.json["items"]
        cursor = result.json["next_cursor"]
        if cursor is None:
            break

    assert [s["id"] for s in listed] == [m["share"]["id"] for m in reversed(made)]
    raw = "".join(texts)
    for created in made:
        assert created["token"] not in raw
        for secret in stored_secrets(uow_factory, created["share"]["id"]):
            assert secret not in raw
    assert "secret-" not in raw and "hash" not in raw


def test_listing_needs_a_token_and_a_sane_cursor(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    assert client.simulate_get(SHARES).status_code == 401
    result = client.simulate_get(SHARES, params={"cursor": "nope"}, headers=account().headers)
    assert result.status_code == 422


def test_owner_inspects_a_share_and_others_do_not_find_it(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner, stranger, admin = account(), account(), account(Role.ADMIN)
    share_id = share(client, owner, file_id=a_file(platform, owner)).json["share"]["id"]

    mine = client.simulate_get(f"{SHARES}/{share_id}", headers=owner.headers)
    hidden = client.simulate_get(f"{SHARES}/{share_id}", headers=stranger.headers)

    assert mine.status_code == 200
    assert mine.json["id"] == share_id
    assert hidden.status_code == 404
    assert client.simulate_get(f"{SHARES}/{share_id}", headers=admin.headers).status_code == 200
    assert client.simulate_get(f"{SHARES}/{share_id}").status_code == 401


def test_owner_revokes_and_the_link_is_gone(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner = account()
    created = share(client, owner, file_id=a_file(platform, owner)).json

    result = client.simulate_delete(f"{SHARES}/{created['share']['id']}", headers=owner.headers)
    again = client.simulate_delete(f"{SHARES}/{created['share']['id']}", headers=owner.headers)

    assert result.status_code == again.status_code == 204
    assert result.text == ""
    refused = client.simulate_post(REDEEM, json={"token": created["token"]})
    assert refused.status_code == 410
    assert problem_code(refused) == "share_revoked"


def test_others_cannot_revoke_a_share(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner, stranger = account(), account()
    created = share(client, owner, file_id=a_file(platform, owner)).json
    path = f"{SHARES}/{created['share']['id']}"

    assert client.simulate_delete(path, headers=stranger.headers).status_code == 404
    assert client.simulate_delete(f"{SHARES}/{MISSING}", headers=owner.headers).status_code == 404
    assert client.simulate_delete(path).status_code == 401
    assert client.simulate_post(REDEEM, json={"token": created["token"]}).status_code == 200


# -- redeem ------------------------------------------------------------------------------


def test_anyone_redeems_a_video_link_without_seeing_secrets(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    studio: Studio,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    owner = account()
    video_id = a_video(studio, owner, Visibility.PRIVATE)
    created = share(client, owner, video_id=video_id, password="open sesame").json

    result = client.simulate_post(
        REDEEM, json={"token": created["token"], "password": "open sesame"}
    )

    assert result.status_code == 200, result.text
    assert result.json["target_type"] == "video"
    assert result.json["video"]["id"] == video_id
    assert result.json["file"] is None
    assert result.headers["cache-control"] == "no-store"
    for secret in stored_secrets(uow_factory, created["share"]["id"]):
        assert secret not in result.text
    assert created["token"] not in result.text
    assert "open sesame" not in result.text and "hash" not in result.text
    listed = client.simulate_get(f"{SHARES}/{created['share']['id']}", headers=owner.headers)
    assert listed.json["use_count"] == 1


def test_a_file_link_redeems_to_the_files_metadata(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner, visitor = account(), account(Role.VIEWER)
    file_id = a_file(platform, owner)
    token = share(client, owner, file_id=file_id).json["token"]

    result = client.simulate_post(REDEEM, json={"token": token}, headers=visitor.headers)

    assert result.status_code == 200
    assert result.json["target_type"] == "file"
    assert result.json["video"] is None
    assert (result.json["file"]["id"], result.json["file"]["size"]) == (file_id, len(CONTENT))
    assert "storage_key" not in result.json["file"]


def test_password_missing_or_wrong_is_unauthorized(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner = account()
    token = share(client, owner, file_id=a_file(platform, owner), password="right").json["token"]

    missing = client.simulate_post(REDEEM, json={"token": token})
    wrong = client.simulate_post(REDEEM, json={"token": token, "password": "wrong"})

    assert missing.status_code == wrong.status_code == 401
    assert problem_code(missing) == "share_password_required"
    assert problem_code(wrong) == "share_password_wrong"
    assert (
        client.simulate_post(REDEEM, json={"token": token, "password": "right"}).status_code == 200
    )


def test_expired_and_exhausted_links_are_gone(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform, clock: ManualClock
) -> None:
    owner = account()
    file_id = a_file(platform, owner)
    expiring = share(client, owner, file_id=file_id, expires_in_seconds=60).json["token"]
    once = share(client, owner, file_id=file_id, max_uses=1).json["token"]

    assert client.simulate_post(REDEEM, json={"token": once}).status_code == 200
    exhausted = client.simulate_post(REDEEM, json={"token": once})
    clock.advance(timedelta(seconds=60))
    expired = client.simulate_post(REDEEM, json={"token": expiring})

    assert exhausted.status_code == expired.status_code == 410
    assert problem_code(exhausted) == "share_exhausted"
    assert problem_code(expired) == "share_expired"


def test_links_of_a_disabled_owner_stop_working(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner, admin = account(), account(Role.ADMIN)
    token = share(client, owner, file_id=a_file(platform, owner)).json["token"]

    disabled = client.simulate_post(f"/api/v1/users/{owner.user_id}/disable", headers=admin.headers)
    result = client.simulate_post(REDEEM, json={"token": token})

    assert disabled.status_code == 200
    assert result.status_code == 410


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"token": "never-issued"}, 404),
        ({"token": ""}, 422),
        ({"token": "x" * 513}, 422),
        ({}, 422),
        ({"token": 12345}, 422),
    ],
)
def test_unknown_or_malformed_tokens_are_refused(
    client: falcon.testing.TestClient, body: dict[str, Any], status: int
) -> None:
    for path in (REDEEM, DOWNLOAD):
        result = client.simulate_post(path, json=body)
        assert result.status_code == status, (path, result.text)


def test_the_token_never_travels_in_a_url_path(client: falcon.testing.TestClient) -> None:
    document = client.simulate_get("/api/v1/openapi.json").json
    for path in ("/api/v1/public/shares/redeem", "/api/v1/public/shares/download"):
        operation = document["paths"][path]["post"]
        assert [p for p in operation["parameters"] if p["in"] != "header"] == []
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/RedeemBody"}
    assert document["components"]["schemas"]["RedeemBody"]["required"] == ["token"]


# -- download ----------------------------------------------------------------------------


def test_a_file_link_downloads_the_file_as_an_attachment(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner = account()
    file_id = a_file(platform, owner, name='résumé 2026 "final".txt')
    created = share(client, owner, file_id=file_id, password="pw").json

    result = client.simulate_post(DOWNLOAD, json={"token": created["token"], "password": "pw"})

    assert result.status_code == 200, result.text
    assert result.content == CONTENT
    assert result.headers["content-length"] == str(len(CONTENT))
    assert result.headers["content-type"] == "text/plain"
    assert result.headers["x-content-type-options"] == "nosniff"
    assert result.headers["cache-control"] == "no-store"
    assert "sandbox" in result.headers["content-security-policy"]
    assert result.headers["content-disposition"] == (
        'attachment; filename="resume 2026 _final_.txt"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%202026%20%22final%22.txt"
    )
    details = client.simulate_get(f"{SHARES}/{created['share']['id']}", headers=owner.headers)
    assert details.json["use_count"] == 1


def test_a_download_is_refused_like_a_redeem(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner = account()
    token = share(client, owner, file_id=a_file(platform, owner), password="pw", max_uses=1).json[
        "token"
    ]

    missing = client.simulate_post(DOWNLOAD, json={"token": token})
    wrong = client.simulate_post(DOWNLOAD, json={"token": token, "password": "nope"})
    used = client.simulate_post(DOWNLOAD, json={"token": token, "password": "pw"})
    gone = client.simulate_post(DOWNLOAD, json={"token": token, "password": "pw"})

    assert (missing.status_code, problem_code(missing)) == (401, "share_password_required")
    assert (wrong.status_code, problem_code(wrong)) == (401, "share_password_wrong")
    assert used.status_code == 200
    assert (gone.status_code, problem_code(gone)) == (410, "share_exhausted")


def test_a_video_link_cannot_be_downloaded_and_costs_no_use(
    client: falcon.testing.TestClient, account: MakeAccount, studio: Studio
) -> None:
    owner = account()
    created = share(client, owner, video_id=a_video(studio, owner), max_uses=1).json

    result = client.simulate_post(DOWNLOAD, json={"token": created["token"]})

    assert result.status_code == 409
    assert problem_code(result) == "share_not_downloadable"
    details = client.simulate_get(f"{SHARES}/{created['share']['id']}", headers=owner.headers)
    assert details.json["use_count"] == 0
    assert client.simulate_post(REDEEM, json={"token": created["token"]}).status_code == 200


def test_every_reply_matches_the_published_document(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform, studio: Studio
) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    owner, stranger = account(), account()
    file_id, video_id = a_file(platform, owner), a_video(studio, owner)
    created = share(client, owner, file_id=file_id, password="pw", max_uses=1).json
    video_token = share(client, owner, video_id=video_id).json["token"]
    token, item = created["token"], f"{SHARES}/{created['share']['id']}"
    mine, theirs = {"headers": owner.headers}, {"headers": stranger.headers}
    calls: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", SHARES, {**mine, "json": {"video_id": video_id}}, 201),
        ("POST", SHARES, {**mine, "json": {}}, 422),
        ("POST", SHARES, {**theirs, "json": {"file_id": file_id}}, 404),
        ("POST", SHARES, {"json": {"file_id": file_id}}, 401),
        ("POST", SHARES, {"headers": account(Role.VIEWER).headers, "json": {"file_id": "x"}}, 403),
        ("GET", SHARES, mine, 200),
        ("GET", item, mine, 200),
        ("GET", item, theirs, 404),
        ("POST", REDEEM, {"json": {"token": token}}, 401),
        ("POST", REDEEM, {"json": {"token": "unknown"}}, 404),
        ("POST", REDEEM, {"json": {"token": video_token}}, 200),
        ("POST", DOWNLOAD, {"json": {"token": video_token}}, 409),
        ("POST", DOWNLOAD, {"json": {"token": token, "password": "pw"}}, 200),
        ("POST", REDEEM, {"json": {"token": token, "password": "pw"}}, 410),
        ("DELETE", item, theirs, 404),
        ("DELETE", item, mine, 204),
    ]
    for method, path, kwargs, expected in calls:
        result = client.simulate_request(method, path, **kwargs)
        assert result.status_code == expected, (method, path, result.text)
        media = result.headers.get("content-type", "").split(";")[0]
        if path == DOWNLOAD and expected == 200:
            # Bytes in the file's own media type, documented as such.
            reply = docs.document["paths"][DOWNLOAD]["post"]["responses"]["200"]
            assert list(reply["content"]) == ["*/*"]
            assert {"Content-Disposition", "Content-Length"} <= set(reply["headers"])
            continue
        docs.check(method, path, result.status_code, result.json if result.text else "", media)


def test_guessing_a_link_password_is_throttled_and_challenged(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner = account()
    token = share(client, owner, file_id=a_file(platform, owner), password="right").json["token"]

    wrong = [
        client.simulate_post(REDEEM, json={"token": token, "password": f"guess {n}"})
        for n in range(6)
    ]

    assert [r.status_code for r in wrong] == [401] * 5 + [429]
    assert wrong[0].headers["www-authenticate"].startswith("SharePassword")
    late = client.simulate_post(REDEEM, json={"token": token, "password": "right"})
    assert late.status_code == 429
    assert int(late.headers["retry-after"]) > 0


def test_a_file_link_shows_its_recipient_nothing_of_the_owner_s_layout(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    owner = account()
    token = share(client, owner, file_id=a_file(platform, owner)).json["token"]

    opened = client.simulate_post(REDEEM, json={"token": token}).json["file"]

    assert set(opened) == {"id", "name", "size", "content_type", "created_at"}
