"""Account mail goes out after the commit, from the durable account-mail handler: no
request waits on a mail server, and a mail server that fails is tried again."""

from __future__ import annotations

import re
import threading
import time

import attrs
import pytest

from tests.unit.conftest import CHEAP_ARGON2
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.application.ports.mail import MailMessage
from videoplatform.application.users import RegisterUser
from videoplatform.domain.users import UserStatus
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import settle_events, start_background

PASSWORD = "correct horse battery"


class SlowMailServer(MemoryMailer):
    """Holds every send until ``gate`` opens; the first ``failures`` sends fail."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.threads: list[str] = []
        self.failures = 0

    def send(self, message: MailMessage) -> None:
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        if not self.gate.wait(10):
            raise TimeoutError("the mail server never answered")
        if self.failures:
            self.failures -= 1
            raise ConnectionError("421 try again later")
        super().send(message)


@pytest.fixture
def settings() -> Settings:
    return attrs.evolve(CHEAP_ARGON2, require_email_verification=True, job_retry_base_seconds=0)


@pytest.fixture
def mailer() -> SlowMailServer:
    return SlowMailServer()


def test_registering_returns_while_the_mail_server_is_still_busy(
    platform: Platform, mailer: SlowMailServer
) -> None:
    workers = start_background(platform, {}, concurrency=0)
    try:
        started = time.monotonic()
        user = platform.users.register(RegisterUser("slow@example.com", PASSWORD, "S"))
        assert time.monotonic() - started < 2  # the mail server holds every send for 10 s
        assert user.status is UserStatus.PENDING
        assert mailer.entered.wait(5), "the account-mail handler never ran"
        assert threading.current_thread().name not in mailer.threads
        assert mailer.sent == []
        mailer.gate.set()
        deadline = time.monotonic() + 5
        while not mailer.sent:
            assert time.monotonic() < deadline, "the verification mail was never sent"
            time.sleep(0.01)
    finally:
        mailer.gate.set()
        assert workers.stop(5)
    match = re.search(r"^([A-Za-z0-9_-]{22,})$", mailer.sent[0].body, re.MULTILINE)
    assert match is not None
    assert platform.users.verify_email(match.group(1)).status is UserStatus.ACTIVE


def test_a_mail_server_that_fails_is_tried_again(
    platform: Platform, mailer: SlowMailServer
) -> None:
    mailer.gate.set()
    mailer.failures = 1
    platform.users.register(RegisterUser("retry@example.com", PASSWORD, "R"))
    settle_events(platform)
    assert [m.to for m in mailer.sent] == ["retry@example.com"]
    assert len(mailer.threads) == 2  # refused once, sent the second time
