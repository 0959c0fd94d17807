"""Settings are read from VIDEOPLATFORM_* variables, typed, and validated."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from videoplatform.entrypoints.settings import SECTIONS, ConfigurationError, Settings


def test_defaults_are_the_embedded_profile() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    # Empty URLs mean the embedded profile: SQLite and local disk in the data directory.
    assert (settings.database_url, settings.storage_url, settings.data_dir) == ("", "", "var")
    assert settings.require_email_verification is False


def test_in_memory_settings_touch_neither_disk_nor_network() -> None:
    settings = Settings.in_memory(max_upload_bytes=10)
    urls = {settings.database_url, settings.storage_url, settings.queue_url, settings.cache_url}
    assert urls == {"memory://"}
    assert settings.max_upload_bytes == 10


def test_each_setting_comes_from_its_prefixed_variable() -> None:
    settings = Settings.from_env(
        {
            "VIDEOPLATFORM_DATA_DIR": "/srv/vp",
            "VIDEOPLATFORM_MAX_UPLOAD_BYTES": "1_048_576",
            "VIDEOPLATFORM_REQUIRE_EMAIL_VERIFICATION": "Yes",
            "VIDEOPLATFORM_SESSION_TTL_SECONDS": "60",
        }
    )
    assert settings.data_dir == "/srv/vp"
    assert settings.max_upload_bytes == 1_048_576
    assert settings.require_email_verification is True
    assert settings.limits().session_ttl == timedelta(seconds=60)
    assert settings.limits().max_upload_bytes == 1_048_576


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("on", True), ("0", False), ("off", False), ("", False), ("FALSE", False)],
)
def test_booleans_are_parsed_from_words_not_truthiness(text: str, expected: bool) -> None:
    env = {"VIDEOPLATFORM_REQUIRE_EMAIL_VERIFICATION": text}
    assert Settings.from_env(env).require_email_verification is expected


def test_unrelated_variables_are_ignored() -> None:
    env = {"VIDEOPLATFORM_REQUIRE_SERVICES": "1", "HOME": "/root"}
    assert Settings.from_env(env) == Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VIDEOPLATFORM_MAX_UPLOAD_BYTES": "ten"}, "is not an integer"),
        ({"VIDEOPLATFORM_REQUIRE_EMAIL_VERIFICATION": "perhaps"}, "is not a boolean"),
        ({"VIDEOPLATFORM_QUOTA_FILES_PER_USER": "0"}, "QUOTA_FILES_PER_USER must be at least 1"),
        ({"VIDEOPLATFORM_TRUSTED_PROXIES": "10.0.0.1, nginx"}, "TRUSTED_PROXIES: .*nginx"),
        ({"VIDEOPLATFORM_UPLOAD_THREADS": "0"}, "UPLOAD_THREADS must be at least 1"),
        ({"VIDEOPLATFORM_MIN_BODY_RATE": "-1"}, "MIN_BODY_RATE cannot be negative"),
    ],
)
def test_malformed_values_raise_a_configuration_error_naming_the_problem(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


def test_argon2_memory_must_cover_its_parallelism() -> None:
    with pytest.raises(ConfigurationError, match="ARGON2_MEMORY_KIB"):
        Settings(argon2_memory_kib=8, argon2_parallelism=4)


def test_every_setting_is_in_exactly_one_section() -> None:
    named = [name for names in SECTIONS.values() for name in names]
    assert sorted(named) == sorted(field.name for field in attrs.fields(Settings))
    assert len(named) == len(set(named))


def test_settings_by_section_mask_the_playback_secret() -> None:
    secret = "s" * 40
    sections = Settings.in_memory(playback_secret=secret).by_section()
    assert sections["playback"]["playback_secret"] == "(set)"
    assert secret not in repr(sections)
    assert sections["persistence"]["database_url"] == "memory://"


def test_health_checks_require_what_this_process_cannot_serve_without(tmp_path: Path) -> None:
    embedded = Settings(data_dir=str(tmp_path), health_min_free_mib=512).health()
    assert (embedded.queue_required, embedded.media_required) == (False, True)
    assert (embedded.data_dir, embedded.work_dir) == (tmp_path, tmp_path / "work")
    assert embedded.min_free_bytes == 512 * 1024 * 1024
    assert embedded.timeout_seconds == 5.0
    api_node = Settings(queue_url="amqp://guest:guest@broker:5672/%2F", work_dir="/scratch")
    assert (api_node.health().queue_required, api_node.health().media_required) == (True, False)
    assert api_node.health().work_dir == Path("/scratch")
    assert Settings(processing_threads=0).health().media_required is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"health_timeout_seconds": 0}, "HEALTH_TIMEOUT_SECONDS"),
        ({"health_min_free_mib": -1}, "HEALTH_MIN_FREE_MIB"),
    ],
)
def test_health_settings_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings(**changes)
