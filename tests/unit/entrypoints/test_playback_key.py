"""Where the playback signing secret comes from in each profile."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from videoplatform.entrypoints.keys import KEY_FILE, playback_secret, stored_secret
from videoplatform.entrypoints.settings import ConfigurationError, Settings


def test_a_configured_secret_is_used_and_a_short_one_refused() -> None:
    assert playback_secret(Settings.in_memory(playback_secret="k" * 32)) == b"k" * 32
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        Settings.in_memory(playback_secret="short")


def test_the_embedded_profile_keeps_one_private_secret_in_its_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "data"))
    first = playback_secret(settings)
    assert len(first) >= 32
    key = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert playback_secret(settings) == first  # a restart, or another worker, agrees
    assert sorted(p.name for p in key.parent.iterdir()) == [KEY_FILE]


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / KEY_FILE
    stored_secret(key)
    key.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        stored_secret(key)


def test_postgresql_requires_a_configured_secret() -> None:
    settings = Settings(database_url="postgresql://vp@db.example/vp", storage_url="memory://")
    with pytest.raises(ConfigurationError, match="PLAYBACK_SECRET is required"):
        playback_secret(settings)


def test_an_in_memory_platform_gets_a_fresh_random_secret() -> None:
    settings = Settings.in_memory()
    assert playback_secret(settings) != playback_secret(settings)


def test_the_secret_never_appears_in_the_settings_repr() -> None:
    assert "k" * 32 not in repr(Settings.in_memory(playback_secret="k" * 32))


def test_the_accel_prefix_must_be_a_location() -> None:
    with pytest.raises(ConfigurationError, match="ACCEL_REDIRECT_PREFIX"):
        Settings.in_memory(accel_redirect_prefix="_protected")
