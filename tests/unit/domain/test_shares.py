"""Share links: expiring, optionally password-protected, countable, revocable."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.unit.domain.builders import LATER, NOW, ONE_MICROSECOND, OWNER_ID, SHARE_ID
from videoplatform.domain.errors import ShareRefused, ValidationError
from videoplatform.domain.events import ShareCreated, ShareRedeemed, ShareRevoked
from videoplatform.domain.shares import (
    MAX_SHARE_USES,
    Share,
    ShareDecision,
    ShareRefusal,
    ShareTarget,
    ShareTargetKind,
)

EXPIRES = NOW + timedelta(days=7)
TARGET = ShareTarget(ShareTargetKind.VIDEO, "video-1")
RIGHT_PASSWORD = "open sesame"
PASSWORD_HASH = "hash-of-open-sesame"


class RecordingChecker:
    """A password check that answers from a fixed right password and records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, password: str, stored_hash: str) -> bool:
        self.calls.append((password, stored_hash))
        return password == RIGHT_PASSWORD and stored_hash == PASSWORD_HASH


def _share(
    *,
    expires_at: datetime | None = EXPIRES,
    password_hash: str | None = None,
    max_uses: int | None = None,
) -> Share:
    return Share.create(
        id=SHARE_ID,
        owner_id=OWNER_ID,
        target=TARGET,
        token_hash="digest-of-token",
        now=NOW,
        expires_at=expires_at,
        password_hash=password_hash,
        max_uses=max_uses,
    )


def _refusal(share: Share, now: datetime, password: str | None = None) -> ShareRefusal | None:
    return share.authorize(now, password, RecordingChecker()).refusal


# -- creation ----------------------------------------------------------------------------


def test_create_records_share_created_and_starts_unused() -> None:
    share = _share()
    assert share.use_count == 0
    assert share.revoked_at is None
    assert share.created_at == NOW
    assert share.target == TARGET
    assert share.pull_events() == [ShareCreated(occurred_at=NOW, share_id=SHARE_ID)]


@pytest.mark.parametrize(
    "expires_at",
    [NOW, NOW - ONE_MICROSECOND, NOW - timedelta(days=1)],
    ids=["now", "just-before-now", "yesterday"],
)
def test_create_refuses_an_expiry_that_is_not_in_the_future(expires_at: datetime) -> None:
    with pytest.raises(ValidationError) as caught:
        _share(expires_at=expires_at)
    assert caught.value.fields == {"expires_at": "must be in the future"}


def test_create_accepts_an_expiry_just_after_now_and_no_expiry() -> None:
    assert _share(expires_at=NOW + ONE_MICROSECOND).expires_at == NOW + ONE_MICROSECOND
    assert _share(expires_at=None).expires_at is None


@pytest.mark.parametrize("max_uses", [0, -1, MAX_SHARE_USES + 1])
def test_create_refuses_a_bad_max_uses(max_uses: int) -> None:
    with pytest.raises(ValidationError) as caught:
        _share(max_uses=max_uses)
    assert set(caught.value.fields) == {"max_uses"}


@pytest.mark.parametrize("max_uses", [1, 2, MAX_SHARE_USES, None])
def test_create_accepts_max_uses_within_bounds_or_unlimited(max_uses: int | None) -> None:
    assert _share(max_uses=max_uses).max_uses == max_uses


def test_requires_password_follows_the_stored_hash() -> None:
    assert _share(password_hash=PASSWORD_HASH).requires_password
    assert not _share().requires_password


def test_token_and_password_hashes_are_not_shown_in_repr() -> None:
    text = repr(_share(password_hash=PASSWORD_HASH))
    assert "digest-of-token" not in text
    assert PASSWORD_HASH not in text


# -- authorize ---------------------------------------------------------------------------


def test_live_share_is_allowed() -> None:
    decision = _share().authorize(NOW, None, RecordingChecker())
    assert decision == ShareDecision(allowed=True, refusal=None)


