"""Settings, read from ``VIDEOPLATFORM_*`` environment variables through cattrs.

Nothing reads the environment at import time: call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import cattrs
from attrs import frozen

from videoplatform.application.health import HealthConfig
from videoplatform.application.limits import Limits
from videoplatform.application.processing import ProcessingConfig
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ladder import DEFAULT_LADDER
from videoplatform.domain.users import Role, parse_roles

PREFIX = "VIDEOPLATFORM_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigurationError(ValueError):
    """A setting is missing, malformed or names something this build cannot provide."""


def require_extra(setting: str, value: str, package: str, extra: str) -> None:
    """ConfigurationError unless ``package`` (of the optional ``extra``) is installed:
    only the profile that ``VIDEOPLATFORM_<setting>=value`` chooses imports it."""
    if importlib.util.find_spec(package) is None:
        raise ConfigurationError(
            f"VIDEOPLATFORM_{setting}={value!r} needs {package}: install videoplatform[{extra}]"
        )


X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


# The settings by section: the provider of each capability reads its own section
# (entrypoints/providers.py), and `videoplatform check` prints them so. Every setting is
# in exactly one section (a unit test keeps it so).
SECTIONS: dict[str, tuple[str, ...]] = {
    "persistence": (
        "data_dir",
        "database_url",
        "database_pool_size",
        "database_max_overflow",
        "database_statement_timeout_ms",
        "database_slow_query_ms",
    ),
    "storage": (
        "storage_url",
        "s3_endpoint_url",
        "s3_region",
        "s3_connect_timeout_seconds",
        "s3_read_timeout_seconds",
        "s3_attempts",
        "accel_redirect_prefix",
    ),
    "queue": (
        "queue_url",
        "queue_prefix",
        "relay_poll_ms",
        "relay_listen",
        "job_max_attempts",
        "job_retry_base_seconds",
        "job_retry_cap_seconds",
        "queue_consumer_timeout_seconds",
    ),
    "cache": ("cache_url", "read_cache_seconds"),
    "mail": ("mail_url", "mail_from", "mail_reply_to"),
    "feed": ("feed_url", "event_streams"),
    "media": (
        "media_backend",
        "ffmpeg_path",
        "ffmpeg_threads",
        "ffmpeg_timeout_seconds",
        "ffmpeg_memory_limit_mib",
        "x264_preset",
        "video_crf",
        "hls_segment_seconds",
        "gpu_mode",
        "media_max_width",
        "media_max_height",
        "media_max_duration_seconds",
        "media_max_fps",
        "audio_loudnorm",
    ),
    "processing": ("processing_ladder", "poster_widths", "work_dir", "processing_threads"),
    "accounts": (
        "require_email_verification",
        "require_two_factor",
        "session_ttl_seconds",
        "argon2_time_cost",
        "argon2_memory_kib",
        "argon2_parallelism",
    ),
    "uploads": (
        "max_upload_bytes",
        "quota_bytes_per_user",
        "quota_files_per_user",
        "upload_expiry_seconds",
        "max_open_uploads",
    ),
    "playback": ("playback_secret", "playback_ttl_seconds"),
    "metrics": ("metrics_token", "metrics_bind"),
    "health": ("health_min_free_mib", "health_timeout_seconds"),
    "resilience": ("breaker_failures", "breaker_reset_seconds"),
    "search": ("search_log_days",),
    "errors": ("sentry_dsn", "sentry_environment", "sentry_sample_percent"),
    "http": (
        "bind",
        "workers",
        "threads",
        "upload_threads",
        "upload_wait_seconds",
        "max_connections",
        "request_timeout_seconds",
        "graceful_timeout_seconds",
        "header_timeout_seconds",
        "client_timeout_seconds",
        "min_body_rate",
        "cors_origins",
        "trusted_proxies",
        "json_body_limit",
        "public_url",
    ),
}
SECRET_SETTINGS = frozenset({"playback_secret", "metrics_token", "sentry_dsn"})
"""Shown as set or not, never by value."""


def masked_url(url: str) -> str:
    """``url`` with the password it may carry replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


