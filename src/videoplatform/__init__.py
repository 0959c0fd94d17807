"""videoplatform — the public surface for embedders.

Import from here: the platform factory, its settings, and the commands and results the
services take and return. Everything else is internal and may change.
"""

from videoplatform.application.audit import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.files import FolderListing, MoveFile, StoreFile
from videoplatform.application.pagination import Page
from videoplatform.application.ports.persistence import VideoSort
from videoplatform.application.processing import (
    ProcessingOutcome,
    ProcessingProgress,
    RetryableProcessingError,
)
from videoplatform.application.shares import CreatedShare, CreateShare, SharedItem
from videoplatform.application.users import IssuedToken, Login, Principal, RegisterUser
from videoplatform.application.videos import UpdateVideo, UploadVideo, VideoFilter
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ShareRefused,
    ValidationError,
)
from videoplatform.domain.users import Permission, Role, UserStatus
from videoplatform.domain.videos import VideoStatus, Visibility
from videoplatform.entrypoints.bootstrap import Platform, create_platform
from videoplatform.entrypoints.settings import ConfigurationError, Settings
from videoplatform.entrypoints.worker import BackgroundWorkers, start_background

__all__ = [
    "AuditAction",
    "AuditEvent",
    "AuditFilter",
    "AuditResult",
    "AuthenticationFailed",
    "BackgroundWorkers",
    "Caller",
    "ConfigurationError",
    "Conflict",
    "CreateShare",
    "CreatedShare",
    "DomainError",
    "FolderListing",
    "InvalidTransition",
    "IssuedToken",
    "Login",
    "MoveFile",
    "NotFound",
    "Page",
    "Permission",
    "PermissionDenied",
    "Platform",
    "Principal",
    "ProcessingOutcome",
    "ProcessingProgress",
    "QuotaExceeded",
    "RegisterUser",
    "RetryableProcessingError",
    "Role",
    "Settings",
    "ShareRefused",
    "SharedItem",
    "StoreFile",
    "UpdateVideo",
    "UploadVideo",
    "UserStatus",
    "ValidationError",
    "VideoFilter",
    "VideoSort",
    "VideoStatus",
    "Visibility",
    "create_platform",
    "start_background",
]
