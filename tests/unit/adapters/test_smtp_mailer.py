"""The SMTP mailer's message and settings (adapters/smtp); the delivery itself is tested
against a real SMTP server in tests/integration/test_mail_smtp.py."""

from __future__ import annotations

import pytest

from videoplatform.adapters.smtp import SmtpMailer, smtp_settings
from videoplatform.application.ports.mail import MailMessage
from videoplatform.entrypoints.settings import Settings, masked_url

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
