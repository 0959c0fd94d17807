"""A mailer that keeps messages in memory (embedded profile, tests)."""

from __future__ import annotations

import threading

from videoplatform.application.ports.mail import MailMessage


class MemoryMailer:
    def __init__(self) -> None:
        self._sent: list[MailMessage] = []
        self._lock = threading.Lock()

    def send(self, message: MailMessage) -> None:
        with self._lock:
            self._sent.append(message)

    def ping(self) -> None:
        """Always answers: the mail stays in this process's memory."""
        return None

    @property
    def sent(self) -> list[MailMessage]:
        with self._lock:
            return list(self._sent)
