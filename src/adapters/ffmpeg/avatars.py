"""Avatars with ffmpeg: one decode of the uploaded image, split into square JPEGs.

The image is opened like every source here (``file:`` protocol only), with the one
single-image demuxer of its sniffed type as the only format allowed (no image sequence,
no reference to another file), and with a bound on the pixels a decoder may allocate.
Nothing of the source's metadata is carried over (``-map_metadata -1``; JPEGs are
written without EXIF)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from videoplatform.adapters.ffmpeg.config import FfmpegConfig
from videoplatform.adapters.ffmpeg.process import (
    FfmpegFailed,
    base_args,
    file_url,
    last_error_line,
    run_ffmpeg,
)
from videoplatform.application.ports.media import AVATAR_SIZES, MediaRejected

DEMUXERS = {"image/png": "png_pipe", "image/jpeg": "jpeg_pipe", "image/webp": "webp_pipe"}
MAX_PIXELS = 40_000_000
"""The largest image (width times height) a decoder may open: a bound on its memory."""
TIMEOUT_SECONDS = 30.0

log = logging.getLogger(__name__)


def avatar_args(
    config: FfmpegConfig, source: Path, demuxer: str, targets: Sequence[Path]
) -> list[str]:
    branches = "".join(f"[s{i}]" for i in range(len(targets)))
    graph = [f"[0:v:0]split={len(targets)}{branches}"]
    for i, size in enumerate(AVATAR_SIZES[: len(targets)]):
        graph.append(
            f"[s{i}]scale=w={size}:h={size}:force_original_aspect_ratio=increase:"
            f"flags=bicubic,crop={size}:{size},setsar=1,format=yuvj420p[o{i}]"
        )
    args = [
        *base_args(config), "-y", "-threads", "1",
        "-protocol_whitelist", "file", "-format_whitelist", demuxer, "-f", demuxer,
        "-max_pixels", str(MAX_PIXELS),
        "-i", file_url(source),
        "-filter_complex", ";".join(graph),
    ]  # fmt: skip
    for i, target in enumerate(targets):
        args += [
            "-map", f"[o{i}]", "-map_metadata", "-1", "-frames:v", "1",
            "-c:v", "mjpeg", "-q:v", str(config.jpeg_quality),
            "-f", "image2", "-update", "1", file_url(target),
        ]  # fmt: skip
    return args


class FfmpegAvatarMaker:
    def __init__(self, config: FfmpegConfig) -> None:
        self._config = config

    def avatars(self, source: Path, mime: str, targets: Sequence[Path]) -> str:
        demuxer = DEMUXERS.get(mime)
        if demuxer is None:
            raise MediaRejected("an avatar is a PNG, JPEG or WebP image")
        if not 0 < len(targets) <= len(AVATAR_SIZES):
            raise ValueError("one target per avatar size")
        args = avatar_args(self._config, source, demuxer, targets)
        try:
            run_ffmpeg(args, self._config, timeout=TIMEOUT_SECONDS)
        except FfmpegFailed as failure:
            log.info("avatar refused: %s", last_error_line(failure.stderr))
            raise MediaRejected("the image could not be read") from None
        if any(not t.is_file() or t.stat().st_size == 0 for t in targets):
            raise MediaRejected("the image could not be read")
        return "image/jpeg"
