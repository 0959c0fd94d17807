"""Playback tokens: ``base64url(payload) "." base64url(HMAC-SHA256)``, where the
payload names the video, the *grant* (why its holder may watch: ``public``,
``user:<id>`` or ``share:<id>``), the expiry and the *generation* of the video's outputs
(a digest of their storage prefix, so reprocessing invalidates old URLs). Signing and
verifying need only the secret; whether the grant still holds is the playback
service's to check on every request."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
from datetime import UTC, datetime

from attrs import frozen

from videoplatform.domain.errors import PermissionDenied
from videoplatform.domain.ids import ShareId, UserId, VideoId

MAX_TOKEN = 512
_DOMAIN = b"videoplatform-playback-v1\x00"  # binds the MAC to this use of the secret
_B64 = re.compile(r"^[A-Za-z0-9_-]+$")
_ATOM = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

SIGNATURE_INVALID = "playback_signature_invalid"
EXPIRED = "playback_expired"
REVOKED = "playback_revoked"
STALE = "playback_stale"
NOT_READY = "video_not_ready"
ASSET_NOT_FOUND = "playback_asset_not_found"


class GrantKind(enum.Enum):
    PUBLIC = "public"
    USER = "user"
    SHARE = "share"


@frozen
class Grant:
    """Why the holder of a playback URL may watch."""

    kind: GrantKind
    subject: str = ""

    def __attrs_post_init__(self) -> None:
        if (self.kind is GrantKind.PUBLIC) != (self.subject == ""):
            raise ValueError("a public grant has no subject; the others have one")
        if self.subject and not _ATOM.match(self.subject):
            raise ValueError(f"invalid grant subject {self.subject!r}")

    @classmethod
    def public(cls) -> Grant:
        return cls(GrantKind.PUBLIC)

    @classmethod
    def user(cls, user_id: UserId) -> Grant:
        return cls(GrantKind.USER, user_id)

    @classmethod
    def share(cls, share_id: ShareId) -> Grant:
        return cls(GrantKind.SHARE, share_id)

    @classmethod
    def parse(cls, text: str) -> Grant:
        kind, _, subject = text.partition(":")
        return cls(GrantKind(kind), subject)

    def __str__(self) -> str:
        return self.kind.value if not self.subject else f"{self.kind.value}:{self.subject}"


@frozen
class PlaybackClaims:
    """What a playback token asserts; ``expires`` is a Unix time in whole seconds."""

    video_id: VideoId
    grant: Grant
    expires: int
    generation: str

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


def generation_of(prefix: str) -> str:
    """A short, stable name for one processing run's outputs (their storage prefix)."""
    return _encode(hashlib.sha256(prefix.encode()).digest()[:12])


def sign(secret: bytes, claims: PlaybackClaims) -> str:
    """The token for ``claims``."""
    if not _ATOM.match(claims.video_id) or not _ATOM.match(claims.generation):
        raise ValueError("video id and generation must be short url-safe names")
    payload = "|".join(
        (claims.video_id, str(claims.grant), str(claims.expires), claims.generation)
    ).encode()
    return f"{_encode(payload)}.{_encode(_mac(secret, payload))}"


def verify(secret: bytes, token: str, now: datetime) -> PlaybackClaims:
    """The claims of a token this secret signed and that has not expired at ``now``.

    PermissionDenied(code=SIGNATURE_INVALID) for anything altered or malformed (the MAC
    is checked in constant time before the payload is even parsed);
    PermissionDenied(code=EXPIRED) from the instant of expiry on.
    """
    payload, mac = _split(token)
    if not hmac.compare_digest(_mac(secret, payload), mac):
        raise PermissionDenied("the playback URL's signature is invalid", code=SIGNATURE_INVALID)
    claims = _parse(payload)
    if now.timestamp() >= claims.expires:
        raise PermissionDenied("the playback URL has expired", code=EXPIRED)
    return claims


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _DOMAIN + payload, hashlib.sha256).digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    """Strict base64url: one spelling per byte string (a changed trailing character that
    would decode to the same bytes is refused, so no altered token is ever accepted)."""
    if not _B64.match(text):
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
    if _encode(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def _invalid() -> PermissionDenied:
    return PermissionDenied("the playback URL's signature is invalid", code=SIGNATURE_INVALID)


def _split(token: str) -> tuple[bytes, bytes]:
    parts = token.split(".")
    if len(token) > MAX_TOKEN or len(parts) != 2:
        raise _invalid()
    try:
        return _decode(parts[0]), _decode(parts[1])
    except ValueError:
        raise _invalid() from None


def _parse(payload: bytes) -> PlaybackClaims:
    # Only ever reached for payloads this service signed; still parsed defensively.
    try:
        video_id, grant, expires, generation = payload.decode("ascii").split("|")
        if not expires.isdigit():
            raise ValueError("expiry is not a number")
        return PlaybackClaims(VideoId(video_id), Grant.parse(grant), int(expires), generation)
    except ValueError:
        raise _invalid() from None
