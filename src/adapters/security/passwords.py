"""argon2id password hashing through argon2-cffi.

argon2-cffi is the maintained binding of the reference implementation; writing our own
key-derivation code would be strictly worse.
"""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2PasswordHasher:
    """RFC 9106 "second recommended" parameters by default (64 MiB, t=3, p=4)."""

    def __init__(
        self, time_cost: int = 3, memory_cost_kib: int = 64 * 1024, parallelism: int = 4
    ) -> None:
        self._argon2 = _Argon2(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeError):
            # UnicodeError: a hash or password that is not encodable (lone surrogates,
            # non-ASCII garbage in a stored hash) cannot match anything.
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except (InvalidHashError, UnicodeError):
            return True
