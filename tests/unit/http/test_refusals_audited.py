"""Refused reads reach the audit trail like every other refusal: asking for playback of
someone else's private video, reading someone else's share. The caller still learns no
more than from a missing id."""

from __future__ import annotations

import falcon.testing

from tests.unit.application.conftest import Studio
from tests.unit.http.conftest import MakeAccount, problem_code
from tests.unit.http.test_shares import a_video, caller, share, studio  # noqa: F401
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform

Client = falcon.testing.TestClient
MISSING = "01NOSUCHTHING0000000000000"


def denied(platform: Platform, admin_caller: object, action: AuditAction) -> list[str]:
    events = platform.audit.search(
        admin_caller,  # type: ignore[arg-type]
        AuditFilter(action=action, result=AuditResult.DENIED),
    ).items
    return [e.resource_id or "" for e in events]


def test_refused_playback_is_audited_and_looks_missing(
    client: Client,
    platform: Platform,
    account: MakeAccount,
    studio: Studio,  # noqa: F811
) -> None:
    owner, stranger, admin = account(Role.CREATOR), account(Role.CREATOR), account(Role.ADMIN)
    video = a_video(studio, owner)  # private
    hidden = client.simulate_get(f"/api/v1/videos/{video}/playback", headers=stranger.headers)
    missing = client.simulate_get(f"/api/v1/videos/{MISSING}/playback", headers=stranger.headers)
    assert (hidden.status_code, problem_code(hidden)) == (missing.status_code, "not_found")
    assert hidden.json["detail"] == missing.json["detail"]
    # Hidden and missing are recorded alike (newest first).
    assert denied(platform, caller(admin), AuditAction.VIDEO_READ) == [MISSING, video]


def test_reading_someone_elses_share_is_audited_and_looks_missing(
    client: Client,
    platform: Platform,
    account: MakeAccount,
    studio: Studio,  # noqa: F811
) -> None:
    owner, stranger, admin = account(Role.CREATOR), account(Role.CREATOR), account(Role.ADMIN)
    created = share(client, owner, video_id=a_video(studio, owner))
    assert created.status_code == 201, created.text
    share_id = created.json["share"]["id"]
    hidden = client.simulate_get(f"/api/v1/shares/{share_id}", headers=stranger.headers)
    missing = client.simulate_get(f"/api/v1/shares/{MISSING}", headers=stranger.headers)
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json["detail"] == missing.json["detail"]
    assert denied(platform, caller(admin), AuditAction.SHARE_READ) == [MISSING, share_id]
    assert (
        client.simulate_get(f"/api/v1/shares/{share_id}", headers=owner.headers).status_code == 200
    )
    assert (
        client.simulate_get(f"/api/v1/shares/{share_id}", headers=admin.headers).status_code == 200
    )
