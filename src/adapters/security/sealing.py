"""Secrets sealed with Fernet (AES-128-CBC with HMAC-SHA256, from the well-kept
``cryptography`` package) under a key derived from a secret kept outside the database."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

LABEL = b"videoplatform sealed secrets v1"
"""Keys sealing secrets are derived from the configured secret under this label, so
they differ from every other use of that secret (such as signing playback URLs)."""


class FernetSecretBox:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the sealing secret needs at least 32 bytes")
        key = hmac.new(secret, LABEL, hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as error:
            raise ValueError("not sealed under this key") from error
