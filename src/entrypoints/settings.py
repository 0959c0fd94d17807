"""Settings, read from ``VIDEOPLATFORM_*`` environment variables through cattrs.

Nothing reads the environment at import time: call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs
import cattrs
from attrs import frozen

from application.limits import Limits

PREFIX = "VIDEOPLATFORM_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigurationError(ValueError):
    """A setting is missing, malformed or names something this build cannot provide."""


@frozen
class Settings:
    """Everything that chooses adapters and limits. Each field ``name`` is read from the
    environment variable ``VIDEOPLATFORM_NAME``."""

    database_url: str = ""
    storage_url: str = ""
    queue_url: str = "memory://"
    cache_url: str = "memory://"
    mail_url: str = "memory://"
    media_backend: str = "synthetic"
    data_dir: str = "var"
    require_email_verification: bool = False
    max_upload_bytes: int = 5 * 1024**3
    quota_bytes_per_user: int = 50 * 1024**3
    quota_files_per_user: int = 100_000
    session_ttl_seconds: int = 14 * 24 * 3600
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    database_pool_size: int = 5
    database_max_overflow: int = 10
    database_statement_timeout_ms: int = 30_000
    bind: str = "127.0.0.1:8000"
    workers: int = 1
    threads: int = 4
    request_timeout_seconds: int = 120
    graceful_timeout_seconds: int = 30
    cors_origins: str = ""
    json_body_limit: int = 1024 * 1024
    public_url: str = ""
    read_cache_seconds: int = 5
    # With storage_url s3://BUCKET. Credentials never come from settings: boto3's default
    # chain finds them (AWS_* environment variables, ~/.aws files, instance roles).
    s3_endpoint_url: str = ""  # an S3-compatible service (MinIO, Ceph...); empty: AWS
    s3_region: str = "us-east-1"
    # Jobs (queue_url amqp://... or memory://): queue names start with the prefix; a job
    # is tried job_max_attempts times, retries waiting job_retry_base_seconds, doubling
    # up to job_retry_cap_seconds. A RabbitMQ consumer that holds a job longer than the
    # consumer timeout is cut off and the job redelivered: keep it above the longest job.
    queue_prefix: str = "videoplatform."
    job_max_attempts: int = 3
    job_retry_base_seconds: int = 30
    job_retry_cap_seconds: int = 900
    queue_consumer_timeout_seconds: int = 4 * 3600

    def __attrs_post_init__(self) -> None:
        for name in (
            "max_upload_bytes",
            "quota_bytes_per_user",
            "quota_files_per_user",
            "session_ttl_seconds",
            "argon2_time_cost",
            "argon2_parallelism",
            "database_pool_size",
            "database_statement_timeout_ms",
            "job_max_attempts",
            "queue_consumer_timeout_seconds",
        ):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{PREFIX}{name.upper()} must be at least 1")
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ConfigurationError(
                f"{PREFIX}ARGON2_MEMORY_KIB must be at least 8 times ARGON2_PARALLELISM"
            )

    @classmethod
    def in_memory(cls, **changes: Any) -> Settings:
        """Everything in memory: nothing touches disk or network (tests, notebooks)."""
        memory = dict.fromkeys(
            ("database_url", "storage_url", "queue_url", "cache_url", "mail_url"), "memory://"
        )
        return cls(**{**memory, **changes})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default: the process environment). Variables
        that are not settings are ignored; malformed values raise ConfigurationError."""
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for field in attrs.fields(cls):
            value = env.get(PREFIX + field.name.upper())
            if value is not None:
                raw[field.name] = value
        try:
            return _converter.structure(raw, cls)
        except cattrs.BaseValidationError as exc:
            problems = "; ".join(_describe(e) for e in exc.exceptions)
            raise ConfigurationError(f"invalid settings: {problems}") from None

    def limits(self) -> Limits:
        return Limits(
            max_upload_bytes=self.max_upload_bytes,
            quota_bytes_per_user=self.quota_bytes_per_user,
            quota_files_per_user=self.quota_files_per_user,
            session_ttl=timedelta(seconds=self.session_ttl_seconds),
            require_email_verification=self.require_email_verification,
        )


def _structure_bool(value: object, _: type) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean (use true/false)")


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().replace("_", "")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None


def _describe(error: BaseException) -> str:
    notes = getattr(error, "__notes__", [])
    where = notes[0] if notes else ""
    return f"{where}: {error}" if where else str(error)


_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook(bool, _structure_bool)
_converter.register_structure_hook(int, _structure_int)
