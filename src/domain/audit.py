"""The audit trail: append-only records of everything sensitive."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from attrs import evolve, field, fields, frozen

from videoplatform.domain.ids import AuditEventId, UserId


class AuditResult(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditAction(enum.Enum):
    USER_REGISTER = "user.register"
    USER_VERIFY = "user.verify"
    USER_VERIFY_REQUEST = "user.verify_request"
    USER_LOGIN = "user.login"
    USER_LOGOUT = "user.logout"
    USER_PASSWORD_RESET_REQUEST = "user.password_reset_request"
    USER_PASSWORD_RESET = "user.password_reset"
    USER_ROLES_CHANGE = "user.roles_change"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_LIST = "user.list"
    USER_DELETE = "user.delete"
    USER_EXPORT = "user.export"
    USER_EXPORT_DOWNLOAD = "user.export_download"
    USER_PROFILE_CHANGE = "user.profile_change"
    USER_EMAIL_CHANGE_REQUEST = "user.email_change_request"
    USER_EMAIL_CHANGE = "user.email_change"
    USER_TWO_FACTOR_BEGIN = "user.two_factor_begin"
    USER_TWO_FACTOR_ENABLE = "user.two_factor_enable"
    USER_TWO_FACTOR_DISABLE = "user.two_factor_disable"
    USER_RECOVERY_CODES = "user.recovery_codes"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    VIDEO_UPLOAD = "video.upload"
    VIDEO_UPDATE = "video.update"
    VIDEO_DELETE = "video.delete"
    VIDEO_READ = "video.read"
    VIDEO_PROCESS = "video.process"
    VIDEO_RETRY = "video.retry"
    VIDEO_REPROCESS = "video.reprocess"
    CAPTION_UPLOAD = "caption.upload"
    CAPTION_DELETE = "caption.delete"
    FILE_UPLOAD = "file.upload"
    FILE_READ = "file.read"
    FILE_MOVE = "file.move"
    FILE_DELETE = "file.delete"
    SHARE_CREATE = "share.create"
    SHARE_REDEEM = "share.redeem"
    SHARE_REVOKE = "share.revoke"
    SHARE_READ = "share.read"
    CATEGORY_CREATE = "category.create"
    CATEGORY_RENAME = "category.rename"
    CATEGORY_DELETE = "category.delete"
    AUDIT_SEARCH = "audit.search"
    UPLOAD_CREATE = "upload.create"
    UPLOAD_COMPLETE = "upload.complete"
    UPLOAD_TERMINATE = "upload.terminate"
    UPLOAD_ACCESS = "upload.access"


def _freeze(metadata: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(metadata))


@frozen
class AuditEvent:
    """One immutable line of the trail. There is no method that changes it."""

    id: AuditEventId
    occurred_at: datetime
    actor_id: UserId | None
    action: AuditAction
    resource_type: str
    resource_id: str | None
    result: AuditResult
    ip: str | None = None
    user_agent: str | None = None
    metadata: Mapping[str, str] = field(factory=dict, converter=_freeze)


WITHHELD_REASON = "invalid_credentials"
"""What a failed login's reason reads to those not shown which addresses have accounts:
the same for an unknown address, a wrong password and an account that may not log in,
as the answer to the login was."""


def names_an_account_attempt(event: AuditEvent) -> bool:
    """Whether ``event`` is a failed login: with the address tried, its reason and the
    account it names say which addresses have accounts."""
    return event.action is AuditAction.USER_LOGIN and event.result is AuditResult.FAILURE


def without_account_detail(event: AuditEvent) -> AuditEvent:
    """``event`` as shown to those who may not learn which addresses have accounts: a
    failed login names no account and gives one reason for every refused password
    (a throttled attempt keeps its own: it says nothing of the address)."""
    if not names_an_account_attempt(event):
        return event
    metadata = dict(event.metadata)
    if metadata.get("reason") != "too_many_attempts":
        metadata["reason"] = WITHHELD_REASON
    return evolve(event, actor_id=None, resource_id=None, metadata=metadata)


AUDIT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AuditEvent))
"""What an audit event holds, in order: what its hash covers and an export shows."""
