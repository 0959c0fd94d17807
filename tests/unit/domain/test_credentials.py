"""Bearer secrets: stored as a SHA-256 digest, compared in constant time; API tokens
expire and can be revoked."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.unit.domain.builders import LATER, NOW, ONE_MICROSECOND
from videoplatform.domain.credentials import digest_token, token_matches
from videoplatform.domain.ids import TokenId, UserId
from videoplatform.domain.users import ApiToken, TokenKind

# -- digests -----------------------------------------------------------------------------


def test_digest_is_the_sha256_hex_of_the_token() -> None:
    # FIPS 180-2 test vector for "abc".
    assert digest_token("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_digest_encodes_the_token_as_utf8() -> None:
    # sha256 of the UTF-8 bytes c3 a9 for "é" (latin-1 would give de2e331d...).
    assert digest_token("é") == ("4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c")


def test_digest_is_64_lowercase_hex_characters_and_does_not_contain_the_token() -> None:
    token = "vp_secret_token_value"
    digest = digest_token(token)
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")
    assert token not in digest


def test_digest_is_deterministic_and_differs_between_tokens() -> None:
    assert digest_token("token-a") == digest_token("token-a")
    assert digest_token("token-a") != digest_token("token-b")


def test_token_matches_its_own_digest() -> None:
    assert token_matches("token-a", digest_token("token-a"))


@pytest.mark.parametrize("presented", ["token-b", "token-a ", "TOKEN-A", ""])
def test_token_does_not_match_another_tokens_digest(presented: str) -> None:
    assert not token_matches(presented, digest_token("token-a"))


def test_token_does_not_match_the_plain_token_stored_instead_of_a_digest() -> None:
    assert not token_matches("token-a", "token-a")


# -- API tokens --------------------------------------------------------------------------


def _token(*, expires_at: datetime | None, revoked_at: datetime | None = None) -> ApiToken:
    return ApiToken(
        id=TokenId("token-1"),
        user_id=UserId("user-1"),
        kind=TokenKind.PERSONAL,
        name="laptop",
        token_hash=digest_token("secret"),
        created_at=NOW,
        expires_at=expires_at,
        revoked_at=revoked_at,
    )


def test_token_without_expiry_is_usable() -> None:
    assert _token(expires_at=None).is_usable(NOW)


def test_token_is_usable_just_before_it_expires() -> None:
    assert _token(expires_at=LATER).is_usable(LATER - ONE_MICROSECOND)


def test_token_is_not_usable_at_the_instant_it_expires() -> None:
    assert not _token(expires_at=LATER).is_usable(LATER)


def test_token_is_not_usable_after_it_expires() -> None:
    assert not _token(expires_at=LATER).is_usable(LATER + ONE_MICROSECOND)


def test_revoked_token_is_not_usable_from_the_instant_of_revocation() -> None:
    token = _token(expires_at=None)
    token.revoke(LATER)
    assert token.revoked_at == LATER
    assert not token.is_usable(LATER)
    assert not token.is_usable(LATER + ONE_MICROSECOND)


def test_revoked_token_is_not_usable_even_before_its_expiry() -> None:
    token = _token(expires_at=LATER, revoked_at=NOW)
    assert not token.is_usable(NOW)


def test_revoking_twice_keeps_the_first_revocation_time() -> None:
    token = _token(expires_at=None)
    token.revoke(NOW)
    token.revoke(LATER)
    assert token.revoked_at == NOW


def test_token_secret_digest_is_not_shown_in_repr() -> None:
    assert digest_token("secret") not in repr(_token(expires_at=None))


def test_token_kinds_are_stable_strings() -> None:
    assert [k.value for k in TokenKind] == [
        "session",
        "personal",
        "email_verification",
        "password_reset",
        "email_change",
        "data_export",
    ]
