"""Accounts and what follows them on each database: the search index offers a tag to
someone signed out, with its count, once a video carrying it turns ready, and no longer
while its owner is disabled (the ``search.index`` handler writes the owner's documents
again); a deleted account leaves no row behind."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Engine, func, select, text

from tests.unit.application.conftest import Studio
from tests.unit.conftest import PASSWORD
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.adapters.sql import tables
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.system import Clock
from videoplatform.application.shares import CreateShare
from videoplatform.application.users import Login, RegisterUser
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import settle_events

pytestmark = pytest.mark.integration

LOGINS = 4  # within the throttle: 5 attempts on one account at once


@contextmanager
def platform_on(
    engine: Engine, folder: Path, argon2_time_cost: int = 3
) -> Iterator[tuple[Platform, Studio]]:
    """A platform on ``engine``'s database with a manual clock, and a Studio that
    drives its videos through processing (on whatever unit of work it is given)."""
    settings = Settings(
        data_dir=str(folder / "data"),
        database_url=engine.url.render_as_string(hide_password=False),
        playback_secret=secrets.token_urlsafe(48),
        argon2_time_cost=argon2_time_cost,
        argon2_memory_kib=8 * 1024,
    )
    clock = ManualClock()
    with create_platform(settings, overrides={Clock: clock}) as platform:
        uow = cast(MemoryUnitOfWorkFactory, platform.container.resolve(UnitOfWorkFactory))
        yield platform, Studio(platform, uow, clock)


def test_a_tag_is_offered_to_everyone_while_a_video_everyone_may_see_carries_it(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    suffix = secrets.token_hex(4)
    with platform_on(migrated_engine, tmp_path) as (platform, studio):
        admin = Caller(
            platform.users.create_admin(
                RegisterUser(f"admin-{suffix}@example.com", PASSWORD, "Admin")
            ).id
        )
        owner_id = platform.users.register(
            RegisterUser(f"owner-{suffix}@example.com", PASSWORD, "Owner")
        ).id
        owner = Caller(owner_id)
        tag = f"surf{suffix}"
        anyone = Caller.anonymous()

        def offered() -> tuple[tuple[str, int], ...]:
            settle_events(platform)
            return platform.search.suggest(anyone, tag[:6]).tags

        video = studio.upload(owner, title="Waves at dawn", tags=[tag])
        assert offered() == ()  # still processing
        studio.ready(video.id)
        assert offered() == ((tag, 1),)
        platform.users.disable(admin, owner_id)
        assert offered() == ()
        platform.users.enable(admin, owner_id)
        assert offered() == ((tag, 1),)
        platform.videos.delete(owner, video.id)
        assert offered() == ()


@pytest.mark.parametrize("renewed", [False, True], ids=["same-hash", "hash-renewed"])
def test_logins_of_one_account_at_once_all_open_a_session(
    migrated_engine: Engine, tmp_path: Path, renewed: bool
) -> None:
    # Two devices, or a script, signing in together must not collide on the account's
    # row; where the stored hash is renewed by the first login, the rest read it again.
    email = f"twice-{secrets.token_hex(4)}@example.com"
    with platform_on(migrated_engine, tmp_path / "a", argon2_time_cost=1) as (platform, _):
        user_id = platform.users.register(RegisterUser(email, PASSWORD, "Twice")).id
    cost = 2 if renewed else 1
    with platform_on(migrated_engine, tmp_path / "b", argon2_time_cost=cost) as (platform, _):
        with ThreadPoolExecutor(max_workers=LOGINS) as pool:
            sessions = list(
                pool.map(lambda _: platform.users.login(Login(email, PASSWORD)), range(LOGINS))
            )
        assert {issued.user_id for issued in sessions} == {user_id}
        assert len({issued.token_id for issued in sessions}) == LOGINS
        for issued in sessions:
            assert platform.users.authenticate(issued.token).user_id == user_id
    with migrated_engine.connect() as conn:
        stored = conn.execute(
            select(tables.users.c.password_hash).where(tables.users.c.id == user_id)
        ).scalar_one()
    assert f"t={cost}," in stored


def test_a_deleted_account_leaves_no_row_behind(migrated_engine: Engine, tmp_path: Path) -> None:
    """On each database, deleting an account removes its rows in an order its foreign
    keys accept: videos (their tags and captions), files, shares, uploads, tokens."""
    suffix = secrets.token_hex(4)
    with platform_on(migrated_engine, tmp_path) as (platform, studio):
        owner_id = platform.users.register(
            RegisterUser(f"leaving-{suffix}@example.com", PASSWORD, "Leaving")
        ).id
        owner = Caller(owner_id)
        video = studio.publish(owner, title="Goodbye", tags=["farewell"])
        stored = platform.files.store(owner, StoreFile(name="a.txt", content=io.BytesIO(b"a")))
        platform.shares.create(owner, CreateShare(video_id=video.id))
        platform.shares.create(owner, CreateShare(file_id=stored.id))
        platform.users.create_api_token(owner, "script")
        settle_events(platform)

        platform.users.delete_account(owner, PASSWORD)
        settle_events(platform)

    with migrated_engine.connect() as conn:
        for table, column in (
            (tables.users, "id"),
            (tables.videos, "owner_id"),
            (tables.files, "owner_id"),
            (tables.shares, "owner_id"),
            (tables.api_tokens, "user_id"),
        ):
            left = conn.execute(
                select(func.count()).select_from(table).where(table.c[column] == owner_id)
            ).scalar_one()
            assert left == 0, table.name
        documents = conn.execute(
            text("SELECT count(*) FROM search_documents WHERE video_id = :id"), {"id": video.id}
        ).scalar_one()
        assert documents == 0
