"""A :class:`Mailer` that hands messages to an SMTP server.

``smtp://[user:password@]host[:port]`` (port 587 unless given) speaks STARTTLS whenever
the server offers it, and requires it before a password is sent anywhere but to this
machine; ``smtps://`` (port 465) is TLS from the first byte. Each message goes out in a
connection of its own (account mail is rare, and a kept connection would only go stale),
with a timeout on every step, as text with an HTML alternative rendered from it by the
package's template (``message.html``).

A server that cannot be reached, refuses for now (4xx) or drops the connection raises
``Unavailable``: the durable mail handler puts the event back and tries again later,
and no request ever waits on the mail server (the platform puts the mailer behind a
circuit breaker: after repeated failures it stops trying for a while). A permanent
refusal (5xx: an address the server will never take) raises ``MailRefused``, which is
retried and dead-lettered like any failure.

A ping (a health check) connects, asks NOOP and says QUIT, with the shorter of the two
timeouts; it sends no message and needs no login.
"""

from __future__ import annotations

import html
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from importlib.resources import files
from ipaddress import ip_address
from string import Template
from urllib.parse import unquote, urlsplit

from attrs import frozen

from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS, Unavailable
from videoplatform.application.ports.mail import MailMessage

TIMEOUT_SECONDS = 10.0
_LINK = re.compile(r"https?://[^\s<>\"]+")


class MailRefused(Exception):
    """The server refused the message for good (a 5xx answer)."""


@frozen
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    user: str | None
    password: str | None


def smtp_settings(url: str) -> SmtpSettings:
    """Parse ``smtp://`` or ``smtps://`` (ValueError for anything else)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("a mail URL is smtp://[user:password@]host[:port] or smtps://...")
    implicit = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 587),
        implicit_tls=implicit,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpMailer:
    def __init__(
        self,
        url: str,
        sender: str,
        reply_to: str = "",
        *,
        timeout: float = TIMEOUT_SECONDS,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._server = smtp_settings(url)
        if not parseaddr(sender)[1]:
            raise ValueError(f"the sender {sender!r} is not a mail address")
        self._sender = sender
        self._reply_to = reply_to
        self._timeout = timeout
        self._tls = tls or ssl.create_default_context()

    def send(self, message: MailMessage) -> None:
        email = self.compose(message)
        try:
            with self._connect() as client:
                client.send_message(email)
        except smtplib.SMTPResponseException as refused:
            if refused.smtp_code >= 500:
                raise MailRefused(f"{refused.smtp_code} {refused.smtp_error!r}") from None
            raise Unavailable("mail", f"{refused.smtp_code} (try later)") from None
        except smtplib.SMTPRecipientsRefused as refused:
            raise MailRefused(f"recipient refused: {refused.recipients!r}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise Unavailable("mail", f"{type(error).__name__}: {error}") from None

    def ping(self) -> None:
        server = self._server
        timeout = min(self._timeout, PING_TIMEOUT_SECONDS)
        try:
            # smtps:// speaks TLS from the first byte: a plain greeting would never come.
            client = (
                smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=self._tls)
                if server.implicit_tls
                else smtplib.SMTP(server.host, server.port, timeout=timeout)
            )
        except (OSError, smtplib.SMTPException) as error:
            raise Unavailable("mail", f"{type(error).__name__}: {error}") from None
        try:
            code, answer = client.noop()
            if code != 250:
                raise Unavailable("mail", f"the server answered NOOP with {code} {answer!r}")
            client.quit()
        except (OSError, smtplib.SMTPException) as error:
            raise Unavailable("mail", f"{type(error).__name__}: {error}") from None
        finally:
            client.close()

    def _connect(self) -> smtplib.SMTP:
        server = self._server
        client: smtplib.SMTP
        if server.implicit_tls:
            client = smtplib.SMTP_SSL(
                server.host, server.port, timeout=self._timeout, context=self._tls
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=self._timeout)
        try:
            client.ehlo()
            if not server.implicit_tls:
                if client.has_extn("starttls"):
                    client.starttls(context=self._tls)
                    client.ehlo()
                elif server.user and not _is_loopback(server.host):
                    raise smtplib.SMTPNotSupportedError(
                        "the server offers no STARTTLS; the password is not sent in clear"
                    )
            if server.user:
                client.login(server.user, server.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def compose(self, message: MailMessage) -> EmailMessage:
        """The message as sent: text, with an HTML alternative."""
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject
        if self._reply_to:
            email["Reply-To"] = self._reply_to
        email["Date"] = formatdate(localtime=False)
        domain = parseaddr(self._sender)[1].rpartition("@")[2] or None
        email["Message-ID"] = make_msgid(domain=domain)
        email.set_content(message.body)
        email.add_alternative(_html(message), subtype="html")
        return email


def _html(message: MailMessage) -> str:
    paragraphs = [p.strip() for p in message.body.split("\n\n") if p.strip()]
    body = "\n".join(f"<p>{_linked(p)}</p>" for p in paragraphs)
    return _TEMPLATE.substitute(subject=html.escape(message.subject), body=body)


def _linked(text: str) -> str:
    """``text`` escaped, line breaks kept and web addresses made links."""
    out, last = [], 0
    for match in _LINK.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out).replace("\n", "<br>\n")


_TEMPLATE = Template(files("videoplatform.adapters.smtp").joinpath("message.html").read_text())
