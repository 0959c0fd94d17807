"""Bearer secrets from the operating system's CSPRNG."""

from __future__ import annotations

import secrets

TOKEN_BYTES = 32  # 256 bits: comfortably above the 128-bit floor


class SecretsTokenGenerator:
    def __init__(self, nbytes: int = TOKEN_BYTES) -> None:
        if nbytes < 16:
            raise ValueError("tokens need at least 128 bits")
        self._nbytes = nbytes

    def new_token(self) -> str:
        return secrets.token_urlsafe(self._nbytes)
