"""Domain errors. Each carries a stable machine ``code``; entrypoints map types to transports."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """Base of every error the platform raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know that it does."""

    code = "not_found"


class PermissionDenied(DomainError):
    """The caller is known but lacks the right to do this."""

    code = "permission_denied"


class AuthenticationFailed(DomainError):
    """Credentials or token are missing, wrong, expired or revoked (deliberately vague)."""

    code = "authentication_failed"


class InvalidTransition(DomainError):
    """A state machine was asked for a move it does not allow."""

    code = "invalid_transition"


class ValidationError(DomainError):
    """Input breaks a rule; ``fields`` maps each offending field to what is wrong."""

    code = "validation_failed"

    def __init__(
        self,
        message: str,
        *,
        fields: Mapping[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.fields: dict[str, str] = dict(fields or {})

    @classmethod
    def field(cls, name: str, problem: str) -> ValidationError:
        return cls(f"{name}: {problem}", fields={name: problem})


class Conflict(DomainError):
    """The change collides with the current state (duplicate, stale version...)."""

    code = "conflict"


class QuotaExceeded(DomainError):
    """A configured limit on size or count would be exceeded."""

    code = "quota_exceeded"


class TooManyAttempts(DomainError):
    """Too many failures in a short time; try again after ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ShareRefused(DomainError):
    """A share link exists but cannot be used now; ``reason`` says why."""

    code = "share_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(f"share refused: {reason}", code=f"share_{reason}")
        self.reason = reason
