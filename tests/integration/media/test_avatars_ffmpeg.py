"""Avatars with the real ffmpeg: a photograph's metadata does not survive, each size is
a square JPEG, and pictures that would take too much to decode, or are not what they
claim, are refused."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from videoplatform.adapters.ffmpeg.avatars import FfmpegAvatarMaker
from videoplatform.adapters.ffmpeg.config import FfmpegConfig
from videoplatform.application.ports.media import AVATAR_SIZES, MediaRejected

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SECRET = b"taken at 51.5007N 0.1246W by camera 0042"


def picture(folder: Path, name: str, size: str) -> Path:
    path = folder / name
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={size}", "-frames:v", "1",
         "-y", str(path)],
        check=True,
    )  # fmt: skip
    return path


def with_comment(jpeg: bytes, text: bytes) -> bytes:
    """The JPEG with a comment segment (COM) right after its start marker, as cameras
    and editors leave text in a file."""
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def dimensions(path: Path) -> str:
    shown = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    found = [line for line in shown.stderr.splitlines() if "Video:" in line]
    assert found, shown.stderr
    return found[0]


def test_a_photo_becomes_square_jpegs_without_its_metadata(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(with_comment(picture(tmp_path, "plain.jpg", "640x360").read_bytes(), SECRET))
    targets = [tmp_path / f"{size}.jpg" for size in AVATAR_SIZES]

    made = FfmpegAvatarMaker(FfmpegConfig()).avatars(source, "image/jpeg", targets)

    assert made == "image/jpeg"
    for size, target in zip(AVATAR_SIZES, targets, strict=True):
        assert target.read_bytes()[:3] == b"\xff\xd8\xff"
        assert f" {size}x{size}" in dimensions(target)
        assert SECRET not in target.read_bytes()
    assert SECRET in source.read_bytes()


def test_a_png_is_taken_too(tmp_path: Path) -> None:
    source = picture(tmp_path, "drawing.png", "100x300")
    targets = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    FfmpegAvatarMaker(FfmpegConfig()).avatars(source, "image/png", targets)
    assert " 256x256" in dimensions(targets[0])


def test_a_picture_too_large_to_decode_or_not_what_it_claims_is_refused(tmp_path: Path) -> None:
    maker = FfmpegAvatarMaker(FfmpegConfig())
    huge = picture(tmp_path, "huge.png", "8000x6000")  # 48 megapixels
    with pytest.raises(MediaRejected):
        maker.avatars(huge, "image/png", [tmp_path / "x.jpg"])
    lying = tmp_path / "lying.png"
    lying.write_bytes(picture(tmp_path, "real.jpg", "64x64").read_bytes())
    with pytest.raises(MediaRejected):
        maker.avatars(lying, "image/png", [tmp_path / "y.jpg"])
