"""Who is calling, and the checks every use case starts with."""

from __future__ import annotations

from attrs import field, frozen

from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.domain.errors import AuthenticationFailed, NotFound, PermissionDenied
from videoplatform.domain.ids import TokenId, UserId
from videoplatform.domain.users import Permission, User


@frozen
class Caller:
    """The authenticated user (or nobody) behind a call, and where it came from.

    Entry points build it after authentication; embedders build it directly with the id
    of a user they trust. The user is read inside every unit of work (once per call: see
    ``account``), so a role change or a disabled account takes effect on the very next
    call.
    """

    user_id: UserId | None = None
    ip: str | None = None
    user_agent: str | None = None
    token_id: TokenId | None = None
    """The bearer token the call came with, where it came with one: a personal token
    mints tokens within its own scopes and life only."""
    account: User | None = field(default=None, eq=False, repr=False)
    """The account of ``user_id`` as authentication read it for this very call, where
    the entry point passes it on: use cases that only read (see :func:`viewing_user`)
    take it instead of reading it again a moment later. Those that write read it
    again, in their own unit of work."""

    @classmethod
    def anonymous(cls, ip: str | None = None, user_agent: str | None = None) -> Caller:
        return cls(None, ip, user_agent)


class Hidden(NotFound):
    """The resource exists but the caller may not know it: reported exactly like a
    missing one, and audited exactly like one too, as a refused access (see
    ``Auditor.refusals``)."""


def current_user(uow: UnitOfWork, caller: Caller) -> User | None:
    if caller.user_id is None:
        return None
    return active_user(uow, caller.user_id, "authentication required")


def viewing_user(uow: UnitOfWork, caller: Caller) -> User | None:
    """:func:`current_user`, for a use case that only reads: the account authentication
    read for this call (``Caller.account``, an active account of the caller's id), or
    else the account read now. Either way a role change or a disabled account takes
    effect on the very next call."""
    known = caller.account
    if known is not None and known.id == caller.user_id and known.is_active:
        return known
    return current_user(uow, caller)


def active_user(uow: UnitOfWork, user_id: UserId, refusal: str) -> User:
    """The user ``user_id`` if the account exists and is active; AuthenticationFailed
    with the message ``refusal`` otherwise."""
    try:
        user = uow.users.get(user_id)
    except NotFound:
        raise AuthenticationFailed(refusal) from None
    if not user.is_active:
        raise AuthenticationFailed(refusal)
    return user


def require_user(uow: UnitOfWork, caller: Caller) -> User:
    user = current_user(uow, caller)
    if user is None:
        raise AuthenticationFailed("authentication required")
    return user


def require_owner(user: User, owner_id: UserId, what: str) -> None:
    """Hidden (reported as a missing ``what``) unless ``user`` owns it or is an
    administrator of users."""
    if owner_id != user.id and not user.can(Permission.USER_MANAGE):
        raise Hidden(f"{what} not found")


def require_permission(uow: UnitOfWork, caller: Caller, permission: Permission) -> User:
    user = require_user(uow, caller)
    if not user.can(permission):
        raise PermissionDenied(f"missing permission {permission.value}")
    return user
