"""Time-based one-time passwords with pyotp (RFC 6238, the algorithm every
authenticator app implements) and their QR codes with segno (pure Python, SVG)."""

from __future__ import annotations

import io
from datetime import datetime

import pyotp
import segno

SECRET_CHARACTERS = 32  # 160 bits, as RFC 4226 recommends
STEP_SECONDS = 30
DIGITS = 6


class PyotpOneTimePasswords:
    def new_secret(self) -> str:
        # 32 base32 characters from the secrets module: 160 bits.
        return pyotp.random_base32(length=SECRET_CHARACTERS)

    def provisioning_uri(self, secret: str, account: str, issuer: str) -> str:
        return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
            name=account, issuer_name=issuer
        )

    def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
        code = "".join(code.split())
        if len(code) != DIGITS or not code.isascii() or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
        step = totp.timecode(at)
        for candidate in (step, step - 1, step + 1):
            # pyotp compares in constant time (hmac.compare_digest).
            if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
                return candidate
        return None

    def qr_svg(self, text: str) -> str:
        out = io.BytesIO()
        segno.make(text, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
        return out.getvalue().decode()
