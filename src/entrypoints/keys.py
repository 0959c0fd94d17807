"""The playback signing secret: configured, generated once per data directory, or (for a
platform that keeps nothing) generated per process."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from videoplatform.application.playback import MIN_SECRET_BYTES
from videoplatform.entrypoints.persistence import database_url
from videoplatform.entrypoints.settings import ConfigurationError, Settings

KEY_FILE = "playback.key"


def playback_secret(settings: Settings) -> bytes:
    """``VIDEOPLATFORM_PLAYBACK_SECRET`` when set. Otherwise: a random secret for an
    in-memory database; a ConfigurationError with PostgreSQL (API nodes on several
    machines must share one secret); and for the embedded profile, a secret generated
    once and kept in the data directory, so restarts and every worker agree."""
    if settings.playback_secret:
        return settings.playback_secret.encode()
    scheme = database_url(settings).split(":", 1)[0].split("+", 1)[0]
    if scheme == "memory":
        return secrets.token_bytes(MIN_SECRET_BYTES)
    if scheme != "sqlite":
        raise ConfigurationError(
            "VIDEOPLATFORM_PLAYBACK_SECRET is required with this database: set it to the "
            f"same random value (at least {MIN_SECRET_BYTES} bytes) on every API node, e.g. "
            "the output of `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    return stored_secret(Path(settings.data_dir) / KEY_FILE)


def stored_secret(path: Path) -> bytes:
    """The secret kept in ``path``, created (0600) on first use. Concurrent first uses
    (several workers starting together) agree: the key is written to a private temporary
    file and linked into place, which succeeds for exactly one of them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)
        finally:
            temp.unlink()
    if path.stat().st_mode & 0o077:
        raise ConfigurationError(f"{path} must be readable by its owner only (chmod 600)")
    secret = path.read_text().strip()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"{path} holds a secret shorter than {MIN_SECRET_BYTES} bytes")
    return secret.encode()