def test_share_without_expiry_is_allowed_far_in_the_future() -> None:
    assert _refusal(_share(expires_at=None), NOW + timedelta(days=3650)) is None


def test_revoked_share_is_refused() -> None:
    share = _share()
    share.revoke(NOW)
    decision = share.authorize(LATER, None, RecordingChecker())
    assert decision == ShareDecision(allowed=False, refusal=ShareRefusal.REVOKED)


def test_share_is_allowed_just_before_it_expires() -> None:
    assert _refusal(_share(), EXPIRES - ONE_MICROSECOND) is None


def test_expired_share_is_refused_exactly_at_expires_at() -> None:
    assert _refusal(_share(), EXPIRES) is ShareRefusal.EXPIRED


def test_expired_share_is_refused_after_expires_at() -> None:
    assert _refusal(_share(), EXPIRES + timedelta(seconds=1)) is ShareRefusal.EXPIRED


def test_share_with_uses_left_is_allowed() -> None:
    share = _share(max_uses=2)
    share.use_count = 1
    assert _refusal(share, NOW) is None


def test_exhausted_share_is_refused() -> None:
    share = _share(max_uses=2)
    share.use_count = 2
    assert _refusal(share, NOW) is ShareRefusal.EXHAUSTED


@pytest.mark.parametrize("password", [None, ""], ids=["none", "empty"])
def test_password_protected_share_without_a_password_asks_for_one(password: str | None) -> None:
    checker = RecordingChecker()
    share = _share(password_hash=PASSWORD_HASH)
    decision = share.authorize(NOW, password, checker)
    assert decision.refusal is ShareRefusal.PASSWORD_REQUIRED
    assert not decision.allowed
    assert checker.calls == []


def test_password_protected_share_with_a_wrong_password_is_refused() -> None:
    checker = RecordingChecker()
    share = _share(password_hash=PASSWORD_HASH)
    decision = share.authorize(NOW, "guess", checker)
    assert decision.refusal is ShareRefusal.PASSWORD_WRONG
    assert checker.calls == [("guess", PASSWORD_HASH)]


def test_password_protected_share_with_the_right_password_is_allowed() -> None:
    checker = RecordingChecker()
    share = _share(password_hash=PASSWORD_HASH)
    decision = share.authorize(NOW, RIGHT_PASSWORD, checker)
    assert decision.allowed
    assert decision.refusal is None
    assert checker.calls == [(RIGHT_PASSWORD, PASSWORD_HASH)]


def test_share_without_password_never_consults_the_checker() -> None:
    checker = RecordingChecker()
    assert _share().authorize(NOW, "anything", checker).allowed
    assert checker.calls == []


def _revoked(share: Share) -> Share:
    share.revoke(NOW)
    return share


def _exhausted(share: Share) -> Share:
    share.use_count = share.max_uses or 0
    return share


@pytest.mark.parametrize(
    ("dead_share", "now", "reason"),
    [
        pytest.param(
            _revoked(_share(password_hash=PASSWORD_HASH)), NOW, ShareRefusal.REVOKED, id="revoked"
        ),
        pytest.param(
            _share(password_hash=PASSWORD_HASH), EXPIRES, ShareRefusal.EXPIRED, id="expired"
        ),
        pytest.param(
            _exhausted(_share(password_hash=PASSWORD_HASH, max_uses=1)),
            NOW,
            ShareRefusal.EXHAUSTED,
            id="exhausted",
        ),
    ],
)
@pytest.mark.parametrize("password", [None, "guess", RIGHT_PASSWORD])
def test_dead_password_protected_link_says_it_is_dead_and_never_checks_the_password(
    dead_share: Share, now: datetime, reason: ShareRefusal, password: str | None
) -> None:
    checker = RecordingChecker()
    assert dead_share.authorize(now, password, checker).refusal is reason
    assert checker.calls == []


def test_revoked_wins_over_expired_and_exhausted() -> None:
    share = _share(max_uses=1)
    share.use_count = 1
    share.revoke(NOW)
    assert _refusal(share, EXPIRES + timedelta(days=1)) is ShareRefusal.REVOKED


