"""Text subtitle streams of a source, converted to WebVTT in one ffmpeg run.

Which streams are text (subrip, ASS/SSA, WebVTT, mov_text) and where they sit among the
subtitle streams (``-map 0:s:N`` counts bitmap ones too) is read from the prober's report
of the source, which it remembers from processing's probe: no run of its own. The run
then demuxes the file once and writes one ``subtitles_<N>.vtt`` per stream, each capped
a little above :data:`SUBTITLE_MAX_BYTES` (``-fs``) so that a flood cannot fill the disk;
one that reaches the cap is skipped with a log line. Cue times are on the source's
timeline from its start, as the renditions' are.
"""

from __future__ import annotations

import logging
from pathlib import Path

from videoplatform.adapters.ffmpeg.config import FfmpegConfig
from videoplatform.adapters.ffmpeg.probe import FfmpegProber
from videoplatform.adapters.ffmpeg.process import (
    FfmpegFailed,
    base_args,
    file_url,
    input_args,
    last_error_line,
    run_ffmpeg,
)
from videoplatform.application.ports.media import SUBTITLE_MAX_BYTES, SubtitleText
from videoplatform.domain.videos import MediaInfo

log = logging.getLogger(__name__)

SUBTITLE_FILE = "subtitles_{}.vtt"


def subtitle_args(
    config: FfmpegConfig,
    source: Path,
    info: MediaInfo,
    positions: list[int],
    output_dir: Path,
) -> list[str]:
    """One run, one WebVTT output per subtitle stream ``positions`` names (its place
    among the source's subtitle streams); pure: runs nothing."""
    args = [
        *base_args(config), "-y", "-threads", "1",
        *input_args(config, source, info.container),
    ]  # fmt: skip
    for position in positions:
        args += [
            "-map", f"0:s:{position}", "-c:s", "webvtt",
            "-fs", str(SUBTITLE_MAX_BYTES + 1),
            "-f", "webvtt", file_url(output_dir / SUBTITLE_FILE.format(position)),
        ]  # fmt: skip
    return args


class FfmpegSubtitleExtractor:
    """SubtitleExtractor on ffmpeg. ``prober`` should be the one processing probes
    with, so that its report of the source is remembered."""

    def __init__(self, config: FfmpegConfig, prober: FfmpegProber | None = None) -> None:
        self._config = config
        self._prober = prober or FfmpegProber(config)

    def extract(self, source: Path, info: MediaInfo, output_dir: Path) -> tuple[SubtitleText, ...]:
        if not info.subtitle_languages:
            return ()
        streams = self._prober.examine(source).dump.text_subtitles()
        if not streams:
            return ()
        output_dir.mkdir(parents=True, exist_ok=True)
        positions = [position for position, _ in streams]
        args = subtitle_args(self._config, source, info, positions, output_dir)
        try:
            # Demuxing the whole file takes as long as reading it: a transcode's time.
            run_ffmpeg(args, self._config, timeout=self._config.timeout_seconds)
        except FfmpegFailed as failure:
            raise RuntimeError(
                f"subtitle extraction failed: {failure.reason}: {last_error_line(failure.stderr)}"
            ) from None
        found = []
        for position, language in streams:
            path = output_dir / SUBTITLE_FILE.format(position)
            size = path.stat().st_size if path.is_file() else 0
            if size > SUBTITLE_MAX_BYTES:
                log.warning(
                    "subtitle stream %d (%s) skipped: over %d bytes of WebVTT",
                    position,
                    language,
                    SUBTITLE_MAX_BYTES,
                )
                continue
            if size == 0:
                log.warning("subtitle stream %d (%s) gave no WebVTT", position, language)
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
            found.append(SubtitleText(language, text))
        return tuple(found)
