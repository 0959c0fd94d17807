"""``Caller.account``: the account authentication read, taken by use cases that only
read, and only when it is the caller's own, active account."""

from __future__ import annotations

import attrs
import pytest

from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller, viewing_user
from videoplatform.domain.errors import AuthenticationFailed
from videoplatform.domain.users import Role, User, UserStatus


def account(uow_factory: MemoryUnitOfWorkFactory, caller: Caller) -> User:
    """The caller's account as stored."""
    assert caller.user_id is not None
    with uow_factory() as uow:
        return uow.users.get(caller.user_id)


def test_the_account_read_by_authentication_is_the_one_a_read_works_with(
    make_user: MakeUser, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    caller = make_user(Role.CREATOR)
    stored = account(uow_factory, caller)
    known = attrs.evolve(caller, account=stored)
    with uow_factory() as uow:
        assert viewing_user(uow, known) is stored
        assert viewing_user(uow, caller) == stored  # none passed on: read again


def test_an_account_of_another_id_or_disabled_is_not_taken(
    make_user: MakeUser, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    caller, other = make_user(Role.CREATOR), make_user(Role.ADMIN)
    stored, someone = account(uow_factory, caller), account(uow_factory, other)
    with uow_factory() as uow:
        # Another account's roles are never lent to the caller.
        assert viewing_user(uow, attrs.evolve(caller, account=someone)) == stored
    disabled = attrs.evolve(stored, status=UserStatus.DISABLED)
    with uow_factory() as uow:
        assert viewing_user(uow, attrs.evolve(caller, account=disabled)) == stored


def test_without_an_account_a_disabled_caller_is_refused(
    make_user: MakeUser, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    caller = make_user(Role.CREATOR)
    stored = account(uow_factory, caller)
    with uow_factory() as uow:
        uow.users.save(attrs.evolve(stored, status=UserStatus.DISABLED))
        uow.commit()
    with uow_factory() as uow, pytest.raises(AuthenticationFailed):
        viewing_user(uow, Caller(caller.user_id))
