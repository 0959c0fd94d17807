"""Fixtures for the web application's tests: the site over a memory platform, driven
with ``falcon.testing`` by a browser that keeps its cookies."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest

from tests.unit.conftest import MP4_HEAD, PASSWORD
from tests.unit.http.test_playback import publish_outputs
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.users import RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.users import Role, User
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


class Browser:
    """A cookie jar in front of a test client: what a browser keeps between pages."""

    def __init__(self, client: falcon.testing.TestClient) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.last_csrf = ""

    def _keep(self, result: falcon.testing.Result) -> falcon.testing.Result:
        for name, cookie in result.cookies.items():
            if cookie.value == "" or cookie.max_age == 0:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie.value
        found = CSRF.search(result.text or "")
        if found:
            self.last_csrf = found.group(1) or found.group(2)
        return result

    def get(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self._keep(self.client.simulate_get(path, cookies=self.cookies, **kwargs))

    def post(
        self,
        path: str,
        form: Mapping[str, str | list[str]] | None = None,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> falcon.testing.Result:
        fields = dict(form or {})
        if csrf:
            fields.setdefault("csrf_token", self.last_csrf)
        return self._keep(
            self.client.simulate_post(
                path,
                body=urlencode(fields, doseq=True),
                headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
                cookies=self.cookies,
                **kwargs,
            )
        )

    def log_in(self, email: str, password: str = PASSWORD) -> falcon.testing.Result:
        self.get("/login")
        return self.post("/login", {"email": email, "password": password})


@pytest.fixture
def site(platform: Platform) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(platform, HttpOptions()))


@pytest.fixture
def browser(site: falcon.testing.TestClient) -> Browser:
    return Browser(site)


MakeUser = Callable[..., User]


@pytest.fixture
def make_user(platform: Platform) -> MakeUser:
    counter = iter(range(1, 1_000_000))
    admins: list[User] = []

    def make(role: Role = Role.CREATOR, name: str | None = None) -> User:
        n = next(counter)
        command = RegisterUser(f"person{n}@example.com", PASSWORD, name or f"Person {n}")
        if role is Role.ADMIN:
            return platform.users.create_admin(command)
        user = platform.users.register(command)
        if role is not Role.CREATOR:
            if not admins:
                admins.append(
                    platform.users.create_admin(RegisterUser("root@example.com", PASSWORD, "Root"))
                )
            user = platform.users.change_roles(Caller(admins[0].id), user.id, [role.value])
        return user

    return make


class Videos:
    def __init__(
        self,
        platform: Platform,
        uow_factory: MemoryUnitOfWorkFactory,
        clock: ManualClock,
        storage: MemoryObjectStorage,
    ) -> None:
        self._platform = platform
        self._uow = uow_factory
        self._clock = clock
        self._storage = storage

    def make(
        self,
        owner: User,
        title: str,
        visibility: Visibility = Visibility.PUBLIC,
        *,
        ready: bool = True,
        description: str = "",
    ) -> str:
        video = self._platform.videos.upload(
            Caller(owner.id),
            UploadVideo(
                title,
                io.BytesIO(MP4_HEAD + b"source"),
                visibility=visibility,
                description=description,
            ),
        )
        if ready:
            publish_outputs(
                self._uow, self._clock, self._storage, video.id, f"videos/{video.id}/hls-1/"
            )
        return video.id


@pytest.fixture
def videos(
    platform: Platform,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
    storage: MemoryObjectStorage,
) -> Videos:
    return Videos(platform, uow_factory, clock, storage)
