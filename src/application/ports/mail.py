"""Outgoing mail."""

from __future__ import annotations

from typing import Protocol

from attrs import frozen


@frozen
class MailMessage:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    def send(self, message: MailMessage) -> None:
        """Deliver or queue the message; raise if it cannot be accepted."""
        ...

    def ping(self) -> None:
        """Check that the mail server answers, within ``PING_TIMEOUT_SECONDS`` per step
        (``ports.errors``), sending no message; raise ``Unavailable`` (its detail the
        reason) when it does not, or when the mailer has stopped trying for a while
        after repeated failures (then without asking the server). A ping's outcome
        changes nothing in how ``send`` behaves."""
        ...
