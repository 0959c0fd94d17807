"""The composition root wires every port, honours overrides and refuses what it lacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.unit.conftest import CHEAP_ARGON2, PASSWORD
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.security.passwords import Argon2PasswordHasher
from videoplatform.application.ports.mail import Mailer
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import EventBus, JobQueue
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock, PasswordHasher
from videoplatform.application.users import RegisterUser
from videoplatform.domain.errors import Conflict
from videoplatform.domain.events import DomainEvent, UserRegistered
from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.settings import ConfigurationError, Settings


def test_every_port_resolves_to_an_adapter() -> None:
    platform = create_platform(CHEAP_ARGON2)
    for port in (
        Clock,
        PasswordHasher,
        UnitOfWorkFactory,
        ObjectStorage,
        JobQueue,
        EventBus,
        Mailer,
    ):
        assert platform.container.resolve(port) is not None
    hasher: PasswordHasher = platform.container.resolve(PasswordHasher)
    assert isinstance(hasher, Argon2PasswordHasher)


def test_overrides_replace_the_chosen_adapter() -> None:
    clock = ManualClock()
    platform = create_platform(CHEAP_ARGON2, overrides={Clock: clock})
    user = platform.users.register(RegisterUser("a@example.com", PASSWORD, "A"))
    assert user.created_at == clock.now()


def test_two_platforms_share_no_state() -> None:
    first = create_platform(CHEAP_ARGON2)
    second = create_platform(CHEAP_ARGON2)
    first.users.register(RegisterUser("a@example.com", PASSWORD, "A"))
    # The same address is free on the other platform: no global state between them.
    second.users.register(RegisterUser("a@example.com", PASSWORD, "A"))


@pytest.mark.parametrize(
    "setting", ["database_url", "storage_url", "queue_url", "cache_url", "mail_url"]
)
def test_an_adapter_this_release_lacks_is_refused_by_name(setting: str) -> None:
    settings = Settings.in_memory(**{setting: "elsewhere://host"})
    with pytest.raises(ConfigurationError, match=f"VIDEOPLATFORM_{setting.upper()}"):
        create_platform(settings)


def test_importing_the_package_connects_to_nothing_and_reads_no_settings() -> None:
    # A malformed setting would raise if anything read the environment at import time.
    code = (
        "import videoplatform, videoplatform.entrypoints.bootstrap, "
        "videoplatform.entrypoints.cli; print('ok')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"VIDEOPLATFORM_MAX_UPLOAD_BYTES": "not a number", "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_committed_domain_events_reach_subscribers_once() -> None:
    platform = create_platform(CHEAP_ARGON2)
    seen: list[DomainEvent] = []
    platform.events.subscribe(UserRegistered, seen.append)

    user = platform.users.register(RegisterUser("a@example.com", PASSWORD, "A"))

    assert [type(e) for e in seen] == [UserRegistered]
    assert isinstance(seen[0], UserRegistered)
    assert seen[0].user_id == user.id


def test_events_of_a_rolled_back_change_are_never_published() -> None:
    platform = create_platform(CHEAP_ARGON2)
    platform.users.register(RegisterUser("a@example.com", PASSWORD, "A"))
    seen: list[DomainEvent] = []
    platform.events.subscribe(DomainEvent, seen.append)

    with pytest.raises(Conflict):
        platform.users.register(RegisterUser("A@example.com", PASSWORD, "Again"))

    assert seen == []


@pytest.mark.parametrize("setting", ["cache_url", "mail_url"])
def test_an_unsupported_adapter_is_refused_before_anything_is_opened(
    setting: str, tmp_path: Path
) -> None:
    unsupported: dict[str, Any] = {setting: "redis://host"}
    settings = attrs.evolve(Settings(data_dir=str(tmp_path / "data")), **unsupported)
    with pytest.raises(ConfigurationError, match=f"VIDEOPLATFORM_{setting.upper()}"):
        create_platform(settings)
    assert not (tmp_path / "data").exists()