@frozen
class Settings:
    """Everything that chooses adapters and limits. Each field ``name`` is read from the
    environment variable ``VIDEOPLATFORM_NAME``."""

    database_url: str = ""
    storage_url: str = ""
    queue_url: str = "memory://"
    cache_url: str = "memory://"
    # memory:// keeps mail in the process (nobody receives it); smtp://user:pass@host:587
    # (STARTTLS) or smtps://...:465 hands it to a mail server.
    mail_url: str = "memory://"
    mail_from: str = "videoplatform <noreply@localhost>"
    mail_reply_to: str = ""
    # ffmpeg (the default: imageio-ffmpeg's binary unless ffmpeg_path is set) or
    # synthetic (the documented test format of adapters.memory.media; no ffmpeg at all).
    media_backend: str = "ffmpeg"
    ffmpeg_path: str = ""
    ffmpeg_threads: int = 2  # per decoder, filter graph and encoder
    ffmpeg_timeout_seconds: int = 3600  # wall clock for one transcode
    ffmpeg_memory_limit_mib: int = 8192
    x264_preset: str = "veryfast"
    video_crf: int = 23
    hls_segment_seconds: int = 4
    gpu_mode: str = "off"  # off | auto | on: NVDEC/CUDA scaling, NVENC where present
    # Uploads declaring more than these are refused by the probe, before any transcoding.
    media_max_width: int = 8192
    media_max_height: int = 8192
    media_max_duration_seconds: int = 12 * 3600
    media_max_fps: int = 240
    # Normalise the loudness of every rendition's sound (EBU R128 measure, -16 LUFS,
    # -1.5 dBTP): audio uploads, and the sound of videos. Off: the sound as it was mixed.
    audio_loudnorm: bool = False
    data_dir: str = "var"
    require_email_verification: bool = False
    # Roles whose accounts must log in with a one-time code too (comma-separated, such
    # as "moderator,admin"); until they turn it on, they may do nothing else.
    require_two_factor: str = ""
    max_upload_bytes: int = 5 * 1024**3
    quota_bytes_per_user: int = 50 * 1024**3
    quota_files_per_user: int = 100_000  # items: files and videos together
    upload_expiry_seconds: int = 24 * 3600  # a resumable upload's lifetime
    max_open_uploads: int = 20  # unfinished resumable uploads per user at once
    session_ttl_seconds: int = 14 * 24 * 3600
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    database_pool_size: int = 5
    database_max_overflow: int = 10
    database_statement_timeout_ms: int = 30_000
    # Statements slower than this are logged (slow_query, with their shape); 0: none.
    database_slow_query_ms: int = 100
    bind: str = "127.0.0.1:8000"
    workers: int = 1
    threads: int = 4
    # Slow and idle clients (entrypoints/http/workers.py): streamed bodies (uploads) run
    # in upload_threads of their own; a request head must arrive within
    # header_timeout_seconds; a client may pause client_timeout_seconds at most, and a
    # body gets that long plus one second per min_body_rate bytes (0: no minimum).
    upload_threads: int = 16
    upload_wait_seconds: int = 10  # for an upload thread; then 503 server_busy
    max_connections: int = 1000  # per worker process, idle ones included
    request_timeout_seconds: int = 120
    graceful_timeout_seconds: int = 30
    header_timeout_seconds: int = 10
    client_timeout_seconds: int = 30
    min_body_rate: int = 8192
    cors_origins: str = ""
    # Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For
    # names the client: throttles and the audit trail then see clients, not the proxy.
    trusted_proxies: str = ""
    json_body_limit: int = 1024 * 1024
    public_url: str = ""
    read_cache_seconds: int = 5
    # With storage_url s3://BUCKET. Credentials never come from settings: boto3's default
    # chain finds them (AWS_* environment variables, ~/.aws files, instance roles).
    s3_endpoint_url: str = ""  # an S3-compatible service (MinIO, Ceph...); empty: AWS
    s3_region: str = "us-east-1"
    # Each S3 request waits this long at most to connect and for each answer, and is
    # tried this many times in all (a silent service costs attempts x read timeout).
    s3_connect_timeout_seconds: float = 3.0
    s3_read_timeout_seconds: float = 15.0
    s3_attempts: int = 2
    # Circuit breakers around S3, RabbitMQ publishing, Redis and SMTP: after this many
    # failures in a row a dependency is not tried for breaker_reset_seconds (requests
    # that need it answer 503 at once, or do without it), then one call tries it again.
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0
    # Search analytics keep queries and opened results this many days (no user and no
    # address in them); older ones are pruned by the periodic sweep.
    search_log_days: int = 90
    # Signs playback URLs; at least 32 bytes. Required with PostgreSQL (several machines
    # must agree); the embedded profile keeps a generated one in the data directory.
    playback_secret: str = attrs.field(default="", repr=False)
    playback_ttl_seconds: int = 6 * 3600
    # With local storage behind nginx: answer downloads with X-Accel-Redirect to this
    # internal location (e.g. /_protected/) plus the storage key; empty: off.
    accel_redirect_prefix: str = ""
    # GET /metrics (Prometheus) answers a bearer of this token; empty: no /metrics on
    # the API. At least 16 characters.
    metrics_token: str = attrs.field(default="", repr=False)
    # `videoplatform worker` serves its own /metrics on HOST:PORT; empty: none.
    metrics_bind: str = ""
    # Unhandled errors of the API and the worker go to Sentry at this DSN; empty: off.
    sentry_dsn: str = attrs.field(default="", repr=False)
    # Sentry's "environment" of those errors, and the share of them sent (0 to 100).
    sentry_environment: str = "production"
    sentry_sample_percent: int = 100
    # GET /health/detailed: a disk (data or work directory) with less free space than
    # this is degraded; the whole check waits this long at most for its probes.
    health_min_free_mib: int = 1024
    health_timeout_seconds: int = 5
    # Processing: rungs of the ladder by name (a subset of 1080p, 720p, 480p, 360p),
    # poster widths in pixels, and where jobs make their temporary directories (empty:
    # <data_dir>/work). Its automatic attempts are the jobs' (job_max_attempts).
    processing_ladder: str = ",".join(r.name for r in DEFAULT_LADDER)
    poster_widths: str = "1280,640,320"
    work_dir: str = ""
    # Jobs (queue_url amqp://... or memory://): queue names start with the prefix; a job
    # is tried job_max_attempts times, retries waiting job_retry_base_seconds, doubling
    # up to job_retry_cap_seconds. A RabbitMQ consumer that holds a job longer than the
    # consumer timeout is cut off and the job redelivered: keep it above the longest job.
    # With the in-process queue (memory://), each API process runs the outbox relay and
    # this many processing threads itself: the embedded profile needs no worker process.
    processing_threads: int = 1
    # How often an idle relay looks at the outbox. A commit in the relay's own process
    # wakes it at once; on PostgreSQL, a commit made by any other process (an API node)
    # does too, through LISTEN/NOTIFY on a connection of the relay's own, unless
    # relay_listen is off (a connection pooler in transaction mode cannot LISTEN). A
    # commit that nothing announced (SQLite written by another process, notifications
    # lost while the database was away) waits for this poll.
    relay_poll_ms: int = 250
    relay_listen: bool = True
    queue_prefix: str = "videoplatform."
    job_max_attempts: int = 3
    job_retry_base_seconds: int = 30
    job_retry_cap_seconds: int = 900
    queue_consumer_timeout_seconds: int = 4 * 3600
    # Processing updates for clients that follow a video (GET .../events): memory:// within
    # one process (the embedded profile), redis://HOST:PORT/DB between the workers and
    # the API processes. Each open event stream holds a server thread: at most
    # event_streams of them per process (0: half the threads; none with one thread).
    feed_url: str = "memory://"
    event_streams: int = 0

    def by_section(self) -> dict[str, dict[str, object]]:
        """Every setting, by section (``SECTIONS``), secrets masked."""
        return {
            section: {
                name: ("(set)" if getattr(self, name) else "(not set)")
                if name in SECRET_SETTINGS
                else masked_url(getattr(self, name))
                if name.endswith("_url")
                else getattr(self, name)
                for name in names
            }
            for section, names in SECTIONS.items()
        }

    def __attrs_post_init__(self) -> None:
        if self.search_log_days < 1:
            raise ConfigurationError("VIDEOPLATFORM_SEARCH_LOG_DAYS: at least 1")
        if self.breaker_failures < 1 or self.breaker_reset_seconds <= 0:
            raise ConfigurationError(
                f"{PREFIX}BREAKER_FAILURES must be 1 or more and "
                f"{PREFIX}BREAKER_RESET_SECONDS more than 0"
            )
        if min(self.s3_connect_timeout_seconds, self.s3_read_timeout_seconds) <= 0:
            raise ConfigurationError(f"{PREFIX}S3_*_TIMEOUT_SECONDS must be more than 0")
        if self.s3_attempts < 1:
            raise ConfigurationError(f"{PREFIX}S3_ATTEMPTS must be 1 or more")
        if self.database_slow_query_ms < 0:
            raise ConfigurationError(f"{PREFIX}DATABASE_SLOW_QUERY_MS must be 0 or more")
        if not 0 <= self.sentry_sample_percent <= 100:
            raise ConfigurationError(f"{PREFIX}SENTRY_SAMPLE_PERCENT must be 0 to 100")
        if self.metrics_token and len(self.metrics_token) < 16:
            raise ConfigurationError(f"{PREFIX}METRICS_TOKEN must be at least 16 characters")
        if self.playback_secret and len(self.playback_secret.encode()) < 32:
            raise ConfigurationError(f"{PREFIX}PLAYBACK_SECRET must be at least 32 bytes")
        if self.playback_ttl_seconds < 60:
            raise ConfigurationError(f"{PREFIX}PLAYBACK_TTL_SECONDS must be at least 60")
        prefix = self.accel_redirect_prefix
        if prefix and not (prefix.startswith("/") and prefix.endswith("/")):
            raise ConfigurationError(
                f"{PREFIX}ACCEL_REDIRECT_PREFIX must start and end with '/' (e.g. /_protected/)"
            )
        for name in (
            "max_upload_bytes",
            "quota_bytes_per_user",
            "quota_files_per_user",
            "upload_expiry_seconds",
            "max_open_uploads",
            "session_ttl_seconds",
            "argon2_time_cost",
            "argon2_parallelism",
            "database_pool_size",
            "database_statement_timeout_ms",
            "ffmpeg_threads",
            "ffmpeg_timeout_seconds",
            "ffmpeg_memory_limit_mib",
            "hls_segment_seconds",
            "media_max_width",
            "media_max_height",
            "media_max_duration_seconds",
            "media_max_fps",
            "job_max_attempts",
            "relay_poll_ms",
            "queue_consumer_timeout_seconds",
            "upload_threads",
            "upload_wait_seconds",
            "max_connections",
            "header_timeout_seconds",
            "client_timeout_seconds",
            "health_timeout_seconds",
        ):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{PREFIX}{name.upper()} must be at least 1")
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ConfigurationError(
                f"{PREFIX}ARGON2_MEMORY_KIB must be at least 8 times ARGON2_PARALLELISM"
            )
        self.processing()  # refuse an unknown rung or a bad width at startup
        if self.event_streams < 0:
            raise ConfigurationError(f"{PREFIX}EVENT_STREAMS cannot be negative")
        if self.processing_threads < 0:
            raise ConfigurationError(f"{PREFIX}PROCESSING_THREADS cannot be negative")
        try:
            self.trusted_proxy_networks  # noqa: B018 - refuse a bad network at startup
        except ValueError as error:
            raise ConfigurationError(f"{PREFIX}TRUSTED_PROXIES: {error}") from None
        if self.min_body_rate < 0:
            raise ConfigurationError(f"{PREFIX}MIN_BODY_RATE cannot be negative")
        if self.health_min_free_mib < 0:
            raise ConfigurationError(f"{PREFIX}HEALTH_MIN_FREE_MIB cannot be negative")
        if self.media_backend not in ("ffmpeg", "synthetic"):
            raise ConfigurationError(f"{PREFIX}MEDIA_BACKEND must be ffmpeg or synthetic")
        if self.gpu_mode not in ("off", "auto", "on"):
            raise ConfigurationError(f"{PREFIX}GPU_MODE must be off, auto or on")
        if self.x264_preset not in X264_PRESETS:
            raise ConfigurationError(
                f"{PREFIX}X264_PRESET must be one of {', '.join(X264_PRESETS)}"
            )
        if not 0 <= self.video_crf <= 51:
            raise ConfigurationError(f"{PREFIX}VIDEO_CRF must be between 0 and 51")

    @property
    def trusted_proxy_networks(self) -> tuple[str, ...]:
        """The trusted proxies, each checked as an address or network."""
        networks = tuple(n.strip() for n in self.trusted_proxies.split(",") if n.strip())
        for network in networks:
            ipaddress.ip_network(network, strict=False)
        return networks

    @property
    def event_stream_limit(self) -> int:
        """How many event streams one process serves at once. By default half the
        threads: none with a single thread, which one stream would hold for minutes."""
        return self.event_streams or self.threads // 2

    @property
    def in_process_queue(self) -> bool:
        """Jobs live in the memory of the process that relays them (no broker)."""
        return self.queue_url.split(":", 1)[0] == "memory"

    def health(self) -> HealthConfig:
        """What the health checks need: where the disks to watch are, and which
        dependencies this process cannot serve without."""
        return HealthConfig(
            data_dir=Path(self.data_dir),
            work_dir=self.processing().work_dir or Path(self.data_dir) / "work",
            queue_required=not self.in_process_queue,
            media_required=self.in_process_queue and self.processing_threads > 0,
            min_free_bytes=self.health_min_free_mib * 1024 * 1024,
            timeout_seconds=float(self.health_timeout_seconds),
        )

    @classmethod
    def in_memory(cls, **changes: Any) -> Settings:
        """Everything in memory: nothing touches disk or network (tests, notebooks)."""
        memory: dict[str, Any] = dict.fromkeys(
            ("database_url", "storage_url", "queue_url", "cache_url", "mail_url", "feed_url"),
            "memory://",
        )
        # Processing still needs files for the media tools: the system's temporary
        # directory rather than a data directory.
        memory["work_dir"] = tempfile.gettempdir()
        memory["media_backend"] = "synthetic"
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

    def two_factor_roles(self) -> frozenset[Role]:
        names = [n for n in self.require_two_factor.split(",") if n.strip()]
        try:
            return parse_roles(names) if names else frozenset()
        except ValidationError:
            known = ", ".join(r.value for r in Role)
            raise ConfigurationError(
                f"{PREFIX}REQUIRE_TWO_FACTOR must name roles among {known}"
            ) from None

    def limits(self) -> Limits:
        return Limits(
            max_upload_bytes=self.max_upload_bytes,
            quota_bytes_per_user=self.quota_bytes_per_user,
            quota_files_per_user=self.quota_files_per_user,
            session_ttl=timedelta(seconds=self.session_ttl_seconds),
            require_email_verification=self.require_email_verification,
            two_factor_roles=self.two_factor_roles(),
            upload_lifetime=timedelta(seconds=self.upload_expiry_seconds),
            max_open_uploads=self.max_open_uploads,
        )

    def processing(self) -> ProcessingConfig:
        rungs = {rung.name: rung for rung in DEFAULT_LADDER}
        names = [n.strip() for n in self.processing_ladder.split(",") if n.strip()]
        unknown = [n for n in names if n not in rungs]
        if unknown or not names:
            raise ConfigurationError(
                f"{PREFIX}PROCESSING_LADDER must name some of {', '.join(rungs)}"
            )
        try:
            widths = tuple(int(w) for w in self.poster_widths.split(",") if w.strip())
        except ValueError:
            widths = ()
        if not widths or min(widths) < 2 or max(widths) > 7680:
            raise ConfigurationError(
                f"{PREFIX}POSTER_WIDTHS must be comma-separated widths of 2 to 7680 pixels"
            )
        return ProcessingConfig(
            ladder=tuple(dict.fromkeys(rungs[n] for n in names)),
            poster_widths=widths,
            work_dir=Path(self.work_dir) if self.work_dir else Path(self.data_dir) / "work",
            max_attempts=self.job_max_attempts,
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
