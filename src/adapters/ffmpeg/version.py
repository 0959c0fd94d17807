"""Whether ffmpeg runs here at all: ``ffmpeg -version``, the cheapest run there is (the
health checks' question; what a build can do is :mod:`.gpu`'s)."""

from __future__ import annotations

from videoplatform.adapters.ffmpeg.config import FfmpegConfig
from videoplatform.adapters.ffmpeg.process import FfmpegFailed, base_args, run_ffmpeg

VERSION_TIMEOUT_SECONDS = 5.0
"""A healthy ffmpeg prints its version in milliseconds; a cold disk may take a second."""


class FfmpegCheck:
    def __init__(self, config: FfmpegConfig) -> None:
        self._config = config

    def version(self) -> str:
        try:
            args = [*base_args(self._config), "-version"]
        except Exception as error:  # the bundled binary missing, say
            raise RuntimeError(f"ffmpeg cannot be found: {error}") from None
        try:
            result = run_ffmpeg(
                args, self._config, timeout=VERSION_TIMEOUT_SECONDS, limit_data_only=True
            )
        except FfmpegFailed as failure:
            raise RuntimeError(f"ffmpeg -version failed: {failure}") from None
        except OSError as error:  # not executable, not a program
            raise RuntimeError(f"ffmpeg cannot run: {error}") from None
        first = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
        if not first.startswith("ffmpeg version"):
            raise RuntimeError(f"this program does not say it is ffmpeg: {first[:100]!r}")
        return first.split(" Copyright", 1)[0]
