"""Playback through the real ``serve`` command (gunicorn): a private video's master →
variant → segment chain fetched with the signed URLs, following relative URIs exactly
as a player does."""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.integration.served import CHEAP_ARGON2, Served
from tests.unit.conftest import MP4_HEAD
from tests.unit.http.test_playback import MASTER, SEGMENT_0, SEGMENT_1, VARIANT, publish_outputs
from videoplatform.application.context import Caller
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UpdateVideo, UploadVideo
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.keys import KEY_FILE
from videoplatform.entrypoints.settings import Settings

PASSWORD = "long passphrase!"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = Served(tmp_path_factory.mktemp("playback"))
    yield running
    running.stop()


@pytest.fixture
def platform(served: Served) -> Iterator[Platform]:
    """The same data directory as the server's, opened by this process (as a second
    worker would open it)."""
    environ = {**CHEAP_ARGON2, "VIDEOPLATFORM_DATA_DIR": str(served.folder / "data")}
    with create_platform(Settings.from_env(environ)) as opened:
        yield opened


def chain(http: httpx.Client, master_url: str) -> list[httpx.Response]:
    master = http.get(master_url)
    variant_url = urljoin(master_url, master.text.splitlines()[-1])
    variant = http.get(variant_url)
    names = [line for line in variant.text.splitlines() if line and not line.startswith("#")]
    return [master, variant, *(http.get(urljoin(variant_url, name)) for name in names)]


def test_a_private_video_plays_over_real_http_until_access_ends(
    served: Served, platform: Platform
) -> None:
    owner = platform.users.register(RegisterUser("player@example.com", PASSWORD, "Player"))
    me = Caller(owner.id)
    video = platform.videos.upload(
        me, UploadVideo("Private clip", io.BytesIO(MP4_HEAD + b"source"))
    )
    publish_outputs(
        platform.container.resolve(UnitOfWorkFactory),
        platform.container.resolve(Clock),
        platform.container.resolve(ObjectStorage),
        video.id,
        f"videos/{video.id}/hls-1/",
    )
    with httpx.Client(base_url=served.url, timeout=10) as http:
        login = http.post(
            "/api/v1/auth/session", json={"email": owner.email.value, "password": PASSWORD}
        )
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        assert http.get(f"/api/v1/videos/{video.id}/playback").status_code == 404
        issued_reply = http.get(f"/api/v1/videos/{video.id}/playback", headers=auth)
        assert issued_reply.status_code == 200, issued_reply.text
        urls = issued_reply.json()
        master_url = urljoin(served.url, urls["master_url"])

    with httpx.Client(timeout=10) as player:  # no credentials: only the URLs
        master, variant, first, second = chain(player, master_url)
        assert [r.status_code for r in (master, variant, first, second)] == [200] * 4
        assert (master.content, variant.content) == (MASTER, VARIANT)
        assert (first.content, second.content) == (SEGMENT_0, SEGMENT_1)
        assert first.headers["content-type"] == "video/mp2t"
        part = player.get(str(first.url), headers={"Range": "bytes=16-31"})
        assert part.status_code == 206
        assert part.content == SEGMENT_0[16:32]
        again = player.get(str(first.url), headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304

        # URLs signed by another process on the same data directory verify here too:
        # every worker reads the one key kept there.
        issued = platform.playback.issue(me, video.id)
        local = urljoin(served.url, f"/api/v1/play/{issued.token}/360p/segment_00001.ts")
        assert player.get(local).content == SEGMENT_1
        key = served.folder / "data" / KEY_FILE
        assert stat.S_IMODE(key.stat().st_mode) == 0o600

        # Public, then private again: the anonymous URLs stop at once.
        platform.videos.update(me, video.id, UpdateVideo(visibility=Visibility.UNLISTED))
        public = platform.playback.issue(Caller(), video.id)
        public_url = urljoin(served.url, f"/api/v1/play/{public.token}/360p/segment_00000.ts")
        assert player.get(public_url).status_code == 200
        platform.videos.update(me, video.id, UpdateVideo(visibility=Visibility.PRIVATE))
        refused = player.get(public_url)
        assert refused.status_code == 403
        assert refused.json()["code"] == "playback_revoked"


def test_the_key_file_is_private(served: Served) -> None:
    key = Path(served.folder / "data" / KEY_FILE)
    assert key.exists()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
