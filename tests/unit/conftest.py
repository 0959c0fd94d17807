"""Fixtures for unit tests: a whole platform on memory adapters with a manual clock.

argon2id stays argon2id here; only its cost is lowered so hundreds of registrations
stay fast.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from bench import clips

from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.ports.mail import Mailer
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.users import RegisterUser
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import Settings

PASSWORD = "correct horse battery staple"
MP4_HEAD = clips.MP4_HEAD

CHEAP_ARGON2 = Settings.in_memory(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def storage() -> MemoryObjectStorage:
    return MemoryObjectStorage()


@pytest.fixture
def uow_factory() -> MemoryUnitOfWorkFactory:
    return MemoryUnitOfWorkFactory()


@pytest.fixture
def settings() -> Settings:
    return CHEAP_ARGON2


@pytest.fixture
def platform(
    settings: Settings,
    clock: ManualClock,
    mailer: MemoryMailer,
    storage: MemoryObjectStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> Platform:
    return create_platform(
        settings,
        overrides={
            Clock: clock,
            Mailer: mailer,
            ObjectStorage: storage,
            UnitOfWorkFactory: uow_factory,
        },
    )


MakeUser = Callable[..., Caller]


@pytest.fixture
def make_user(platform: Platform) -> MakeUser:
    """``make_user(Role.CREATOR, email=None)`` registers an active user with that role
    (an admin grants it) and returns a Caller for them."""
    counter = iter(range(1, 1_000_000))
    admin: list[Caller] = []

    def make(role: Role = Role.CREATOR, email: str | None = None) -> Caller:
        n = next(counter)
        address = email or f"user{n}@example.com"
        if not admin:
            root = platform.users.create_admin(RegisterUser("root@example.com", PASSWORD, "Root"))
            admin.append(Caller(root.id))
        if role is Role.ADMIN:
            user = platform.users.create_admin(RegisterUser(address, PASSWORD, f"User {n}"))
            return Caller(user.id)
        user = platform.users.register(RegisterUser(address, PASSWORD, f"User {n}"))
        if role is not Role.CREATOR:
            platform.users.change_roles(admin[0], user.id, [role.value])
        return Caller(user.id)

    return make


@pytest.fixture
def admin(make_user: MakeUser) -> Caller:
    return make_user(Role.ADMIN)
