"""Finding out what an NVIDIA GPU can do for ffmpeg here.

Three questions, cheapest first: does this ffmpeg build have CUDA decoding, the CUDA
filters and NVENC; is a CUDA device there (a one-frame upload/scale/download through
it); can its encoder be used (a one-frame ``h264_nvenc`` encode; data-centre GPUs such
as the H100 or A100 decode but have no NVENC).
"""

from __future__ import annotations

import logging

from attrs import frozen

from videoplatform.adapters.ffmpeg.config import FfmpegConfig
from videoplatform.adapters.ffmpeg.process import (
    FfmpegFailed,
    base_args,
    last_error_line,
    run_ffmpeg,
)

log = logging.getLogger(__name__)

DETECT_TIMEOUT_SECONDS = 30.0
NEEDED_FILTERS = ("scale_cuda", "transpose_cuda", "hwdownload")


@frozen
class GpuCapability:
    """``decode``: CUDA decoding and scaling work; ``encode``: NVENC works too.
    ``reason`` says what is missing (or what was found)."""

    decode: bool
    encode: bool
    reason: str


def _listing(config: FfmpegConfig, flag: str) -> str:
    return run_ffmpeg(
        [*base_args(config), flag], config, timeout=DETECT_TIMEOUT_SECONDS, limit_data_only=True
    ).stdout


def _works(config: FfmpegConfig, args: list[str]) -> str | None:
    """None when the command succeeds, else why not."""
    try:
        run_ffmpeg(
            [*base_args(config), *args],
            config,
            timeout=DETECT_TIMEOUT_SECONDS,
            limit_data_only=True,
        )
    except FfmpegFailed as failure:
        return f"{failure.reason}: {last_error_line(failure.stderr)}"
    return None


def build_lacks(hwaccels: str, filters: str, encoders: str) -> list[str]:
    """What the build is missing for the GPU paths, from its ``-hwaccels``, ``-filters``
    and ``-encoders`` listings."""
    lacking = []
    if "cuda" not in hwaccels.split():
        lacking.append("the cuda hwaccel")
    filter_names = {line.split()[1] for line in filters.splitlines() if len(line.split()) > 2}
    lacking += [f"the {name} filter" for name in NEEDED_FILTERS if name not in filter_names]
    encoder_names = {line.split()[1] for line in encoders.splitlines() if len(line.split()) > 2}
    if "h264_nvenc" not in encoder_names:
        lacking.append("the h264_nvenc encoder")
    return lacking


DEVICE_TEST = [
    "-init_hw_device",
    "cuda=gpu",
    "-filter_hw_device",
    "gpu",
    "-f",
    "lavfi",
    "-i",
    "color=c=gray:s=64x64:d=0.1",
    "-vf",
    "format=nv12,hwupload,scale_cuda=w=32:h=32:format=nv12,hwdownload,format=nv12",
    "-frames:v",
    "1",
    "-f",
    "null",
    "-",
]
ENCODER_TEST = [
    "-init_hw_device",
    "cuda=gpu",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=s=256x256:d=0.1",
    "-frames:v",
    "1",
    "-c:v",
    "h264_nvenc",
    "-f",
    "null",
    "-",
]


def detect_gpu(config: FfmpegConfig) -> GpuCapability:
    try:
        lacking = build_lacks(
            _listing(config, "-hwaccels"),
            _listing(config, "-filters"),
            _listing(config, "-encoders"),
        )
    except FfmpegFailed as failure:
        return GpuCapability(False, False, f"cannot list ffmpeg's capabilities: {failure.reason}")
    if "the cuda hwaccel" in lacking or any("filter" in item for item in lacking):
        return GpuCapability(False, False, "this ffmpeg build lacks " + ", ".join(lacking))
    if (device_error := _works(config, DEVICE_TEST)) is not None:
        return GpuCapability(False, False, f"no usable CUDA device ({device_error})")
    if lacking:
        return GpuCapability(True, False, "CUDA decoding works; the build lacks h264_nvenc")
    if (encoder_error := _works(config, ENCODER_TEST)) is not None:
        return GpuCapability(True, False, f"CUDA decoding works; NVENC does not ({encoder_error})")
    return GpuCapability(True, True, "CUDA decoding and NVENC encoding work")