def test_expired_wins_over_exhausted() -> None:
    share = _share(max_uses=1)
    share.use_count = 1
    assert _refusal(share, EXPIRES) is ShareRefusal.EXPIRED


def test_authorize_does_not_use_the_link() -> None:
    share = _share(max_uses=1)
    share.pull_events()
    share.authorize(NOW, None, RecordingChecker())
    share.authorize(NOW, None, RecordingChecker())
    assert share.use_count == 0
    assert share.pull_events() == []


# -- redeem ------------------------------------------------------------------------------


def test_redeem_counts_the_use_and_records_share_redeemed() -> None:
    share = _share(max_uses=3)
    share.pull_events()
    share.redeem(NOW, None, RecordingChecker())
    share.redeem(LATER, None, RecordingChecker())
    assert share.use_count == 2
    assert share.pull_events() == [
        ShareRedeemed(occurred_at=NOW, share_id=SHARE_ID, use_count=1),
        ShareRedeemed(occurred_at=LATER, share_id=SHARE_ID, use_count=2),
    ]


def test_redeem_with_the_right_password_counts_the_use() -> None:
    share = _share(password_hash=PASSWORD_HASH)
    share.redeem(NOW, RIGHT_PASSWORD, RecordingChecker())
    assert share.use_count == 1


def test_single_use_share_is_exhausted_after_one_redeem() -> None:
    share = _share(max_uses=1)
    share.redeem(NOW, None, RecordingChecker())
    with pytest.raises(ShareRefused) as caught:
        share.redeem(NOW, None, RecordingChecker())
    assert caught.value.reason == "exhausted"
    assert share.use_count == 1


@pytest.mark.parametrize(
    ("share", "now", "password", "reason"),
    [
        pytest.param(_revoked(_share()), NOW, None, "revoked", id="revoked"),
        pytest.param(_share(), EXPIRES, None, "expired", id="expired"),
        pytest.param(_exhausted(_share(max_uses=5)), NOW, None, "exhausted", id="exhausted"),
        pytest.param(
            _share(password_hash=PASSWORD_HASH), NOW, None, "password_required", id="no-password"
        ),
        pytest.param(
            _share(password_hash=PASSWORD_HASH), NOW, "", "password_required", id="empty-password"
        ),
        pytest.param(
            _share(password_hash=PASSWORD_HASH), NOW, "guess", "password_wrong", id="wrong"
        ),
    ],
)
def test_refused_redeem_raises_share_refused_and_does_not_count(
    share: Share, now: datetime, password: str | None, reason: str
) -> None:
    share.pull_events()
    uses_before = share.use_count
    with pytest.raises(ShareRefused) as caught:
        share.redeem(now, password, RecordingChecker())
    assert caught.value.reason == reason
    assert caught.value.code == f"share_{reason}"
    assert share.use_count == uses_before
    assert share.pull_events() == []


def test_share_refused_codes_match_every_refusal_reason() -> None:
    codes = {ShareRefused(r.value).code for r in ShareRefusal}
    assert codes == {
        "share_revoked",
        "share_expired",
        "share_exhausted",
        "share_password_required",
        "share_password_wrong",
    }


# -- revoke ------------------------------------------------------------------------------


def test_revoke_marks_the_share_revoked_and_records_it_once() -> None:
    share = _share()
    share.pull_events()
    share.revoke(NOW)
    share.revoke(LATER)
    assert share.is_revoked()
    assert share.revoked_at == NOW
    assert share.pull_events() == [ShareRevoked(occurred_at=NOW, share_id=SHARE_ID)]


def test_fresh_share_is_not_revoked() -> None:
    assert not _share().is_revoked()


def test_decision_helpers_build_allow_and_refuse() -> None:
    assert ShareDecision.allow() == ShareDecision(True, None)
    assert ShareDecision.refuse(ShareRefusal.EXPIRED) == ShareDecision(False, ShareRefusal.EXPIRED)
