"""Password hashers and token generators keep the security ports' contracts."""

from __future__ import annotations

import re

import pytest

from tests.contracts.conftest import (
    CHEAP_MEMORY_KIB,
    CHEAP_PARALLELISM,
    CHEAP_TIME_COST,
    HasherFactory,
    TokenGeneratorFactory,
)
from videoplatform.application.ports.system import PasswordHasher, TokenGenerator

PASSWORD = "correct horse battery staple"

# -- password hashing ------------------------------------------------------------------


def test_a_hash_is_an_argon2id_string_with_its_parameters(password_hasher: PasswordHasher) -> None:
    hashed = password_hasher.hash(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert f"m={CHEAP_MEMORY_KIB},t={CHEAP_TIME_COST},p={CHEAP_PARALLELISM}" in hashed
    assert PASSWORD not in hashed


def test_the_right_password_verifies_and_a_wrong_one_does_not(
    password_hasher: PasswordHasher,
) -> None:
    hashed = password_hasher.hash(PASSWORD)
    assert password_hasher.verify(PASSWORD, hashed) is True
    assert password_hasher.verify(PASSWORD + " ", hashed) is False
    assert password_hasher.verify(PASSWORD.upper(), hashed) is False
    assert password_hasher.verify("", hashed) is False


def test_non_ascii_passwords_round_trip(password_hasher: PasswordHasher) -> None:
    password = "pässwörd — 密码 🔑"
    hashed = password_hasher.hash(password)
    assert password_hasher.verify(password, hashed) is True
    assert password_hasher.verify("passwort — 密码 🔑", hashed) is False


def test_two_hashes_of_one_password_differ_by_their_salt(password_hasher: PasswordHasher) -> None:
    first, second = password_hasher.hash(PASSWORD), password_hasher.hash(PASSWORD)
    assert first != second
    assert password_hasher.verify(PASSWORD, first)
    assert password_hasher.verify(PASSWORD, second)


@pytest.mark.parametrize(
    "malformed",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-hash", id="garbage"),
        pytest.param("$argon2id$", id="prefix-only"),
        pytest.param("$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$", id="no-digest"),
        pytest.param("$argon2id$v=19$m=1024,t=0,p=1$c29tZXNhbHQ$aGFzaA", id="zero-cost"),
        pytest.param("$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", id="bcrypt"),
        pytest.param("$argon2id$v=19$m=1024,t=1,p=1$sälz$häsh", id="non-ascii"),
        pytest.param("\x00", id="nul"),
    ],
)
def test_a_malformed_hash_verifies_as_false_without_raising(
    password_hasher: PasswordHasher, malformed: str
) -> None:
    assert password_hasher.verify(PASSWORD, malformed) is False


def test_a_truncated_hash_verifies_as_false(password_hasher: PasswordHasher) -> None:
    hashed = password_hasher.hash(PASSWORD)
    assert password_hasher.verify(PASSWORD, hashed[:-6]) is False


def test_a_hash_needs_no_rehash_under_the_same_parameters(
    password_hasher: PasswordHasher,
) -> None:
    assert password_hasher.needs_rehash(password_hasher.hash(PASSWORD)) is False


@pytest.mark.parametrize(
    "stronger",
    [
        pytest.param({"time_cost": CHEAP_TIME_COST + 1}, id="time"),
        pytest.param({"memory_cost_kib": CHEAP_MEMORY_KIB * 2}, id="memory"),
        pytest.param({"parallelism": CHEAP_PARALLELISM + 1}, id="parallelism"),
    ],
)
def test_a_hash_needs_rehash_once_the_parameters_grow(
    make_password_hasher: HasherFactory, stronger: dict[str, int]
) -> None:
    old = make_password_hasher().hash(PASSWORD)
    current = make_password_hasher(**stronger)
    assert current.needs_rehash(old) is True
    # The old hash still logs the user in, so it can be upgraded on that login.
    assert current.verify(PASSWORD, old) is True
    assert current.needs_rehash(current.hash(PASSWORD)) is False


# -- tokens ----------------------------------------------------------------------------

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
MIN_CHARS_FOR_128_BITS = 22  # 128 bits / 6 bits per base64url character, rounded up


def test_tokens_are_url_safe_with_at_least_128_bits(token_generator: TokenGenerator) -> None:
    for _ in range(50):
        token = token_generator.new_token()
        assert URL_SAFE.match(token), token
        assert len(token) >= MIN_CHARS_FOR_128_BITS


def test_a_thousand_tokens_are_all_distinct(token_generator: TokenGenerator) -> None:
    tokens = {token_generator.new_token() for _ in range(1000)}
    assert len(tokens) == 1000


@pytest.mark.parametrize("nbytes", [16, 24, 64])
def test_a_generator_of_n_bytes_gives_that_much_entropy(
    make_token_generator: TokenGeneratorFactory, nbytes: int
) -> None:
    token = make_token_generator(nbytes).new_token()
    assert URL_SAFE.match(token)
    assert len(token) >= -(-nbytes * 8 // 6)


@pytest.mark.parametrize("nbytes", [0, 8, 15])
def test_a_generator_below_128_bits_is_refused(
    make_token_generator: TokenGeneratorFactory, nbytes: int
) -> None:
    with pytest.raises(ValueError, match="128"):
        make_token_generator(nbytes)
