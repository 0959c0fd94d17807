"""Local disk: deleting a prefix that a writer is still adding to (a video deleted while
it is processed) removes what is there and what arrives meanwhile, without failing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from videoplatform.adapters.storage.local import LocalObjectStorage


def test_a_prefix_written_to_while_it_is_deleted_is_removed_without_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalObjectStorage(tmp_path / "objects")
    for n in range(3):
        storage.put(f"videos/v1/out/a1/360p/segment{n}.ts", io.BytesIO(b"x"))
    storage.put("videos/v2/source", io.BytesIO(b"another video"))
    rendition = tmp_path / "objects" / "videos" / "v1" / "out" / "a1" / "360p"
    rmdir = Path.rmdir
    late: list[Path] = []

    def rmdir_as_a_segment_lands(path: Path) -> None:
        # The transcoder writes its next segment just before the folder is removed.
        if path == rendition and not late:
            late.append(path / "segment3.ts")
            late[0].write_bytes(b"x")
        rmdir(path)

    monkeypatch.setattr(Path, "rmdir", rmdir_as_a_segment_lands)

    assert storage.delete_prefix("videos/v1/") == 4
    assert late and not late[0].exists()
    assert not (tmp_path / "objects" / "videos" / "v1").exists()
    assert b"".join(storage.get("videos/v2/source")) == b"another video"
