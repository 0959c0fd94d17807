"""Abuse and race scenarios: what an attacker, a compromised account or two concurrent
administrators must not be able to do."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import pytest

from tests.unit.application.conftest import Studio, Trail, only_event
from tests.unit.conftest import CHEAP_ARGON2, MP4_HEAD, PASSWORD, MakeUser
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWork, MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import EventBus
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.shares import CreateShare
from videoplatform.application.throttle import FailureThrottle
from videoplatform.application.users import Login, RegisterUser
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    ShareRefused,
    ValidationError,
)
from videoplatform.domain.events import DomainEvent
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import Settings


def test_disabling_an_account_stops_its_share_links_and_enabling_it_restores_them(
    platform: Platform, make_user: MakeUser, admin: Caller, trail: Trail
) -> None:
    alice = make_user(Role.CREATOR)
    stored = platform.files.store(alice, StoreFile("secret.txt", io.BytesIO(b"top secret")))
    link = platform.shares.create(alice, CreateShare(file_id=stored.id))

    assert alice.user_id is not None
    platform.users.disable(admin, alice.user_id)

    with pytest.raises(ShareRefused) as refused:
        platform.shares.redeem(link.token)
    assert refused.value.code == "share_unavailable"
    event = only_event(trail, AuditAction.USER_DISABLE, AuditResult.SUCCESS, alice.user_id)
    assert event.actor_id == admin.user_id

    platform.users.enable(admin, alice.user_id)

    shared = platform.shares.redeem(link.token)
    assert shared.file is not None
    assert shared.file.id == stored.id
    event = only_event(trail, AuditAction.USER_ENABLE, AuditResult.SUCCESS, alice.user_id)
    assert event.actor_id == admin.user_id


def test_a_demoted_owner_s_links_stop_working(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    alice = make_user(Role.CREATOR)
    stored = platform.files.store(alice, StoreFile("a.txt", io.BytesIO(b"data")))
    link = platform.shares.create(alice, CreateShare(file_id=stored.id))
    assert alice.user_id is not None

    platform.users.change_roles(admin, alice.user_id, ["viewer"])

    with pytest.raises(ShareRefused) as refused:
        platform.shares.redeem(link.token)
    assert refused.value.code == "share_unavailable"


class _CommitTogether:
    """Units of work that wait for each other just before committing: the worst case
    interleaving of two requests, made deterministic."""

    def __init__(self, inner: MemoryUnitOfWorkFactory, parties: int) -> None:
        self._inner = inner
        self.barrier = threading.Barrier(parties, timeout=5)
        self.armed = False

    def __call__(self) -> _WaitingUnitOfWork:
        return _WaitingUnitOfWork(self._inner(), self)


class _WaitingUnitOfWork:
    def __init__(self, inner: MemoryUnitOfWork, factory: _CommitTogether) -> None:
        self._inner = inner
        self._factory = factory

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        if self._factory.armed:
            self._factory.barrier.wait()
        self._inner.commit()


def test_two_admins_demoting_each_other_at_once_leave_one_admin(clock: ManualClock) -> None:
    memory = MemoryUnitOfWorkFactory()
    together = _CommitTogether(memory, parties=2)
    platform = create_platform(CHEAP_ARGON2, overrides={UnitOfWorkFactory: together, Clock: clock})
    first = platform.users.create_admin(RegisterUser("a@example.com", PASSWORD, "A"))
    second = platform.users.create_admin(RegisterUser("b@example.com", PASSWORD, "B"))
    outcomes: list[BaseException | None] = [None, None]

    def demote(slot: int, actor: str, target: str) -> None:
        try:
            platform.users.change_roles(Caller(actor), target, ["creator"])  # type: ignore[arg-type]
        except Exception as error:
            outcomes[slot] = error

    together.armed = True
    threads = [
        threading.Thread(target=demote, args=(0, first.id, second.id)),
        threading.Thread(target=demote, args=(1, second.id, first.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    together.armed = False

    failures = [o for o in outcomes if o is not None]
    assert len(failures) == 1
    assert isinstance(failures[0], Conflict)
    with memory() as uow:
        assert len(uow.users.list_active_with_role("admin")) == 1


class _BrokenBus:
    def publish(self, event: DomainEvent) -> None:
        raise RuntimeError("bus is down")

    def subscribe(self, event_type: type, handler: Callable[..., None]) -> None:
        pass  # registering is local; delivering is what fails


def test_a_failing_event_bus_never_undoes_a_committed_upload(clock: ManualClock) -> None:
    storage = MemoryObjectStorage()
    broken: EventBus = _BrokenBus()
    platform = create_platform(
        CHEAP_ARGON2, overrides={EventBus: broken, ObjectStorage: storage, Clock: clock}
    )
    user = platform.users.register(RegisterUser("c@example.com", PASSWORD, "C"))
    caller = Caller(user.id)

    video = platform.videos.upload(caller, UploadVideo("Kept", io.BytesIO(MP4_HEAD + b"bytes")))

    assert storage.exists(video.source_key)
    assert platform.videos.get(caller, video.id).title == "Kept"


def test_a_hidden_resource_raises_exactly_not_found(
    platform: Platform, make_user: MakeUser, studio: Studio
) -> None:
    owner, stranger = make_user(Role.CREATOR), make_user(Role.CREATOR)
    video = studio.publish(owner, visibility=Visibility.PRIVATE)

    with pytest.raises(NotFound) as hidden:
        platform.videos.get(stranger, video.id)
    with pytest.raises(NotFound) as missing:
        platform.videos.get(stranger, "no-such-video")  # type: ignore[arg-type]

    assert type(hidden.value) is NotFound
    assert str(hidden.value) == str(missing.value)


def test_invalid_metadata_is_refused_before_a_byte_is_read(
    platform: Platform, make_user: MakeUser
) -> None:
    creator = make_user(Role.CREATOR)
    body = io.BytesIO(b"x" * 1000)

    with pytest.raises(ValidationError) as refused:
        platform.videos.upload(creator, UploadVideo("", body))

    assert "title" in refused.value.fields
    assert body.tell() == 0


def test_tags_given_as_one_string_are_refused(platform: Platform, make_user: MakeUser) -> None:
    creator = make_user(Role.CREATOR)
    with pytest.raises(ValidationError) as refused:
        platform.videos.upload(creator, UploadVideo("t", io.BytesIO(MP4_HEAD + b"x"), tags="demo"))
    assert "tags" in refused.value.fields


def test_a_demoted_owner_sees_in_lists_exactly_what_they_can_open(
    platform: Platform, make_user: MakeUser, admin: Caller, studio: Studio
) -> None:
    owner = make_user(Role.CREATOR)
    private = studio.publish(owner, title="mine", visibility=Visibility.PRIVATE)
    public = studio.publish(owner, title="open", visibility=Visibility.PUBLIC)
    assert owner.user_id is not None
    platform.users.change_roles(admin, owner.user_id, ["viewer"])

    listed = [v.id for v in platform.videos.list(owner).items]

    assert listed == [public.id]
    with pytest.raises(NotFound):
        platform.videos.get(owner, private.id)


def test_moderators_and_admins_reading_private_things_leave_a_trace(
    platform: Platform, make_user: MakeUser, admin: Caller, studio: Studio, trail: Trail
) -> None:
    owner, moderator = make_user(Role.CREATOR), make_user(Role.MODERATOR)
    video = studio.publish(owner, visibility=Visibility.PRIVATE)
    stored = platform.files.store(owner, StoreFile("f.txt", io.BytesIO(b"f")))

    platform.videos.get(moderator, video.id)
    platform.files.get(admin, stored.id)
    platform.videos.get(owner, video.id)  # the owner's own reads are not traced

    read_video = only_event(trail, AuditAction.VIDEO_READ, AuditResult.SUCCESS, video.id)
    assert read_video.actor_id == moderator.user_id
    assert read_video.metadata["privileged"] == "true"
    read_file = only_event(trail, AuditAction.FILE_READ, AuditResult.SUCCESS, stored.id)
    assert read_file.actor_id == admin.user_id


def test_a_login_typed_into_the_wrong_field_is_not_stored_in_the_audit_trail(
    platform: Platform, trail: Trail
) -> None:
    from videoplatform.application.users import Login
    from videoplatform.domain.errors import AuthenticationFailed

    with pytest.raises(AuthenticationFailed):
        platform.users.login(Login("my secret passphrase", "x"))

    (event,) = trail(AuditFilter(action=AuditAction.USER_LOGIN))
    assert "my secret passphrase" not in str(dict(event.metadata))


class _SlowCommits(_CommitTogether):
    """Each commit waits a little first, while its unit of work holds what it locked:
    parallel uploads overlap for sure."""

    def __call__(self) -> _WaitingUnitOfWork:
        class Slow(_WaitingUnitOfWork):
            def commit(self) -> None:
                time.sleep(0.03)
                self._inner.commit()

        return Slow(self._inner(), self)


def _parallel_uploads(clock: ManualClock, quota: int, count: int) -> tuple[list[str], int]:
    """``count`` uploads of 60 bytes by one user at once: what refused them (by class
    name, none for success), and the bytes the user then has."""
    memory = MemoryUnitOfWorkFactory()
    platform = create_platform(
        Settings.in_memory(
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            argon2_parallelism=1,
            quota_bytes_per_user=quota,
        ),
        overrides={
            UnitOfWorkFactory: _SlowCommits(memory, 1),
            Clock: clock,
            ObjectStorage: MemoryObjectStorage(),
        },
    )
    user = platform.users.register(RegisterUser("q@example.com", PASSWORD, "Q"))
    outcomes: list[str] = ["unfinished"] * count
    start = threading.Barrier(count)

    def upload(slot: int) -> None:
        start.wait()
        try:
            platform.files.store(Caller(user.id), StoreFile(f"f{slot}", io.BytesIO(b"x" * 60)))
            outcomes[slot] = "stored"
        except Exception as error:
            outcomes[slot] = type(error).__name__

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    with memory() as uow:
        return outcomes, uow.files.usage(user.id)[1]


def test_parallel_uploads_of_one_user_cannot_overshoot_the_quota(clock: ManualClock) -> None:
    outcomes, used = _parallel_uploads(clock, quota=100, count=6)
    assert sorted(outcomes) == ["QuotaExceeded"] * 5 + ["stored"]
    assert used == 60


def test_parallel_uploads_of_one_user_that_fit_all_succeed(clock: ManualClock) -> None:
    # They take turns on the owner's lock: none is refused as a lost race (stale_version).
    outcomes, used = _parallel_uploads(clock, quota=10_000, count=12)
    assert outcomes == ["stored"] * 12
    assert used == 12 * 60


def test_login_attempts_are_counted_before_the_password_is_checked(
    platform: Platform,
) -> None:
    platform.users.register(RegisterUser("race@example.com", PASSWORD, "R"))
    seen: list[int] = []
    cache = platform.resolve(FailureThrottle)._cache

    original = platform.users._hasher.verify

    def watching(password: str, password_hash: str) -> bool:
        raw = cache.get(FailureThrottle._key("login:account", "race@example.com"))
        seen.append(int(raw or b"0"))
        return original(password, password_hash)

    platform.users._hasher.verify = watching  # type: ignore[method-assign]
    with pytest.raises(AuthenticationFailed):
        platform.users.login(Login("race@example.com", "a wrong guess"))
    assert seen == [1]
