"""Every use case an HTTP flow runs passes the dispatch point, where a middleware sees it."""

from __future__ import annotations

from typing import Any

import falcon.testing

from tests.unit.conftest import PASSWORD
from videoplatform.application.dispatch import Message, Proceed, UseCaseCall
from videoplatform.entrypoints.bootstrap import Platform

CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(1024)


def test_a_middleware_sees_every_use_case_of_register_upload_share_redeem_delete(
    platform: Platform, client: falcon.testing.TestClient
) -> None:
    seen: list[UseCaseCall] = []

    def record(message: Message, proceed: Proceed) -> Any:
        if isinstance(message, UseCaseCall):
            seen.append(message)
        return proceed()

    platform.dispatcher.use(record)

    registered = client.simulate_post(
        "/api/v1/auth/register",
        json={"email": "dee@example.com", "password": PASSWORD, "display_name": "Dee"},
    )
    login = client.simulate_post(
        "/api/v1/auth/session", json={"email": "dee@example.com", "password": PASSWORD}
    )
    auth = {"Authorization": f"Bearer {login.json['token']}"}
    video = client.simulate_post(
        "/api/v1/videos",
        body=CLIP,
        params={"title": "Dispatched"},
        headers={"Content-Type": "video/mp4", **auth},
    )
    share = client.simulate_post(
        "/api/v1/shares", json={"video_id": video.json["id"]}, headers=auth
    )
    redeemed = client.simulate_post(
        "/api/v1/public/shares/redeem", json={"token": share.json["token"]}
    )
    deleted = client.simulate_delete(f"/api/v1/videos/{video.json['id']}", headers=auth)

    statuses = [r.status_code for r in (registered, login, video, share, redeemed, deleted)]
    assert statuses == [202, 201, 201, 201, 200, 204]
    top_level = [call.name for call in seen if call.parent is None]
    assert top_level == [
        "users.register_quietly",
        "users.login",
        "users.authenticate_user",  # each bearer request: who is calling
        "videos.upload",
        "users.authenticate_user",
        "shares.create",
        "shares.redeem",  # anonymous: the token is the grant
        "users.authenticate_user",
        "videos.delete",
    ]
    acting = {call.name: call.caller for call in seen if call.caller is not None}
    owner = platform.users.authenticate(login.json["token"]).user_id
    for name in ("videos.upload", "shares.create", "videos.delete"):
        caller = acting[name]
        assert caller is not None
        assert caller.user_id == owner
    assert acting["shares.redeem"].user_id is None
