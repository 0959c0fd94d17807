"""The SMTP mailer's message, settings and ping (adapters/smtp, the ping over a stand-in
for smtplib); the delivery itself is tested against a real SMTP server in
tests/integration/test_mail_smtp.py."""

from __future__ import annotations

import smtplib
from typing import ClassVar

import pytest

from videoplatform.adapters.smtp import SmtpMailer, smtp_settings
from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS, Unavailable
from videoplatform.application.ports.mail import MailMessage
from videoplatform.entrypoints.resilience import Breakers, GuardedMailer
from videoplatform.entrypoints.settings import Settings, masked_url

BREAKER_FAILURES = 3

MESSAGE = MailMessage(
    to="ada@example.com",
    subject="Confirm <your> address",
    body="Your code is:\n\nAB12\n\nOr open https://video.example.com/verify?code=AB12&x=1\n",
)


def test_a_message_has_text_and_html_from_the_template() -> None:
    mailer = SmtpMailer("smtp://127.0.0.1:2525", "Video <noreply@video.example.com>", "help@x.org")
    email = mailer.compose(MESSAGE)
    assert email["To"] == "ada@example.com"
    assert email["From"] == "Video <noreply@video.example.com>"
    assert email["Reply-To"] == "help@x.org"
    assert email["Message-ID"].endswith("@video.example.com>")
    text = email.get_body(("plain",))
    page = email.get_body(("html",))
    assert text is not None and page is not None
    assert "AB12" in text.get_content()
    html = page.get_content()
    # Escaped, paragraphs kept, the address a link.
    assert "<title>Confirm &lt;your&gt; address</title>" in html
    assert "<p>AB12</p>" in html
    link = "https://video.example.com/verify?code=AB12&amp;x=1"
    assert f'<a href="{link}">{link}</a>' in html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", ("mail.example.com", 587, False, None, None)),
        ("smtps://u%40x:p%3Aw@mail.example.com", ("mail.example.com", 465, True, "u@x", "p:w")),
        ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525, False, None, None)),
    ],
)
def test_mail_urls(url: str, expected: tuple[object, ...]) -> None:
    parsed = smtp_settings(url)
    assert (parsed.host, parsed.port, parsed.implicit_tls, parsed.user, parsed.password) == (
        expected
    )


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="smtp://"):
        smtp_settings(url)


def test_a_sender_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="not a mail address"):
        SmtpMailer("smtp://127.0.0.1", "")


def test_a_mail_password_is_never_shown() -> None:
    settings = Settings(mail_url="smtps://user:s3cret@mail.example.com")
    shown = settings.by_section()["mail"]["mail_url"]
    assert shown == "smtps://user:***@mail.example.com"
    assert masked_url("smtp://mail.example.com:25") == "smtp://mail.example.com:25"


class FakeSmtp:
    """Stands in for smtplib.SMTP: records what a client did, or refuses to connect."""

    made: ClassVar[list[FakeSmtp]] = []
    refuse: ClassVar[bool] = False
    noop_answer: ClassVar[tuple[int, bytes]] = (250, b"OK")

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.address, self.timeout = (host, port), timeout
        self.said: list[str] = []
        FakeSmtp.made.append(self)
        if FakeSmtp.refuse:
            raise ConnectionRefusedError(111, "Connection refused")

    def noop(self) -> tuple[int, bytes]:
        self.said.append("NOOP")
        return FakeSmtp.noop_answer

    def quit(self) -> None:
        self.said.append("QUIT")

    def close(self) -> None:
        self.said.append("close")


@pytest.fixture
def fake_smtp(monkeypatch: pytest.MonkeyPatch) -> type[FakeSmtp]:
    monkeypatch.setattr(smtplib, "SMTP", FakeSmtp)
    monkeypatch.setattr(FakeSmtp, "made", [])
    return FakeSmtp


def test_a_ping_connects_says_noop_and_quits_within_the_short_timeout(
    fake_smtp: type[FakeSmtp],
) -> None:
    SmtpMailer("smtp://user:pw@mail.example.com:2525", "noreply@example.com").ping()
    [client] = fake_smtp.made
    assert client.address == ("mail.example.com", 2525)
    assert client.timeout == PING_TIMEOUT_SECONDS
    assert client.said == ["NOOP", "QUIT", "close"]  # no login, no message


def test_a_ping_answered_with_anything_but_250_is_unavailable(
    fake_smtp: type[FakeSmtp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_smtp, "noop_answer", (421, b"closing"))
    with pytest.raises(Unavailable, match="NOOP with 421"):
        SmtpMailer("smtp://mail.example.com", "noreply@example.com").ping()
    assert fake_smtp.made[0].said == ["NOOP", "close"]


def guarded(mailer: SmtpMailer) -> GuardedMailer:
    return GuardedMailer(mailer, Breakers(failures=BREAKER_FAILURES, reset_seconds=60))


def test_an_open_breaker_is_reported_down_without_asking_the_server(
    fake_smtp: type[FakeSmtp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_smtp, "refuse", True)
    mailer = guarded(SmtpMailer("smtp://mail.example.com", "noreply@example.com"))
    for _ in range(BREAKER_FAILURES):
        with pytest.raises(Unavailable, match="ConnectionRefusedError"):
            mailer.send(MESSAGE)
    tried = len(fake_smtp.made)
    assert tried == BREAKER_FAILURES
    for call in (mailer.send, mailer.ping):
        with pytest.raises(Unavailable, match="not tried: it failed 3 times in a row"):
            call(MESSAGE) if call == mailer.send else mailer.ping()
    assert len(fake_smtp.made) == tried


def test_failed_pings_do_not_open_the_breaker(
    fake_smtp: type[FakeSmtp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_smtp, "refuse", True)
    mailer = guarded(SmtpMailer("smtp://mail.example.com", "noreply@example.com"))
    for _ in range(BREAKER_FAILURES * 2):
        with pytest.raises(Unavailable, match="ConnectionRefusedError"):
            mailer.ping()
    monkeypatch.setattr(fake_smtp, "refuse", False)
    mailer.ping()  # still asks the server, which answers
    assert len(fake_smtp.made) == BREAKER_FAILURES * 2 + 1
