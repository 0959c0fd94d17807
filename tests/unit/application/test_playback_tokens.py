"""The playback token codec: what it signs, and that nothing else verifies."""

from __future__ import annotations

import hmac
import string
from datetime import UTC, datetime, timedelta

import pytest

from videoplatform.application.playback import PlaybackPolicy
from videoplatform.application.playback_tokens import (
    Grant,
    PlaybackClaims,
    generation_of,
    sign,
    verify,
)
from videoplatform.domain.errors import PermissionDenied
from videoplatform.domain.ids import ShareId, UserId, VideoId

SECRET = b"s" * 32
NOW = datetime(2026, 1, 1, tzinfo=UTC)
CLAIMS = PlaybackClaims(
    VideoId("01VIDEO0000000000000000000"),
    Grant.share(ShareId("01SHARE0000000000000000000")),
    int((NOW + timedelta(hours=1)).timestamp()),
    generation_of("videos/01VIDEO/hls-1/"),
)
ALPHABET = string.ascii_letters + string.digits + "-_."


def refusal(token: str, now: datetime = NOW, secret: bytes = SECRET) -> str:
    with pytest.raises(PermissionDenied) as refused:
        verify(secret, token, now)
    return refused.value.code


def test_a_signed_token_verifies_to_its_claims() -> None:
    assert verify(SECRET, sign(SECRET, CLAIMS), NOW) == CLAIMS
    assert CLAIMS.expires_at == NOW + timedelta(hours=1)


def test_changing_any_character_anywhere_is_refused() -> None:
    token = sign(SECRET, CLAIMS)
    for index, original in enumerate(token):
        for replacement in {ALPHABET[(ALPHABET.index(original) + step) % 65] for step in (1, 7)}:
            altered = token[:index] + replacement + token[index + 1 :]
            assert refusal(altered) == "playback_signature_invalid", (index, replacement)
    for altered in (token + "A", token[:-1], "." + token, token.replace(".", "..")):
        assert refusal(altered) == "playback_signature_invalid"


def test_a_token_is_refused_from_the_instant_it_expires() -> None:
    token = sign(SECRET, CLAIMS)
    assert verify(SECRET, token, CLAIMS.expires_at - timedelta(microseconds=1)) == CLAIMS
    assert refusal(token, CLAIMS.expires_at) == "playback_expired"


def test_another_secret_or_another_video_is_refused() -> None:
    token = sign(SECRET, CLAIMS)
    assert refusal(token, secret=b"t" * 32) == "playback_signature_invalid"
    # Re-signing is the only way to name another video, and that needs the secret.
    other = PlaybackClaims(VideoId("01OTHER"), CLAIMS.grant, CLAIMS.expires, CLAIMS.generation)
    payload = sign(b"attacker key of 32 bytes or more!", other).split(".")[0]
    assert refusal(payload + "." + token.split(".")[1]) == "playback_signature_invalid"


def test_the_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    verify(SECRET, sign(SECRET, CLAIMS), NOW)
    assert len(compared) == 1
    assert len(compared[0][0]) == len(compared[0][1]) == 32


def test_each_processing_run_has_its_own_generation() -> None:
    assert generation_of("videos/v/hls-1/") != generation_of("videos/v/hls-2/")
    assert generation_of("videos/v/hls-1/") == generation_of("videos/v/hls-1/")


def test_grants_round_trip_and_refuse_odd_subjects() -> None:
    for grant in (Grant.public(), Grant.user(UserId("01U")), Grant.share(ShareId("01S"))):
        assert Grant.parse(str(grant)) == grant
    with pytest.raises(ValueError):
        Grant.user(UserId("a|b"))


def test_the_policy_needs_a_long_secret_and_clamps_lifetimes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PlaybackPolicy(b"short")
    policy = PlaybackPolicy(SECRET, timedelta(hours=2))
    assert policy.clamp(None) == timedelta(hours=2)
    assert policy.clamp(timedelta(days=9)) == timedelta(hours=2)
    assert policy.clamp(timedelta(seconds=1)) == timedelta(minutes=1)
    assert "s" * 32 not in repr(policy)
