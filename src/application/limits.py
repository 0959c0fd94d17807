"""Configured limits the use cases enforce."""

from __future__ import annotations

from datetime import timedelta

from attrs import frozen

from videoplatform.domain.users import Role

PERSONAL_TOKEN_MAX_DAYS = 365
"""How long a personal API token may live at most (the HTTP API states it)."""


@frozen
class Limits:
    max_upload_bytes: int = 5 * 1024**3
    quota_bytes_per_user: int = 50 * 1024**3
    """Bytes of files and video sources together, per user."""
    quota_files_per_user: int = 100_000
    """Items per user: files and videos together (the name predates videos counting)."""
    session_ttl: timedelta = timedelta(days=14)
    personal_token_max_ttl: timedelta = timedelta(days=PERSONAL_TOKEN_MAX_DAYS)
    email_verification_ttl: timedelta = timedelta(days=2)
    require_email_verification: bool = False
    two_factor_roles: frozenset[Role] = frozenset()
    """Roles whose accounts must turn two-factor login on before doing anything else."""
    upload_lifetime: timedelta = timedelta(hours=24)
    """How long a resumable upload may take from creation to its last byte."""
    max_open_uploads: int = 20
    """Resumable uploads one user may have open (unfinished and unexpired) at once."""
