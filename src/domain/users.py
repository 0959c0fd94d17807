"""Users, roles and permissions (RBAC), and the API tokens that authenticate them."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from attrs import define, field, frozen

from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.errors import InvalidTransition, ValidationError
from videoplatform.domain.events import (
    DataExportRequested,
    EmailChanged,
    EmailChangeRequested,
    PasswordResetRequested,
    RegistrationAttempted,
    RolesChanged,
    UserActivated,
    UserDeleted,
    UserDisabled,
    UserEnabled,
    UserProfileChanged,
    UserRegistered,
    VerificationRequested,
)
from videoplatform.domain.ids import TokenId, UserId
from videoplatform.domain.text import one_line
from videoplatform.domain.visibility import Visibility


class Permission(enum.Enum):
    VIDEO_VIEW = "video:view"
    VIDEO_UPLOAD = "video:upload"
    VIDEO_MODERATE = "video:moderate"
    FILE_MANAGE = "file:manage"
    FILE_MODERATE = "file:moderate"
    SHARE_CREATE = "share:create"
    AUDIT_READ = "audit:read"
    # Which addresses have accounts, as failed logins tell it (administrators).
    AUDIT_ACCOUNTS = "audit:accounts"
    USER_MANAGE = "user:manage"
    CATEGORY_MANAGE = "category:manage"
    HEALTH_READ = "health:read"  # the detailed health report
    SEARCH_ANALYTICS = "search:analytics"  # what people search for (administrators)


class Role(enum.Enum):
    VIEWER = "viewer"
    CREATOR = "creator"
    MODERATOR = "moderator"
    ADMIN = "admin"


_VIEWER = frozenset({Permission.VIDEO_VIEW})
_CREATOR = _VIEWER | {Permission.VIDEO_UPLOAD, Permission.FILE_MANAGE, Permission.SHARE_CREATE}
_MODERATOR = _CREATOR | {Permission.VIDEO_MODERATE, Permission.AUDIT_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.CREATOR: _CREATOR,
    Role.MODERATOR: _MODERATOR,
    Role.ADMIN: frozenset(Permission),
}


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    return _parse_names(Role, "roles", "role", names)


_Named = TypeVar("_Named", bound=enum.Enum)


def _parse_names(
    kind: type[_Named], field: str, noun: str, names: Iterable[str]
) -> frozenset[_Named]:
    """The members of ``kind`` named (case and surrounding space aside); ValidationError
    on ``field`` for an unknown name or none at all."""
    found: set[_Named] = set()
    for name in names:
        try:
            found.add(kind(name.strip().lower()))
        except ValueError:
            known = ", ".join(str(member.value) for member in kind)
            raise ValidationError.field(
                field, f"unknown {noun} {name!r} (known: {known})"
            ) from None
    if not found:
        raise ValidationError.field(field, f"at least one {noun} is required")
    return frozenset(found)


MAX_EMAIL = 254
MAX_DISPLAY_NAME = 100
EMAIL_LOCAL_EXCLUDED = r"@\s\x00-\x1f\x7f"
"""What the part before the @ must not hold (inside a regular-expression class)."""
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})+"
"""A host name of two labels or more (LDH), as a regular expression."""
_EMAIL = re.compile(rf"^[^{EMAIL_LOCAL_EXCLUDED}]{{1,64}}@{EMAIL_DOMAIN}$")
_INVISIBLE = frozenset({"Cf", "Zl", "Zp", "Co", "Cs"})


def invisible_in_email(char: str) -> bool:
    """Whether ``char`` is one no address may hold: invisible (format characters,
    separators), private use, or a surrogate."""
    return unicodedata.category(char) in _INVISIBLE


@frozen
class Email:
    """An email address normalized so that one mailbox maps to one account.

    The whole address is case-folded: treating ``Alice@X`` and ``alice@x`` as different
    accounts would let a second account squat on the first one's mailbox.
    """

    value: str

    @classmethod
    def parse(cls, raw: str) -> Email:
        text = unicodedata.normalize("NFC", raw.strip()).lower()
        invisible = any(invisible_in_email(c) for c in text)
        if invisible or len(text) > MAX_EMAIL or not _EMAIL.match(text):
            raise ValidationError.field("email", "not a valid email address")
        return cls(text)

    def __str__(self) -> str:
        return self.value


class UserStatus(enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


def is_control(char: str) -> bool:
    """An ASCII control character (C0 or DEL), refused in display names."""
    return ord(char) < 32 or ord(char) == 127


def _clean_display_name(raw: str) -> str:
    name = one_line(raw, "display_name", MAX_DISPLAY_NAME)
    if any(is_control(c) for c in name):
        raise ValidationError.field("display_name", "must not contain control characters")
    return name


@frozen
class SecondFactor:
    """A user's time-based one-time passwords (RFC 6238): the secret as the platform
    keeps it (sealed: the domain never sees it in the clear), whether the user proved
    their authenticator holds it (``confirmed_at``; until then logins do not ask for a
    code), the last time step a code was accepted for (a code is good once), and the
    digests of the recovery codes left."""

    sealed_secret: str = field(repr=False)
    confirmed_at: datetime | None = None
    last_step: int = 0
    recovery_digests: tuple[str, ...] = field(default=(), repr=False)


MAX_CODE_LENGTH = 64
"""The longest one-time or recovery code taken (as typed: spaces and dashes allowed)."""

RECOVERY_CODES = 10
"""Recovery codes a user is given when two-factor login is turned on."""


@define(eq=False, kw_only=True)
class User(Aggregate):
    id: UserId
    email: Email
    display_name: str
    password_hash: str = field(repr=False)
    roles: frozenset[Role]
    status: UserStatus
    created_at: datetime
    updated_at: datetime
    default_visibility: Visibility = Visibility.PRIVATE
    """Who may watch the user's new uploads when an upload does not say."""
    second_factor: SecondFactor | None = None
    """Two-factor login, begun or on (see :attr:`two_factor_on`)."""
    pending_email: Email | None = None
    """The address the account is to move to, once a code mailed there comes back."""
    bio: str = ""
    """A few words about the user, shown on their channel."""
    avatar: str | None = None
    """The version of the user's avatar pictures (None: no avatar)."""
    mail_on_processing: bool = True
    """Whether the user is mailed when a video of theirs is ready or failed."""

    def ask_email_change(self, new: Email, now: datetime) -> None:
        """Hold ``new`` until the code mailed there confirms it (one asked before is
        replaced)."""
        if new == self.email:
            raise ValidationError.field("email", "that is the account's address already")
        self.pending_email = new
        self.updated_at = now
        self.record(EmailChangeRequested(occurred_at=now, user_id=self.id))

    def request_export(self, export_id: str, now: datetime) -> None:
        """Ask for an archive of the account's data, prepared after this commits."""
        self.updated_at = now
        self.record(DataExportRequested(occurred_at=now, user_id=self.id, export_id=export_id))

    def change_avatar(self, version: str | None, now: datetime) -> str | None:
        """Show the avatar pictures of ``version`` (None: none); the version replaced."""
        old, self.avatar = self.avatar, version
        self.updated_at = now
        return old

    def mark_deleted(self, now: datetime) -> None:
        """The account is being deleted (its row goes in the same transaction)."""
        self.updated_at = now
        self.record(UserDeleted(occurred_at=now, user_id=self.id))

    def change_email(self, now: datetime) -> None:
        """Move to the address held: InvalidTransition if none is."""
        if self.pending_email is None:
            raise InvalidTransition("no change of address is waiting")
        old, self.email, self.pending_email = self.email, self.pending_email, None
        self.updated_at = now
        self.record(EmailChanged(occurred_at=now, user_id=self.id, old_email=old.value))

    @property
    def two_factor_on(self) -> bool:
        """Whether a login needs a one-time code (or a recovery code) too."""
        return self.second_factor is not None and self.second_factor.confirmed_at is not None

    def begin_two_factor(self, sealed_secret: str, now: datetime) -> None:
        """Hold a new secret until a code proves the authenticator has it; one begun
        before is replaced. InvalidTransition while two-factor login is on."""
        if self.two_factor_on:
            raise InvalidTransition("two-factor login is already on: turn it off first")
        self.second_factor = SecondFactor(sealed_secret)
        self.updated_at = now

    def confirm_two_factor(self, step: int, recovery_digests: Iterable[str], now: datetime) -> None:
        """Turn two-factor login on: a code of time step ``step`` matched the secret
        begun. InvalidTransition if none was begun or it is on already."""
        held = self.second_factor
        if held is None or held.confirmed_at is not None:
            raise InvalidTransition("begin two-factor login first")
        self.second_factor = SecondFactor(held.sealed_secret, now, step, tuple(recovery_digests))
        self.updated_at = now

    def accept_code(self, step: int, now: datetime) -> bool:
        """Use a code of time step ``step`` (it matched the secret): False for a step at
        or before the last one accepted, so that a code seen once is never good again."""
        held = self.second_factor
        if held is None or held.confirmed_at is None or step <= held.last_step:
            return False
        self.second_factor = SecondFactor(
            held.sealed_secret, held.confirmed_at, step, held.recovery_digests
        )
        self.updated_at = now
        return True

    def use_recovery_code(self, digest: str, now: datetime) -> bool:
        """Spend the recovery code of ``digest``: False if it is not one left."""
        held = self.second_factor
        if held is None or held.confirmed_at is None or digest not in held.recovery_digests:
            return False
        left = tuple(d for d in held.recovery_digests if d != digest)
        self.second_factor = SecondFactor(
            held.sealed_secret, held.confirmed_at, held.last_step, left
        )
        self.updated_at = now
        return True

    def replace_recovery_codes(self, digests: Iterable[str], now: datetime) -> None:
        held = self.second_factor
        if held is None or held.confirmed_at is None:
            raise InvalidTransition("two-factor login is off")
        self.second_factor = SecondFactor(
            held.sealed_secret, held.confirmed_at, held.last_step, tuple(digests)
        )
        self.updated_at = now

    def end_two_factor(self, now: datetime) -> None:
        """Turn two-factor login off (or drop one begun)."""
        self.second_factor = None
        self.updated_at = now

    @classmethod
    def register(
        cls,
        *,
        id: UserId,
        email: Email,
        display_name: str,
        password_hash: str,
        roles: frozenset[Role],
        now: datetime,
        verified: bool,
    ) -> User:
        user = cls(
            id=id,
            email=email,
            display_name=_clean_display_name(display_name),
            password_hash=password_hash,
            roles=roles,
            status=UserStatus.ACTIVE if verified else UserStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        user.record(UserRegistered(occurred_at=now, user_id=id, email=email.value))
        return user

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def permissions(self) -> frozenset[Permission]:
        if not self.is_active:
            return frozenset()
        granted: frozenset[Permission] = frozenset()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS[role]
        return granted

    def can(self, permission: Permission) -> bool:
        """Whether this user may exercise ``permission``; a user who is not active may not."""
        return permission in self.permissions()

    def request_password_reset(self, now: datetime) -> None:
        """Ask for a reset code to be mailed (an active account only)."""
        if not self.is_active:
            raise InvalidTransition(f"a {self.status.value} user cannot reset a password")
        self.record(PasswordResetRequested(occurred_at=now, user_id=self.id))

    def request_verification(self, now: datetime) -> None:
        """Ask for a new verification code to be mailed (a pending account only)."""
        if self.status is not UserStatus.PENDING:
            raise InvalidTransition(f"a {self.status.value} user has nothing to verify")
        self.record(VerificationRequested(occurred_at=now, user_id=self.id))

    def note_registration_attempt(self, now: datetime) -> None:
        """Someone tried to register this account's address (its owner is told)."""
        self.record(RegistrationAttempted(occurred_at=now, user_id=self.id))

    def activate(self, now: datetime) -> None:
        if self.status is not UserStatus.PENDING:
            raise InvalidTransition(f"cannot activate a {self.status.value} user")
        self.status = UserStatus.ACTIVE
        self.updated_at = now
        self.record(UserActivated(occurred_at=now, user_id=self.id))

    def disable(self, now: datetime) -> None:
        if self.status is UserStatus.DISABLED:
            raise InvalidTransition("user is already disabled")
        self.status = UserStatus.DISABLED
        self.updated_at = now
        self.record(UserDisabled(occurred_at=now, user_id=self.id))

    def enable(self, now: datetime) -> None:
        """Undo :meth:`disable`: the account is active again (an administrator vouches
        for it, so an address never verified counts as verified)."""
        if self.status is not UserStatus.DISABLED:
            raise InvalidTransition("user is not disabled")
        self.status = UserStatus.ACTIVE
        self.updated_at = now
        self.record(UserEnabled(occurred_at=now, user_id=self.id))

    def change_roles(self, roles: frozenset[Role], now: datetime) -> None:
        if not roles:
            raise ValidationError.field("roles", "at least one role is required")
        self.roles = roles
        self.updated_at = now
        self.record(
            RolesChanged(
                occurred_at=now, user_id=self.id, roles=tuple(sorted(r.value for r in roles))
            )
        )

    def change_password_hash(self, password_hash: str, now: datetime) -> None:
        self.password_hash = password_hash
        self.updated_at = now

    def touch(self, now: datetime) -> None:
        """Mark the user as changed so that a concurrent decision about them conflicts."""
        self.updated_at = now

    def change_profile(
        self,
        now: datetime,
        *,
        display_name: str | None = None,
        default_visibility: Visibility | None = None,
        bio: str | None = None,
        mail_on_processing: bool | None = None,
    ) -> None:
        """Change what is given (``None`` keeps it); a change is recorded as an event
        (a new name is shown beside the user's videos, so they are indexed again)."""
        name = self.display_name if display_name is None else _clean_display_name(display_name)
        visibility = default_visibility or self.default_visibility
        about = self.bio if bio is None else _clean_bio(bio)
        mail = self.mail_on_processing if mail_on_processing is None else mail_on_processing
        before = (self.display_name, self.default_visibility, self.bio, self.mail_on_processing)
        if (name, visibility, about, mail) == before:
            return
        renamed = name != self.display_name
        self.display_name, self.default_visibility = name, visibility
        self.bio, self.mail_on_processing = about, mail
        self.updated_at = now
        self.record(UserProfileChanged(occurred_at=now, user_id=self.id, renamed=renamed))


MAX_BIO = 500
"""A profile's "about" text, at most this many characters (line breaks allowed)."""


def _clean_bio(raw: str) -> str:
    if len(raw) > MAX_BIO:
        raise ValidationError.field("bio", f"must be at most {MAX_BIO} characters")
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in raw):
        raise ValidationError.field("bio", "must not contain control characters")
    return raw.strip()


