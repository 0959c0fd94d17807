"""What a signed-in read costs the database: the account that authentication read is
the one the use case works with, not read again a moment later."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from sqlalchemy import Engine, event

from videoplatform.application.context import Caller
from videoplatform.application.users import Login, RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.videos import Video, Visibility
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.http.app import create_app
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.web.session import SESSION_COOKIE

API = "/api/v1"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(
        data_dir=str(tmp_path),
        read_cache_seconds=0,
        processing_threads=0,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    with create_platform(settings) as platform:
        yield platform


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every statement any engine runs while the test does."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def private_video_and_session(platform: Platform) -> tuple[Video, str]:
    """A member's private video (not processed: only its owner sees it) and a session
    token of theirs."""
    owner = platform.users.register(RegisterUser("own@example.com", "a long passphrase", "O"))
    video = platform.videos.upload(
        Caller(owner.id),
        UploadVideo(
            title="Mine",
            source=io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + bytes(256)),
            visibility=Visibility.PRIVATE,
        ),
    )
    return video, platform.users.login(Login("own@example.com", "a long passphrase")).token


def test_a_signed_in_read_reads_the_account_once(platform: Platform, statements: list[str]) -> None:
    video, token = private_video_and_session(platform)
    api = falcon.testing.TestClient(create_app(platform))
    me = {"Authorization": f"Bearer {token}"}

    statements.clear()
    listed = api.simulate_get(f"{API}/videos", params={"owner": "me"}, headers=me)
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json["items"]] == [video.id]
    # The token with its account, then the page: no second read of the account.
    assert len(statements) == 2, statements
    assert "FROM api_tokens JOIN users" in statements[0]

    statements.clear()
    read = api.simulate_get(f"{API}/videos/{video.id}", headers=me)
    assert read.status_code == 200, read.text
    assert len(statements) == 2, statements  # the token with its account, the video


def test_an_account_disabled_since_it_signed_in_is_refused_at_once(
    platform: Platform, statements: list[str]
) -> None:
    # The account is read with the token on every request: what authentication read
    # is never older than the request itself.
    root = platform.users.create_admin(RegisterUser("root@example.com", "a long passphrase", "R"))
    user = platform.users.register(RegisterUser("gone@example.com", "a long passphrase", "G"))
    token = platform.users.login(Login("gone@example.com", "a long passphrase")).token
    api = falcon.testing.TestClient(create_app(platform))
    me = {"Authorization": f"Bearer {token}"}
    assert api.simulate_get(f"{API}/videos", params={"owner": "me"}, headers=me).status_code == 200
    platform.users.disable(Caller(root.id), user.id)
    refused = api.simulate_get(f"{API}/videos", params={"owner": "me"}, headers=me)
    assert refused.status_code == 401


def test_the_sites_session_reads_the_account_once_too(
    platform: Platform, statements: list[str]
) -> None:
    video, token = private_video_and_session(platform)
    api = falcon.testing.TestClient(create_app(platform))
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}

    statements.clear()  # the site's scripts calling the API with the session cookie
    listed = api.simulate_get(f"{API}/videos", params={"owner": "me"}, headers=cookie)
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json["items"]] == [video.id]
    assert len(statements) == 2, statements

    statements.clear()  # the site's own page
    page = api.simulate_get(f"/watch/{video.id}", headers=cookie)
    assert page.status_code == 200, page.text
    # The session with its account, the video, the categories, and the owner's name for
    # the page (a channel name, read as it is for any owner): the account not again.
    users = [s for s in statements if "FROM users" in s and "api_tokens" not in s]
    assert len(users) == 1 and "users.display_name" in users[0], statements
    assert len(statements) == 4, statements
