"""Share links to a file or a video: expiring, optionally password-protected, countable,
revocable. The link's token is shown once; only its digest is stored."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime

from attrs import define, field, frozen

from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.errors import ShareRefused, ValidationError
from videoplatform.domain.events import ShareCreated, ShareRedeemed, ShareRevoked
from videoplatform.domain.ids import ShareId, UserId
from videoplatform.domain.users import Permission, User


class ShareTargetKind(enum.Enum):
    VIDEO = "video"
    FILE = "file"


@frozen
class ShareTarget:
    kind: ShareTargetKind
    id: str


class ShareRefusal(enum.Enum):
    REVOKED = "revoked"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    PASSWORD_REQUIRED = "password_required"
    PASSWORD_WRONG = "password_wrong"


@frozen
class ShareDecision:
    allowed: bool
    refusal: ShareRefusal | None = None

    @classmethod
    def allow(cls) -> ShareDecision:
        return cls(True)

    @classmethod
    def refuse(cls, refusal: ShareRefusal) -> ShareDecision:
        return cls(False, refusal)


PasswordCheck = Callable[[str, str], bool]
"""``check(password, stored_hash)``; injected so the domain stays free of crypto libraries."""

MAX_SHARE_USES = 1_000_000
MAX_SHARE_TOKEN = 512
"""A presented link token is at most this long (issued ones are 43 characters)."""


@define(eq=False, kw_only=True)
class Share(Aggregate):
    id: ShareId
    owner_id: UserId
    target: ShareTarget
    token_hash: str = field(repr=False)
    created_at: datetime
    expires_at: datetime | None = None
    password_hash: str | None = field(default=None, repr=False)
    max_uses: int | None = None
    use_count: int = 0
    revoked_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        id: ShareId,
        owner_id: UserId,
        target: ShareTarget,
        token_hash: str,
        now: datetime,
        expires_at: datetime | None,
        password_hash: str | None,
        max_uses: int | None,
    ) -> Share:
        if expires_at is not None and expires_at <= now:
            raise ValidationError.field("expires_at", "must be in the future")
        if max_uses is not None and not 1 <= max_uses <= MAX_SHARE_USES:
            raise ValidationError.field("max_uses", f"must be between 1 and {MAX_SHARE_USES}")
        share = cls(
            id=id,
            owner_id=owner_id,
            target=target,
            token_hash=token_hash,
            created_at=now,
            expires_at=expires_at,
            password_hash=password_hash,
            max_uses=max_uses,
        )
        share.record(ShareCreated(occurred_at=now, share_id=id))
        return share

    @property
    def requires_password(self) -> bool:
        return self.password_hash is not None

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def dead_because(self, now: datetime) -> ShareRefusal | None:
        """Why the link can no longer be used at ``now`` (revoked, expired or used up),
        or None while it can."""
        if self.revoked_at is not None:
            return ShareRefusal.REVOKED
        if self.expires_at is not None and now >= self.expires_at:
            return ShareRefusal.EXPIRED
        if self.max_uses is not None and self.use_count >= self.max_uses:
            return ShareRefusal.EXHAUSTED
        return None

    def authorize(
        self, now: datetime, password: str | None, check_password: PasswordCheck
    ) -> ShareDecision:
        """Decide whether the link may be used now, and if not, say why.

        Order matters: a dead link says it is dead before asking for a password, so a
        password is never checked (nor guessable) on a link that could not be used anyway.
        """
        dead = self.dead_because(now)
        if dead is not None:
            return ShareDecision.refuse(dead)
        if self.password_hash is not None:
            if not password:
                return ShareDecision.refuse(ShareRefusal.PASSWORD_REQUIRED)
            if not check_password(password, self.password_hash):
                return ShareDecision.refuse(ShareRefusal.PASSWORD_WRONG)
        return ShareDecision.allow()

    def redeem(self, now: datetime, password: str | None, check_password: PasswordCheck) -> None:
        """Use the link once, or raise :class:`ShareRefused` with the reason."""
        decision = self.authorize(now, password, check_password)
        if decision.refusal is not None:
            raise ShareRefused(decision.refusal.value)
        self.use_count += 1
        self.record(ShareRedeemed(occurred_at=now, share_id=self.id, use_count=self.use_count))

    def is_backed_by(self, owner: User | None) -> bool:
        """A link works only while its owner is active and may still share."""
        return (
            owner is not None and owner.id == self.owner_id and owner.can(Permission.SHARE_CREATE)
        )

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now
            self.record(ShareRevoked(occurred_at=now, share_id=self.id))
