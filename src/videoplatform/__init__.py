"""videoplatform — the public surface for embedders.

Import from here: the platform factory, its settings, and the commands and results the
services take and return. Everything else is internal and may change.

Each name loads its module on first use (PEP 562), so ``import videoplatform`` (and
importing any one of its layers, ``videoplatform.domain``...) stays light; the
names, their types and ``from videoplatform import X`` are as with plain imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from videoplatform.application.audit_trail import AuditFilter
    from videoplatform.application.captions import PutCaptions, StoredCaptions
    from videoplatform.application.context import Caller
    from videoplatform.application.files import FolderListing, MoveFile, StoreFile
    from videoplatform.application.pagination import Page
    from videoplatform.application.ports.feed import ProcessingProgress
    from videoplatform.application.ports.persistence import VideoSort
    from videoplatform.application.ports.search import SearchSort
    from videoplatform.application.processing import ProcessingOutcome, RetryableProcessingError
    from videoplatform.application.search import SearchVideos, VideoResults
    from videoplatform.application.shares import CreatedShare, CreateShare, SharedItem
    from videoplatform.application.users import IssuedToken, Login, Principal, RegisterUser
    from videoplatform.application.video_commands import UpdateVideo, UploadVideo, VideoFilter
    from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
    from videoplatform.domain.captions import CaptionKind, CaptionOrigin, CaptionTrack
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
    from videoplatform.domain.search import DurationBucket, UploadedBucket
    from videoplatform.domain.users import Permission, Role, UserStatus
    from videoplatform.domain.videos import VideoStatus, Visibility
    from videoplatform.entrypoints.bootstrap import Platform, create_platform
    from videoplatform.entrypoints.settings import ConfigurationError, Settings
    from videoplatform.entrypoints.worker import BackgroundWorkers, settle_events, start_background

# Where each public name is defined.
_SOURCES: dict[str, str] = {
    "AuditAction": "videoplatform.domain.audit",
    "AuditEvent": "videoplatform.domain.audit",
    "AuditFilter": "videoplatform.application.audit_trail",
    "AuditResult": "videoplatform.domain.audit",
    "AuthenticationFailed": "videoplatform.domain.errors",
    "BackgroundWorkers": "videoplatform.entrypoints.worker",
    "Caller": "videoplatform.application.context",
    "CaptionKind": "videoplatform.domain.captions",
    "CaptionOrigin": "videoplatform.domain.captions",
    "CaptionTrack": "videoplatform.domain.captions",
    "ConfigurationError": "videoplatform.entrypoints.settings",
    "Conflict": "videoplatform.domain.errors",
    "CreateShare": "videoplatform.application.shares",
    "CreatedShare": "videoplatform.application.shares",
    "DomainError": "videoplatform.domain.errors",
    "FolderListing": "videoplatform.application.files",
    "InvalidTransition": "videoplatform.domain.errors",
    "IssuedToken": "videoplatform.application.users",
    "Login": "videoplatform.application.users",
    "MoveFile": "videoplatform.application.files",
    "NotFound": "videoplatform.domain.errors",
    "Page": "videoplatform.application.pagination",
    "Permission": "videoplatform.domain.users",
    "PermissionDenied": "videoplatform.domain.errors",
    "Platform": "videoplatform.entrypoints.bootstrap",
    "Principal": "videoplatform.application.users",
    "ProcessingOutcome": "videoplatform.application.processing",
    "ProcessingProgress": "videoplatform.application.ports.feed",
    "PutCaptions": "videoplatform.application.captions",
    "QuotaExceeded": "videoplatform.domain.errors",
    "RegisterUser": "videoplatform.application.users",
    "RetryableProcessingError": "videoplatform.application.processing",
    "Role": "videoplatform.domain.users",
    "Settings": "videoplatform.entrypoints.settings",
    "ShareRefused": "videoplatform.domain.errors",
    "SharedItem": "videoplatform.application.shares",
    "StoreFile": "videoplatform.application.files",
    "StoredCaptions": "videoplatform.application.captions",
    "UpdateVideo": "videoplatform.application.video_commands",
    "UploadVideo": "videoplatform.application.video_commands",
    "UserStatus": "videoplatform.domain.users",
    "ValidationError": "videoplatform.domain.errors",
    "VideoFilter": "videoplatform.application.video_commands",
    "SearchVideos": "videoplatform.application.search",
    "VideoResults": "videoplatform.application.search",
    "SearchSort": "videoplatform.application.ports.search",
    "DurationBucket": "videoplatform.domain.search",
    "UploadedBucket": "videoplatform.domain.search",
    "VideoSort": "videoplatform.application.ports.persistence",
    "VideoStatus": "videoplatform.domain.videos",
    "Visibility": "videoplatform.domain.videos",
    "create_platform": "videoplatform.entrypoints.bootstrap",
    "settle_events": "videoplatform.entrypoints.worker",
    "start_background": "videoplatform.entrypoints.worker",
}


if not TYPE_CHECKING:  # mypy sees the imports above, and flags a name that is not there

    def __getattr__(name: str) -> Any:
        module = _SOURCES.get(name)
        if module is None:
            raise AttributeError(f"module 'videoplatform' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # found directly from now on
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})


__all__ = [
    "AuditAction",
    "AuditEvent",
    "AuditFilter",
    "AuditResult",
    "AuthenticationFailed",
    "BackgroundWorkers",
    "Caller",
    "CaptionKind",
    "CaptionOrigin",
    "CaptionTrack",
    "ConfigurationError",
    "Conflict",
    "CreateShare",
    "CreatedShare",
    "DomainError",
    "DurationBucket",
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
    "PutCaptions",
    "QuotaExceeded",
    "RegisterUser",
    "RetryableProcessingError",
    "Role",
    "SearchSort",
    "SearchVideos",
    "Settings",
    "ShareRefused",
    "SharedItem",
    "StoreFile",
    "StoredCaptions",
    "UpdateVideo",
    "UploadVideo",
    "UploadedBucket",
    "UserStatus",
    "ValidationError",
    "VideoFilter",
    "VideoResults",
    "VideoSort",
    "VideoStatus",
    "Visibility",
    "create_platform",
    "settle_events",
    "start_background",
]
