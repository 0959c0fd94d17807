"""Settings of the FFmpeg adapters (one immutable object shared by all four)."""

from __future__ import annotations

import enum
from pathlib import Path

from attrs import field, frozen

# Demuxers a source may use, by the short name ffmpeg knows them by (``-f`` value).
# ``mov`` covers mp4/m4v/3gp/3g2 and m4a; ``matroska`` covers webm and mka; ``ogg`` covers
# Vorbis, Opus and Ogg FLAC; ``mp3``, ``aac`` (ADTS), ``flac``, ``wav`` (RF64/BW64 too) and
# ``aiff`` are the sound recordings. Playlists and references to other files (hls, dash,
# concat, image2 sequences, ...) are deliberately absent: ffmpeg refuses them even when
# they hide inside another container, since the allowlist is handed to nested demuxers.
ALLOWED_FORMATS: tuple[str, ...] = (
    "mov",
    "matroska",
    "avi",
    "mpegts",
    "flv",
    "ogg",
    "mxf",
    "mp3",
    "aac",
    "flac",
    "wav",
    "aiff",
)

LOUDNORM_FILTER = "loudnorm=I=-16:TP=-1.5:LRA=11"
"""EBU R128 loudness normalisation (one pass, dynamic): -16 LUFS integrated, true peaks
under -1.5 dBTP, as streaming services and podcast apps play, rather than broadcast's
-23 LUFS, which sounds quiet next to everything else on a phone."""


class GpuMode(enum.Enum):
    OFF = "off"
    AUTO = "auto"
    ON = "on"


def _positive(instance: object, attribute: object, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{getattr(attribute, 'name', 'value')} must be positive")


@frozen(kw_only=True)
class FfmpegConfig:
    """How and within which limits ffmpeg runs.

    ``binary`` None means the ffmpeg shipped with imageio-ffmpeg. ``threads`` caps the
    decoder, the filter graph and each encoder. ``memory_limit_bytes`` is the child's
    address-space limit (RLIMIT_AS; for GPU runs, whose driver reserves huge address
    ranges without using them, the data-segment limit RLIMIT_DATA instead).
    """

    binary: Path | None = None
    timeout_seconds: float = field(default=3600.0, validator=_positive)
    probe_timeout_seconds: float = field(default=15.0, validator=_positive)
    still_timeout_seconds: float = field(default=120.0, validator=_positive)
    threads: int = field(default=2, validator=_positive)
    memory_limit_bytes: int = field(default=8 * 1024**3, validator=_positive)
    # Probe limits: anything beyond is refused before any real work.
    max_width: int = field(default=8192, validator=_positive)
    max_height: int = field(default=8192, validator=_positive)
    max_duration_seconds: float = field(default=12 * 3600.0, validator=_positive)
    max_fps: float = field(default=240.0, validator=_positive)
    max_frames: int = field(default=12 * 3600 * 60, validator=_positive)
    max_streams: int = field(default=16, validator=_positive)
    allowed_formats: tuple[str, ...] = ALLOWED_FORMATS
    # Encoding.
    preset: str = "veryfast"
    crf: int = 23
    """Quality target (libx264 CRF, NVENC CQ), capped by each rung's bitrate."""
    segment_seconds: float = field(default=4.0, validator=_positive)
    audio_channels: int = 2
    """Channels of the video renditions' sound (an audio upload's follow its source)."""
    loudnorm: bool = False
    """Normalise the loudness of every rendition's sound (:data:`LOUDNORM_FILTER`)."""
    gpu: GpuMode = GpuMode.OFF
    nvenc_preset: str = "p4"
    # Storyboards.
    storyboard_tile_width: int = field(default=160, validator=_positive)
    storyboard_min_interval_seconds: float = field(default=2.0, validator=_positive)
    storyboard_max_tiles: int = field(default=100, validator=_positive)
    storyboard_columns: int = field(default=10, validator=_positive)
    jpeg_quality: int = 4
    """mjpeg ``-q:v``: 2 (best) to 31."""

    def executable(self) -> str:
        if self.binary is not None:
            return str(self.binary)
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())

    def gop_frames(self, fps: float) -> int:
        """Frames per segment: the fixed GOP that aligns keyframes across renditions."""
        return max(1, round(self.segment_seconds * fps))
