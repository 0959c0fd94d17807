"""What the health checks ask of the machine: whether ffmpeg runs (``ffmpeg -version``,
within a few seconds) and how much room a directory's disk has left, made or not."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from videoplatform.adapters.ffmpeg import FfmpegCheck, FfmpegConfig
from videoplatform.adapters.ffmpeg import version as ffmpeg_version
from videoplatform.adapters.system import LocalDiskSpace


def program(folder: Path, script: str) -> Path:
    path = folder / "fake-ffmpeg"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_bundled_ffmpeg_says_its_version() -> None:
    assert FfmpegCheck(FfmpegConfig()).version().startswith("ffmpeg version ")


def test_the_version_is_one_line_without_the_copyright(tmp_path: Path) -> None:
    fake = program(tmp_path, 'echo "ffmpeg version 7.0.2-static Copyright (c) 2000-2024"')
    assert FfmpegCheck(FfmpegConfig(binary=fake)).version() == "ffmpeg version 7.0.2-static"


def test_a_missing_ffmpeg_is_a_reason(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ffmpeg cannot run"):
        FfmpegCheck(FfmpegConfig(binary=tmp_path / "nowhere")).version()


def test_a_program_that_is_not_ffmpeg_is_refused(tmp_path: Path) -> None:
    fake = program(tmp_path, "echo hello")
    with pytest.raises(RuntimeError, match="does not say it is ffmpeg: 'hello'"):
        FfmpegCheck(FfmpegConfig(binary=fake)).version()


def test_an_ffmpeg_that_fails_is_a_reason(tmp_path: Path) -> None:
    fake = program(tmp_path, "echo '[error] libfoo.so: cannot open shared object' >&2; exit 127")
    with pytest.raises(RuntimeError, match=r"exited with status 127.*libfoo"):
        FfmpegCheck(FfmpegConfig(binary=fake)).version()


def test_an_ffmpeg_that_hangs_is_given_up_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ffmpeg_version, "VERSION_TIMEOUT_SECONDS", 0.3)
    fake = program(tmp_path, "sleep 30")
    with pytest.raises(RuntimeError, match=r"longer than 0\.3s"):
        FfmpegCheck(FfmpegConfig(binary=fake)).version()


def test_free_space_is_that_of_the_nearest_existing_folder(tmp_path: Path) -> None:
    disks = LocalDiskSpace()
    free = disks.free_bytes(tmp_path / "not" / "made" / "yet")
    assert free > 0
    assert abs(free - shutil.disk_usage(tmp_path).free) < 256 * 1024**2
    assert not (tmp_path / "not").exists()
    assert disks.free_bytes(Path("relative/to/the/working/directory")) > 0
