"""What the account use cases take and give back."""

from __future__ import annotations

from datetime import datetime, timedelta

from attrs import frozen

from videoplatform.domain.ids import TokenId, UserId
from videoplatform.domain.users import ALL_SCOPES, Role, Scope
from videoplatform.domain.visibility import Visibility


@frozen
class RegisterUser:
    email: str
    password: str
    display_name: str


@frozen
class UpdateProfile:
    """Fields left as ``None`` are unchanged."""

    display_name: str | None = None
    default_visibility: Visibility | None = None
    bio: str | None = None
    mail_on_processing: bool | None = None


@frozen
class Login:
    email: str
    password: str
    code: str | None = None
    """Where the account's two-factor login is on: a code of its authenticator app, or
    one of its recovery codes."""


@frozen
class IssuedToken:
    """A freshly made bearer token. ``token`` is shown once and never stored."""

    token: str
    token_id: TokenId
    user_id: UserId
    expires_at: datetime | None


@frozen
class Principal:
    """The result of authenticating a bearer token: whose it is, and what it may be
    used for (a session: everything its user may do)."""

    user_id: UserId
    roles: frozenset[Role]
    token_id: TokenId
    scopes: frozenset[Scope] = ALL_SCOPES


PASSWORD_RESET_TTL = timedelta(hours=1)