MIN_PASSWORD_LENGTH = 10
# argon2 cost is paid per byte of input too; an upper bound keeps a login from being a DoS.
MAX_PASSWORD_LENGTH = 1024


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError.field(
            "password", f"must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError.field("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError.field("password", "must be valid Unicode text") from None


class Scope(enum.Enum):
    """What a personal API token may be used for; each HTTP operation needs one.
    Scopes narrow what a token's user may do, never widen it: an ``admin`` token of a
    creator is refused what a creator is refused."""

    READ = "read"  # reading: every GET
    WRITE = "write"  # changing what the user owns: edits, deletions, shares, tokens
    UPLOAD = "upload"  # sending videos, files and captions
    ADMIN = "admin"  # moderation and administration


ALL_SCOPES = frozenset(Scope)
"""A login session's scopes, and a personal token's unless it names fewer."""


def parse_scopes(names: Iterable[str]) -> frozenset[Scope]:
    """The scopes named (case and surrounding space aside); ValidationError on the field
    ``scopes`` for an unknown one or none at all."""
    return _parse_names(Scope, "scopes", "scope", names)


def scopes_text(scopes: frozenset[Scope]) -> str:
    """``scopes`` as stored and shown: their names in :class:`Scope`'s order."""
    return " ".join(s.value for s in Scope if s in scopes)


class TokenKind(enum.Enum):
    SESSION = "session"
    PERSONAL = "personal"
    EMAIL_VERIFICATION = "email_verification"
    PASSWORD_RESET = "password_reset"
    EMAIL_CHANGE = "email_change"
    DATA_EXPORT = "data_export"


@define(eq=False, kw_only=True)
class ApiToken(Aggregate):
    """A bearer credential. Only the hash of the secret is ever kept.

    A personal token carries ``scopes`` (a session has them all); one minted by another
    personal token names it as ``parent_id``, has no scope or lifetime beyond it, and
    is revoked with it."""

    id: TokenId
    user_id: UserId
    kind: TokenKind
    name: str
    token_hash: str = field(repr=False)
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None
    scopes: frozenset[Scope] = ALL_SCOPES
    parent_id: TokenId | None = None

    def is_usable(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now
