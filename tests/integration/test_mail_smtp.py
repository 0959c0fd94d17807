"""Account mail through a real SMTP server on loopback (aiosmtpd, started here): the
mailer delivers text and HTML, logs in, fails fast and as "unavailable" when the server
is away (and so does its ping, which sends nothing, within the ping timeout); and
``serve`` mails a verification code that verifies the account, delayed but not lost
when the server was down at registration."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.integration.served import API, Served
from videoplatform.adapters.smtp import SmtpMailer
from videoplatform.adapters.smtp.mailer import MailRefused
from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS, Unavailable
from videoplatform.application.ports.mail import MailMessage

SENDER = "videoplatform <noreply@video.example.com>"


class Inbox:
    """What the server received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def first(self, subject: str, seconds: float) -> EmailMessage:
        """The first message whose subject holds ``subject`` (waiting for it)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [m for m in self.messages if subject in str(m["Subject"])]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no mail about {subject!r}: {[m['Subject'] for m in self.messages]}")

    def wait(self, count: int, seconds: float) -> list[EmailMessage]:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
    ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"mailer", b"pw")
    return AuthResult(success=ok)


def start(inbox: Inbox, port: int, **options: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller


@pytest.fixture
def server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = start(inbox, port)
    yield inbox, port
    controller.stop()


def test_a_message_arrives_as_text_and_html(server: tuple[Inbox, int]) -> None:
    inbox, port = server
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER, "help@video.example.com")
    mailer.send(MailMessage("ada@example.com", "Hello", "Your code is:\n\nAB12\n"))
    [received] = inbox.wait(1, 5)
    assert (received["To"], received["Subject"]) == ("ada@example.com", "Hello")
    assert received["Reply-To"] == "help@video.example.com"
    parts = {part.get_content_type(): part for part in received.walk()}
    assert "AB12" in parts["text/plain"].get_content()
    assert "<p>AB12</p>" in parts["text/html"].get_content()


# aiosmtpd warns of AUTH without TLS, which is the point here: a relay on loopback.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_credentials_are_used(tmp_path: Path) -> None:
    inbox, port = Inbox(), free_port()
    # On loopback without TLS (a relay on this machine); anywhere else STARTTLS first.
    # The server takes mail only after a login with these credentials.
    controller = start(
        inbox, port, authenticator=authenticate, auth_require_tls=False, auth_required=True
    )
    try:
        anonymous = SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER)
        with pytest.raises(MailRefused, match="530"):
            anonymous.send(MailMessage("ada@example.com", "Hi", "Hello"))
        good = SmtpMailer(f"smtp://mailer:pw@127.0.0.1:{port}", SENDER)
        good.send(MailMessage("ada@example.com", "Hi", "Hello"))
        assert len(inbox.wait(1, 5)) == 1
    finally:
        controller.stop()


def test_a_server_that_is_away_is_unavailable_at_once() -> None:
    mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}", SENDER)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        mailer.send(MailMessage("ada@example.com", "Hi", "Hello"))
    assert caught.value.code == "mail_unavailable"
    assert time.monotonic() - started < 2


def test_a_ping_asks_the_server_and_sends_nothing(server: tuple[Inbox, int]) -> None:
    inbox, port = server
    SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER).ping()
    time.sleep(0.2)
    assert inbox.messages == []


def test_a_ping_of_a_server_that_is_away_is_unavailable_at_once() -> None:
    mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}", SENDER)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="ConnectionRefusedError"):
        mailer.ping()
    assert time.monotonic() - started < 2


def test_a_ping_of_a_server_that_never_greets_gives_up_after_the_ping_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never says a word
        port = silent.getsockname()[1]
        mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER)  # sends would wait 10 s
        started = time.monotonic()
        with pytest.raises(Unavailable) as caught:
            mailer.ping()
        took = time.monotonic() - started
    assert caught.value.code == "mail_unavailable"
    assert PING_TIMEOUT_SECONDS * 0.9 <= took < PING_TIMEOUT_SECONDS + 1.5


def code_in(message: EmailMessage) -> str:
    """The code a mail carries: the line that is one (43 URL-safe characters)."""
    text = message.get_body(("plain",))
    assert text is not None
    lines = [line.strip() for line in str(text.get_content()).splitlines()]
    codes = [line for line in lines if re.fullmatch(r"[A-Za-z0-9_-]{22,}", line)]
    assert codes, lines
    return codes[0]


def test_serve_mails_a_code_that_verifies_the_account_even_after_an_outage(
    tmp_path: Path,
) -> None:
    inbox, port = Inbox(), free_port()
    env = {
        "VIDEOPLATFORM_MAIL_URL": f"smtp://127.0.0.1:{port}",
        "VIDEOPLATFORM_MAIL_FROM": SENDER,
        "VIDEOPLATFORM_REQUIRE_EMAIL_VERIFICATION": "true",
        "VIDEOPLATFORM_JOB_RETRY_BASE_SECONDS": "1",
        "VIDEOPLATFORM_JOB_RETRY_CAP_SECONDS": "2",
    }
    served = Served(tmp_path, env=env)
    controller = None
    try:
        credentials = {"email": "grace@example.com", "password": "a long passphrase"}
        with httpx.Client(base_url=served.url, timeout=30) as http:
            # The mail server is down: registering answers at once all the same.
            started = time.monotonic()
            registered = http.post(
                f"{API}/auth/register", json={**credentials, "display_name": "G"}
            )
            assert registered.status_code == 202, registered.text
            assert time.monotonic() - started < 2
            time.sleep(1.5)  # the handler meets the outage and puts the mail back
            controller = start(inbox, port)
            [mail] = inbox.wait(1, 30)
            assert mail["To"] == "grace@example.com"
            refused = http.post(f"{API}/auth/session", json=credentials)
            assert refused.status_code in (401, 403), refused.text  # not verified yet
            verified = http.post(f"{API}/auth/verify", json={"token": code_in(mail)})
            assert verified.status_code == 200, verified.text
            assert http.post(f"{API}/auth/session", json=credentials).status_code == 201
    finally:
        served.stop()
        if controller is not None:
            controller.stop()
    assert len(inbox.messages) == 1  # delayed, not doubled


def test_serve_two_factor_login_and_a_read_token_from_the_mailed_code_on(
    tmp_path: Path, server: tuple[Inbox, int]
) -> None:
    """Against ``serve`` and a real SMTP server: register and confirm by the mailed code,
    turn two-factor login on, log in with a code and with a recovery code (once), and
    a ``read`` token is refused a write."""
    inbox, port = server
    env = {
        "VIDEOPLATFORM_MAIL_URL": f"smtp://127.0.0.1:{port}",
        "VIDEOPLATFORM_MAIL_FROM": SENDER,
        "VIDEOPLATFORM_REQUIRE_EMAIL_VERIFICATION": "true",
    }
    served = Served(tmp_path, env=env)
    try:
        credentials = {"email": "ada@example.com", "password": "a long passphrase"}
        with httpx.Client(base_url=served.url, timeout=30) as http:
            registered = http.post(
                f"{API}/auth/register", json={**credentials, "display_name": "A"}
            )
            assert registered.status_code == 202, registered.text
            [mail] = inbox.wait(1, 30)
            assert http.post(f"{API}/auth/verify", json={"token": code_in(mail)}).status_code == 200
            session = http.post(f"{API}/auth/session", json=credentials).json()["token"]
            me = {"Authorization": f"Bearer {session}"}
            begun = http.post(
                f"{API}/auth/two-factor", headers=me, json={"password": credentials["password"]}
            )
            assert begun.status_code == 201, begun.text
            totp = pyotp.TOTP(begun.json()["secret"])
            # Confirmed with the code of the step before (an authenticator a little
            # behind is accepted), so the code shown now logs in: each is good once.
            earlier = totp.at(time.time() - 30)
            confirmed = http.post(
                f"{API}/auth/two-factor/confirm", headers=me, json={"code": earlier}
            )
            assert confirmed.status_code == 200, confirmed.text
            recovery = confirmed.json()["recovery_codes"]

            asked = http.post(f"{API}/auth/session", json=credentials)
            assert asked.json()["code"] == "second_factor_required"
            with_code = http.post(f"{API}/auth/session", json={**credentials, "code": totp.now()})
            assert with_code.status_code == 201, with_code.text
            with_recovery = {**credentials, "code": recovery[0]}
            assert http.post(f"{API}/auth/session", json=with_recovery).status_code == 201
            again = http.post(f"{API}/auth/session", json=with_recovery)
            assert again.json()["code"] == "second_factor_failed"

            made = http.post(
                f"{API}/auth/tokens", headers=me, json={"name": "reader", "scopes": ["read"]}
            )
            reader = {"Authorization": f"Bearer {made.json()['token']}"}
            assert http.get(f"{API}/auth/me", headers=reader).status_code == 200
            write = http.patch(f"{API}/auth/me", headers=reader, json={"display_name": "B"})
            assert (write.status_code, write.json()["code"]) == (403, "insufficient_scope")
    finally:
        served.stop()


def bearer(http: httpx.Client, credentials: dict[str, str]) -> dict[str, str]:
    token = http.post(f"{API}/auth/session", json=credentials).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_serve_reset_by_mail_then_an_archive_then_the_account_deleted(
    tmp_path: Path, server: tuple[Inbox, int]
) -> None:
    """Against ``serve`` and a real SMTP server: a reset mailed, the new password set
    and every old session dead; a file uploaded, then an archive of the account that
    holds it, downloaded once; then the account deleted, with its file."""
    inbox, port = server
    env = {"VIDEOPLATFORM_MAIL_URL": f"smtp://127.0.0.1:{port}", "VIDEOPLATFORM_MAIL_FROM": SENDER}
    served = Served(tmp_path, env=env)
    try:
        old = {"email": "lin@example.com", "password": "the first passphrase"}
        new = {**old, "password": "the second passphrase"}
        with httpx.Client(base_url=served.url, timeout=30) as http:
            assert (
                http.post(f"{API}/auth/register", json={**old, "display_name": "Lin"}).status_code
                == 202
            )
            before = bearer(http, old)
            asked = http.post(f"{API}/auth/password-reset", json={"email": old["email"]})
            assert asked.status_code == 202, asked.text
            mail = inbox.first("Reset your password", 30)
            reset = http.post(
                f"{API}/auth/password-reset/confirm",
                json={"token": code_in(mail), "password": new["password"]},
            )
            assert reset.status_code == 204, reset.text
            assert http.get(f"{API}/auth/me", headers=before).status_code == 401
            assert http.post(f"{API}/auth/session", json=old).status_code == 401
            me = bearer(http, new)

            stored = http.post(
                f"{API}/files", params={"name": "notes.txt"}, headers=me, content=b"my notes"
            )
            assert stored.status_code == 201, stored.text
            ticket = http.post(f"{API}/me/exports", headers=me).json()
            deadline = time.monotonic() + 30
            while (
                http.get(f"{API}/me/exports/{ticket['id']}", headers=me).json()["status"] != "ready"
            ):
                assert time.monotonic() < deadline, "the archive was never prepared"
                time.sleep(0.1)
            archive = http.get(ticket["download_url"])
            assert archive.status_code == 200, archive.text
            body = archive.json()
            assert body["profile"]["email"] == old["email"]
            assert [f["name"] for f in body["files"]] == ["notes.txt"]
            assert {"user.password_reset", "file.upload"} <= {a["action"] for a in body["activity"]}
            assert http.get(ticket["download_url"]).status_code == 404  # once

            gone = http.post(
                f"{API}/auth/me/delete", headers=me, json={"password": new["password"]}
            )
            assert gone.status_code == 204, gone.text
            assert http.post(f"{API}/auth/session", json=new).status_code == 401
            assert not list((tmp_path / "data").rglob("*notes*"))
    finally:
        served.stop()
