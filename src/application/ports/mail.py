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
