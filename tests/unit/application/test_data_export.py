"""An archive of one's data: asked for, prepared after the request commits, downloaded
once through its secret, complete, and nobody else's."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.unit.application.conftest import Studio, Trail, only_event
from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.shares import CreateShare
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import AuthenticationFailed, Conflict, NotFound
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.worker import settle_events


def downloaded(platform: Platform, export_id: str, secret: str) -> dict[str, Any]:
    got = platform.users.download_export(export_id, secret)
    data = b"".join(got.chunks)
    assert len(data) == got.size
    archive: dict[str, Any] = json.loads(data)
    return archive


def test_the_archive_holds_the_profile_videos_files_shares_and_activity(
    platform: Platform, studio: Studio, make_user: MakeUser, trail: Trail
) -> None:
    me, other = make_user(), make_user()
    video = studio.publish(me, title="Harbour at dawn", tags=["sea"])
    stored = platform.files.store(me, StoreFile(name="notes.txt", content=io.BytesIO(b"hi")))
    platform.shares.create(me, CreateShare(video_id=video.id))
    studio.publish(other, title="Not mine")

    ticket = platform.users.request_export(me)
    assert platform.users.export_state(me, ticket.export_id).state == "preparing"
    with pytest.raises(Conflict):  # not prepared before the handler runs
        platform.users.download_export(ticket.export_id, ticket.secret)
    settle_events(platform)
    assert platform.users.export_state(me, ticket.export_id).state == "ready"
    archive = downloaded(platform, ticket.export_id, ticket.secret)

    assert archive["profile"]["email"] == platform.users.me(me).email.value
    assert [v["title"] for v in archive["videos"]] == ["Harbour at dawn"]
    assert archive["videos"][0]["tags"] == ["sea"]
    assert [f["name"] for f in archive["files"]] == [stored.name]
    assert [s["shares"]["id"] for s in archive["shares"]] == [video.id]
    actions = {a["action"] for a in archive["activity"]}
    assert {"video.upload", "file.upload", "share.create", "user.export"} <= actions
    assert "Not mine" not in json.dumps(archive)
    assert platform.users.export_state(me, ticket.export_id).state == "downloaded"
    only_event(trail, AuditAction.USER_EXPORT_DOWNLOAD, AuditResult.SUCCESS)


def test_an_archive_is_downloaded_once_and_then_gone_from_storage(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    me = make_user()
    ticket = platform.users.request_export(me)
    settle_events(platform)
    downloaded(platform, ticket.export_id, ticket.secret)

    with pytest.raises(NotFound):
        platform.users.download_export(ticket.export_id, ticket.secret)
    kept = storage.keys()
    assert not [k for k in kept if k.startswith("exports/")]


def test_a_wrong_secret_or_someone_elses_archive_is_not_found(
    platform: Platform, make_user: MakeUser
) -> None:
    me, other = make_user(), make_user()
    ticket = platform.users.request_export(me)
    settle_events(platform)

    with pytest.raises(NotFound):
        platform.users.download_export(ticket.export_id, "a guess of a secret")
    with pytest.raises(NotFound):
        platform.users.export_state(other, ticket.export_id)
    with pytest.raises(AuthenticationFailed):
        platform.users.request_export(Caller.anonymous())


def test_an_archive_not_downloaded_expires(
    platform: Platform, make_user: MakeUser, clock: ManualClock
) -> None:
    me = make_user()
    ticket = platform.users.request_export(me)
    settle_events(platform)
    clock.advance(timedelta(days=7))

    assert platform.users.export_state(me, ticket.export_id).state == "expired"
    with pytest.raises(NotFound):
        platform.users.download_export(ticket.export_id, ticket.secret)


def test_archives_left_past_their_expiry_are_swept_from_storage(
    platform: Platform, make_user: MakeUser, clock: ManualClock, storage: MemoryObjectStorage
) -> None:
    me = make_user()
    old = platform.users.request_export(me)
    settle_events(platform)
    clock.advance(timedelta(days=6))
    fresh = platform.users.request_export(me)
    settle_events(platform)
    clock.advance(timedelta(days=1))

    assert platform.users.sweep_exports() == 1
    kept = storage.keys()
    left = [k for k in kept if k.startswith("exports/")]
    assert len(left) == 1 and fresh.export_id in left[0] and old.export_id not in left[0]
    assert platform.users.export_state(me, old.export_id).state == "downloaded"
    assert platform.users.sweep_exports() == 0
