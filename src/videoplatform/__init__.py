"""videoplatform — the public surface for embedders.

Import from here: the platform factory, its settings, and the commands and results the
services take and return. Everything else is internal and may change.
"""

from application.audit import AuditFilter
from application.context import Caller
from application.files import FolderListing, MoveFile, StoreFile
from application.pagination import Page
from application.ports.persistence import VideoSort
from application.processing import (
    ProcessingOutcome,
    ProcessingProgress,
    RetryableProcessingError,
)
from application.shares import CreatedShare, CreateShare, SharedItem
from application.users import IssuedToken, Login, Principal, RegisterUser
from application.videos import UpdateVideo, UploadVideo, VideoFilter
from domain.audit import AuditAction, AuditEvent, AuditResult
from domain.errors import (
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
from domain.users import Permission, Role, UserStatus
from domain.videos import VideoStatus, Visibility
from entrypoints.bootstrap import Platform, create_platform
from entrypoints.settings import ConfigurationError, Settings
from entrypoints.worker import BackgroundWorkers, start_background

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
