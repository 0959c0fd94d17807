"""Mailers keep the mail port's contract: an accepted message arrives, whole and once;
a reachable mailer answers a ping, which sends nothing."""

from __future__ import annotations

import threading
import time

from tests.contracts.conftest import MailerHarness
from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS
from videoplatform.application.ports.mail import MailMessage


def test_a_sent_message_is_delivered_unchanged(mailer_harness: MailerHarness) -> None:
    message = MailMessage(
        to="ana@example.com",
        subject="Vérifiez votre adresse — 確認",
        body="Hello,\n\nopen https://example.com/verify?token=abc\n\n-- \nvideoplatform\n",
    )
    mailer_harness.mailer.send(message)
    assert mailer_harness.delivered() == [message]


def test_messages_are_delivered_in_the_order_sent(mailer_harness: MailerHarness) -> None:
    messages = [MailMessage(to=f"u{n}@example.com", subject=f"#{n}", body="b") for n in range(5)]
    for message in messages:
        mailer_harness.mailer.send(message)
    assert mailer_harness.delivered() == messages


def test_nothing_is_delivered_before_anything_is_sent(mailer_harness: MailerHarness) -> None:
    assert mailer_harness.delivered() == []


def test_concurrent_sends_are_each_delivered_once(mailer_harness: MailerHarness) -> None:
    def send_batch(t: int) -> None:
        for n in range(50):
            mailer_harness.mailer.send(MailMessage(to=f"t{t}@example.com", subject=str(n), body=""))

    threads = [threading.Thread(target=send_batch, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    delivered = mailer_harness.delivered()
    assert len(delivered) == 200
    assert {(m.to, m.subject) for m in delivered} == {
        (f"t{t}@example.com", str(n)) for t in range(4) for n in range(50)
    }


def test_a_reachable_mailer_answers_a_ping_and_sends_nothing(mailer_harness: MailerHarness) -> None:
    started = time.monotonic()
    mailer_harness.mailer.ping()  # answers: no Unavailable
    assert time.monotonic() - started < PING_TIMEOUT_SECONDS
    assert mailer_harness.delivered() == []
