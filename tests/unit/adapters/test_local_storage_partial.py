"""Local disk: a put killed mid-way leaves a hidden ``.incoming-*.part`` file beside
its target; the sweep removes such files once stale, and the folders they leave empty."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from videoplatform.adapters.storage.local import INCOMING, PARTIAL, LocalObjectStorage

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def leftover(folder: Path, name: str, written: datetime) -> Path:
    """What a process killed during a put leaves: the temporary file, never renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{INCOMING}{name}{PARTIAL}"
    path.write_bytes(b"half an upload")
    os.utime(path, (written.timestamp(), written.timestamp()))
    return path


def test_stale_partial_writes_go_with_the_folders_they_alone_filled(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    storage = LocalObjectStorage(root)
    storage.put("videos/kept/source", io.BytesIO(b"a whole video"))
    alone = leftover(root / "videos" / "gone", "abc", NOW - timedelta(hours=2))
    beside = leftover(root / "videos" / "kept", "def", NOW - timedelta(hours=2))
    fresh = leftover(root / "videos" / "busy", "ghi", NOW - timedelta(minutes=1))

    removed = storage.sweep_partial(NOW - timedelta(hours=1))

    assert removed == 2
    assert not alone.exists() and not alone.parent.exists()
    assert not beside.exists()
    assert b"".join(storage.get("videos/kept/source")) == b"a whole video"
    assert fresh.exists()  # a write still going on is never touched
    assert root.is_dir()


def test_sweeping_an_empty_store_removes_nothing(tmp_path: Path) -> None:
    assert LocalObjectStorage(tmp_path / "objects").sweep_partial(NOW) == 0
