"""Disabling an account hides everything it owns, at once and everywhere, over real HTTP
(the ``serve`` command, gunicorn, SQLite); enabling it brings everything back.

Checked for an anonymous viewer, another signed-in user and a moderator: the public list
and the owner's channel, the video itself (also as served from the read cache), new
playback URLs and ones issued before, a share link to a video and a download link to a
file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import urljoin

import httpx
import pytest

from tests.integration.served import Served
from tests.unit.conftest import MP4_HEAD
from tests.unit.http.test_playback import SEGMENT_0, publish_outputs
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import Settings

API = "/api/v1"
PASSWORD = "long passphrase!"
CHEAP = {
    "VIDEOPLATFORM_ARGON2_TIME_COST": "1",
    "VIDEOPLATFORM_ARGON2_MEMORY_KIB": "1024",
    "VIDEOPLATFORM_ARGON2_PARALLELISM": "1",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # No processing in the server: the test publishes the outputs itself.
    running = Served(
        tmp_path_factory.mktemp("disabled-owner"),
        env={"VIDEOPLATFORM_PROCESSING_THREADS": "0", "VIDEOPLATFORM_READ_CACHE_SECONDS": "60"},
    )
    yield running
    running.stop()


@pytest.fixture
def platform(served: Served) -> Iterator[Platform]:
    """The server's data directory, opened by this process to set the scene."""
    environ = {**CHEAP, "VIDEOPLATFORM_DATA_DIR": str(served.folder / "data")}
    with create_platform(Settings.from_env(environ)) as opened:
        yield opened


def login(http: httpx.Client, email: str) -> dict[str, str]:
    reply = http.post(f"{API}/auth/session", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 201, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def listed(
    http: httpx.Client, video_id: str, headers: dict[str, str] | None = None, **params: str
) -> bool:
    reply = http.get(f"{API}/videos", params={"limit": "100", **params}, headers=headers)
    assert reply.status_code == 200, reply.text
    return video_id in {item["id"] for item in reply.json()["items"]}


def test_disabling_an_owner_hides_their_content_everywhere_and_enabling_restores_it(
    served: Served, platform: Platform
) -> None:
    owner = platform.users.register(RegisterUser("owner@example.com", PASSWORD, "Owner"))
    platform.users.register(RegisterUser("viewer@example.com", PASSWORD, "Viewer"))
    moderator = platform.users.register(RegisterUser("mod@example.com", PASSWORD, "Mod"))
    admin = platform.users.create_admin(RegisterUser("admin@example.com", PASSWORD, "Admin"))
    platform.users.change_roles(Caller(admin.id), moderator.id, [Role.MODERATOR.value])
    video = platform.videos.upload(
        Caller(owner.id),
        UploadVideo("Public clip", io.BytesIO(MP4_HEAD + b"source"), visibility=Visibility.PUBLIC),
    )
    publish_outputs(
        platform.container.resolve(UnitOfWorkFactory),
        platform.container.resolve(Clock),
        platform.container.resolve(ObjectStorage),
        video.id,
        f"videos/{video.id}/hls-1/",
    )
    stored = platform.files.store(
        Caller(owner.id), StoreFile("notes.txt", io.BytesIO(b"field notes"))
    )

    with httpx.Client(base_url=served.url, timeout=10) as http:
        owner_auth = login(http, "owner@example.com")
        viewer_auth = login(http, "viewer@example.com")
        moderator_auth = login(http, "mod@example.com")
        admin_auth = login(http, "admin@example.com")
        share = http.post(f"{API}/shares", json={"video_id": video.id}, headers=owner_auth)
        link = http.post(f"{API}/shares", json={"file_id": stored.id}, headers=owner_auth)
        assert (share.status_code, link.status_code) == (201, 201)
        issued = http.get(f"{API}/videos/{video.id}/playback")
        assert issued.status_code == 200, issued.text
        master_url = urljoin(served.url, issued.json()["master_url"])
        segment_url = urljoin(master_url, "360p/segment_00000.ts")

        def everything_visible() -> list[object]:
            """What each kind of caller gets, as comparable values."""
            anonymous_read = http.get(f"{API}/videos/{video.id}")
            return [
                listed(http, video.id),
                listed(http, video.id, owner=owner.id),
                anonymous_read.status_code,
                http.get(f"{API}/videos/{video.id}", headers=viewer_auth).status_code,
                http.get(f"{API}/videos/{video.id}/playback").status_code,
                http.get(segment_url).status_code,
                http.post(
                    f"{API}/public/shares/redeem", json={"token": share.json()["token"]}
                ).status_code,
                http.post(
                    f"{API}/public/shares/download", json={"token": link.json()["token"]}
                ).status_code,
            ]

        before = everything_visible()
        assert before == [True, True, 200, 200, 200, 200, 200, 200]
        assert http.get(segment_url).content == SEGMENT_0

        disabled = http.post(f"{API}/users/{owner.id}/disable", headers=admin_auth)
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["status"] == "disabled"

        hidden = everything_visible()
        assert hidden == [False, False, 404, 404, 404, 403, 410, 410]

        # A hidden video answers exactly like one that never existed.
        def problem(path: str) -> dict[str, object]:
            body: dict[str, object] = http.get(path).json()
            return {k: v for k, v in body.items() if k not in ("request_id", "instance")}

        missing = problem(f"{API}/videos/01JZZZZZZZZZZZZZZZZZZZZZZZ")
        assert problem(f"{API}/videos/{video.id}") == missing
        # Moderators still see it, to look into why the account was disabled.
        seen = http.get(f"{API}/videos/{video.id}", headers=moderator_auth)
        assert seen.status_code == 200
        assert listed(http, video.id, headers=moderator_auth)
        # The owner's old session is gone.
        assert http.get(f"{API}/auth/me", headers=owner_auth).status_code == 401

        enabled = http.post(f"{API}/users/{owner.id}/enable", headers=admin_auth)
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["status"] == "active"
        assert everything_visible() == before
        assert http.get(segment_url).content == SEGMENT_0
        assert (
            http.get(f"{API}/auth/me", headers=login(http, "owner@example.com")).status_code == 200
        )

        again = http.post(f"{API}/users/{owner.id}/enable", headers=admin_auth)
        assert again.status_code == 409
        assert again.json()["code"] == "invalid_transition"
        refused = http.post(f"{API}/users/{owner.id}/enable", headers=viewer_auth)
        assert refused.status_code == 403
