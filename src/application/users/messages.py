"""The mail the account use cases send, as text kept in one place."""

from __future__ import annotations

from urllib.parse import quote

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


def verification_code(address: str, code: str, site_url: str = "") -> MailMessage:
    return MailMessage(
        to=address,
        subject="Confirm your email address",
        body=f"Your verification code is:\n\n{code}\n" + _link(site_url, "/verify", code),
    )


def password_reset_code(address: str, code: str, site_url: str = "") -> MailMessage:
    return MailMessage(
        to=address,
        subject="Reset your password",
        body=f"Your password reset code (valid for one hour) is:\n\n{code}\n"
        + _link(site_url, "/password/reset", code),
    )


def email_change_code(address: str, code: str, site_url: str = "") -> MailMessage:
    """To the address an account asked to move to."""
    return MailMessage(
        to=address,
        subject="Confirm your new email address",
        body="Someone asked to move their account to this address. If that was you, "
        f"confirm it with this code (valid for one day):\n\n{code}\n"
        + _link(site_url, "/account/email/confirm", code)
        + "\nIf it was not you, ignore this mail: nothing changes without the code.\n",
    )


def address_changed(old: str, new: str) -> MailMessage:
    """To the address an account left."""
    return MailMessage(
        to=old,
        subject="Your account's email address was changed",
        body=f"Your account now uses {new} instead of this address. If you did not do "
        "this, someone may know your password: contact the site's administrators at "
        "once.",
    )


def video_ready(address: str, title: str, video_id: str, site_url: str = "") -> MailMessage:
    """To the owner of a video that finished processing."""
    where = f"\nWatch it:\n\n{site_url.rstrip('/')}/watch/{video_id}\n" if site_url else ""
    return MailMessage(
        to=address,
        subject=f"Your video is ready: {_subject(title)}",
        body=f"“{title}” is processed and ready to watch.\n" + where + _unsubscribe(site_url),
    )


def video_failed(address: str, title: str, reason: str, site_url: str = "") -> MailMessage:
    """To the owner of a video that could not be processed."""
    where = f"\nYour videos:\n\n{site_url.rstrip('/')}/my/videos\n" if site_url else ""
    return MailMessage(
        to=address,
        subject=f"Your video could not be processed: {_subject(title)}",
        body=f"“{title}” could not be processed: {reason}\n" + where + _unsubscribe(site_url),
    )


def _subject(title: str) -> str:
    """A title fit for a subject line: one line, not too long."""
    line = " ".join(title.split())
    return line if len(line) <= 80 else line[:79] + "…"


def _unsubscribe(site_url: str) -> str:
    page = f" ({site_url.rstrip('/')}/account/profile)" if site_url else ""
    return f"\nYou can stop these mails on your profile{page}.\n"


def _link(site_url: str, page: str, code: str) -> str:
    """A link to the site's page that takes the code, when the site's address is
    known. The code goes in the fragment: browsers never send it to a server, so no
    access log on the way keeps it."""
    if not site_url:
        return ""
    return f"\nOr open this link:\n\n{site_url.rstrip('/')}{page}#{quote(code, safe='')}\n"
