"""The mail the account use cases send, as text kept in one place."""

from __future__ import annotations

from videoplatform.application.ports.mail import MailMessage


def address_taken(address: str) -> MailMessage:
    """To the owner of an address someone tried to register again."""
    return MailMessage(
        to=address,
        subject="Someone tried to register with your address",
        body=(
            "An account already exists for this address, so nothing was "
            "created. If this was you, log in, or reset your password."
        ),
    )


def verification_code(address: str, code: str) -> MailMessage:
    return MailMessage(
        to=address,
        subject="Confirm your email address",
        body=f"Your verification code is:\n\n{code}\n",
    )


def password_reset_code(address: str, code: str) -> MailMessage:
    return MailMessage(
        to=address,
        subject="Reset your password",
        body=f"Your password reset code (valid for one hour) is:\n\n{code}\n",
    )
