"""Media adapters on FFmpeg: probing, posters, storyboards, HLS ladders and subtitles.

Every run goes through :func:`adapters.ffmpeg.process.run_ffmpeg`, which confines the
child (file protocol only, an allowlist of container formats, its own process group, a
wall-clock timeout, a thread cap, a memory limit, stdin closed). There is no ffprobe:
:class:`FfmpegProber` reads what ffmpeg reports about its input, decodes its first frame,
and copies the packets of its last second to refuse truncated files. The HLS master
playlist is written from the segments on disk (:mod:`adapters.ffmpeg.hls`). Sound
recordings (audio uploads) go the same way, as one audio-only rendition with their cover
art or waveform for posters; text subtitle streams are extracted as WebVTT
(:mod:`adapters.ffmpeg.subtitles`). :class:`FfmpegCheck` tells whether ffmpeg runs at all.
"""

from videoplatform.adapters.ffmpeg.config import ALLOWED_FORMATS, FfmpegConfig, GpuMode
from videoplatform.adapters.ffmpeg.gpu import GpuCapability, detect_gpu
from videoplatform.adapters.ffmpeg.probe import FfmpegProber
from videoplatform.adapters.ffmpeg.stills import FfmpegStoryboarder, FfmpegThumbnailer
from videoplatform.adapters.ffmpeg.subtitles import FfmpegSubtitleExtractor
from videoplatform.adapters.ffmpeg.transcode import Engine, FfmpegTranscoder
from videoplatform.adapters.ffmpeg.version import FfmpegCheck

__all__ = [
    "ALLOWED_FORMATS",
    "Engine",
    "FfmpegCheck",
    "FfmpegConfig",
    "FfmpegProber",
    "FfmpegStoryboarder",
    "FfmpegSubtitleExtractor",
    "FfmpegThumbnailer",
    "FfmpegTranscoder",
    "GpuCapability",
    "GpuMode",
    "detect_gpu",
]
