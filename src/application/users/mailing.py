"""The account mail, sent by a durable handler after the change that calls for it
committed: no request waits on a mail server, and mail that fails is retried.

A code is made when its mail goes out and only its digest is stored, so no readable
secret waits anywhere (in the outbox, on the broker) for the mail to be sent. Handled
twice (a worker that died between sending and recording it), an event mails a second,
equally valid code.
"""

from __future__ import annotations

from datetime import timedelta

from attrs import frozen

from videoplatform.application.limits import Limits
from videoplatform.application.ports.mail import Mailer, MailMessage
from videoplatform.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from videoplatform.application.ports.queue import Subscription
from videoplatform.application.ports.system import Clock, IdGenerator, TokenGenerator
from videoplatform.application.users import messages
from videoplatform.application.users.commands import PASSWORD_RESET_TTL
from videoplatform.domain.credentials import digest_token
from videoplatform.domain.errors import NotFound
from videoplatform.domain.events import (
    DomainEvent,
    EmailChanged,
    EmailChangeRequested,
    PasswordResetRequested,
    RegistrationAttempted,
    UserRegistered,
    VerificationRequested,
    VideoFailed,
    VideoReady,
)
from videoplatform.domain.ids import TokenId, UserId
from videoplatform.domain.users import ApiToken, TokenKind, User, UserStatus
from videoplatform.domain.videos import VideoStatus

EMAIL_CHANGE_TTL = timedelta(days=1)
"""How long the code moving an account to a new address lasts."""

ACCOUNT_MAIL = Subscription(
    "mail.account",
    (
        UserRegistered.__name__,
        VerificationRequested.__name__,
        PasswordResetRequested.__name__,
        RegistrationAttempted.__name__,
        EmailChangeRequested.__name__,
        EmailChanged.__name__,
        VideoReady.__name__,
        VideoFailed.__name__,
    ),
)


@frozen
class AccountMail:
    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    tokens: TokenGenerator
    mailer: Mailer
    limits: Limits
    site_url: str = ""
    """The web application's public address: mails link to its pages when known."""

    def __call__(self, event: DomainEvent) -> None:
        message: MailMessage | None = None
        if isinstance(event, UserRegistered | VerificationRequested):
            message = self._code(
                event.user_id,
                UserStatus.PENDING,
                TokenKind.EMAIL_VERIFICATION,
                self.limits.email_verification_ttl,
            )
        elif isinstance(event, PasswordResetRequested):
            message = self._code(
                event.user_id, UserStatus.ACTIVE, TokenKind.PASSWORD_RESET, PASSWORD_RESET_TTL
            )
        elif isinstance(event, RegistrationAttempted):
            user = self._user(event.user_id)
            if user is not None:
                message = messages.address_taken(user.email.value)
        elif isinstance(event, EmailChangeRequested):
            message = self._code(
                event.user_id, UserStatus.ACTIVE, TokenKind.EMAIL_CHANGE, EMAIL_CHANGE_TTL
            )
        elif isinstance(event, VideoReady | VideoFailed):
            message = self._about_video(event)
        elif isinstance(event, EmailChanged):
            user = self._user(event.user_id)
            if user is not None:
                message = messages.address_changed(event.old_email, user.email.value)
        if message is not None:
            self.mailer.send(message)

    def _code(
        self, user_id: UserId, status: UserStatus, kind: TokenKind, ttl: timedelta
    ) -> MailMessage | None:
        """Store a new code of ``kind`` for the user and the mail that carries it; None
        when the account is no longer in ``status`` (verified, disabled, deleted)."""
        now = self.clock.now()
        secret = self.tokens.new_token()
        with self.uow() as uow:
            user = _found(uow, user_id)
            if user is None or user.status is not status:
                return None
            if kind is TokenKind.EMAIL_CHANGE:
                moving_to = user.pending_email
                if moving_to is None:
                    return None
                if uow.users.find_by_email(moving_to.value) is not None:
                    # Told to that address alone: the account asking learns nothing.
                    return messages.address_taken(moving_to.value)
            # One live code of a kind per account: a new one voids those mailed before.
            for older in uow.tokens.list_for_user(user.id):
                if older.kind is kind and older.is_usable(now):
                    older.revoke(now)
                    uow.tokens.save(older)
            uow.tokens.add(
                ApiToken(
                    id=TokenId(self.ids.new_id()),
                    user_id=user.id,
                    kind=kind,
                    name=kind.value.replace("_", " "),
                    token_hash=digest_token(secret),
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
            uow.commit()
        if kind is TokenKind.PASSWORD_RESET:
            return messages.password_reset_code(user.email.value, secret, self.site_url)
        if kind is TokenKind.EMAIL_CHANGE and user.pending_email is not None:
            return messages.email_change_code(user.pending_email.value, secret, self.site_url)
        return messages.verification_code(user.email.value, secret, self.site_url)

    def _about_video(self, event: VideoReady | VideoFailed) -> MailMessage | None:
        """The owner's mail about their video's processing, where they want it (and
        the video is still theirs and in that state)."""
        with self.uow() as uow:
            try:
                video = uow.videos.get(event.video_id)
            except NotFound:
                return None
            owner = _found(uow, video.owner_id)
        if owner is None or not owner.is_active or not owner.mail_on_processing:
            return None
        to = owner.email.value
        if isinstance(event, VideoReady):
            if video.status is not VideoStatus.READY:
                return None
            return messages.video_ready(to, video.title, video.id, self.site_url)
        if video.status is not VideoStatus.FAILED:
            return None
        reason = video.last_error or "it is not a video this site can read"
        return messages.video_failed(to, video.title, reason, self.site_url)

    def _user(self, user_id: UserId) -> User | None:
        with self.uow() as uow:
            return _found(uow, user_id)


def _found(uow: UnitOfWork, user_id: UserId) -> User | None:
    try:
        return uow.users.get(user_id)
    except NotFound:
        return None
