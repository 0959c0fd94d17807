"""Producing a video's outputs: probe, stills, storyboard and the HLS ladder written to a
job-private temporary directory (no transaction open), then stored under the attempt's
own prefix. Nothing here is visible until the job publishes it.

An audio upload (sound, no picture) gets one audio-only rendition (``plan_audio``), posters
of its cover art or waveform, and no storyboard. The text subtitle streams inside a
source are extracted as WebVTT into the same directory (not stored: :class:`Produced`
hands them on, for processing to sanitise); failing that, the video goes on without
them."""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from attrs import frozen

from videoplatform.application.ports.media import MediaRejected, MediaTools, SubtitleText
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.processing.config import ProcessingConfig
from videoplatform.application.processing.layout import WORKSPACE_PREFIX
from videoplatform.application.processing.progress import ProgressReporter
from videoplatform.application.processing.timings import ProcessingTimings
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ladder import (
    PlannedRung,
    plan_audio,
    plan_ladder,
    poster_height,
    poster_shape,
)
from videoplatform.domain.videos import (
    FailureCode,
    MediaInfo,
    PlaybackAssets,
    Poster,
    Rendition,
    Storyboard,
    Video,
    asset_content_type,
)

log = logging.getLogger(__name__)

_POSTER_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def poster_widths(wanted: tuple[int, ...], shown_width: int) -> list[int]:
    """The configured widths that do not upscale the picture, largest first; a picture
    narrower than all of them gets one poster at its own (even) width."""
    fitting = sorted({w for w in wanted if w <= shown_width}, reverse=True)
    return fitting or [max(2, shown_width - shown_width % 2)]


def audio_poster_widths(wanted: tuple[int, ...]) -> list[int]:
    """An audio upload's poster widths: all of them, largest first. Its canvas has no
    size of its own to exceed (a cover smaller than it is centred, never upscaled)."""
    return sorted(set(wanted), reverse=True)


@frozen
class Produced:
    info: MediaInfo
    renditions: tuple[Rendition, ...]
    assets: PlaybackAssets
    subtitles: tuple[SubtitleText, ...] = ()
    """The source's own text subtitle streams, as the extractor wrote them (unsanitised)."""


@frozen
class _Stills:
    posters: list[Poster]
    storyboard: Storyboard | None
    subtitles: tuple[SubtitleText, ...]


class Workshop:
    """Makes one attempt's outputs with the media adapters."""

    def __init__(
        self,
        storage: ObjectStorage,
        clock: Clock,
        media: MediaTools,
        config: ProcessingConfig,
        timings: ProcessingTimings | None = None,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._media = media
        self._config = config
        self._timings = timings or ProcessingTimings()

    def produce(
        self, video: Video, attempt: int, prefix: str, record: Callable[[int], None]
    ) -> Produced:
        """Probe, transcode and store; ``record`` commits the job's overall progress."""
        work = self._workspace()
        handle: BinaryIO | None = None
        try:
            timed = self._timings.stage
            with timed("fetch"):
                handle = self._storage.open_file(video.source_key)
                source = self._local_source(handle, video.source_key, work)
            with timed("probe"):
                info = self._media.prober.probe(source)
            ladder = self._plan(info)
            out = work / "out"
            out.mkdir()
            report = ProgressReporter(record, self._clock, self._config)
            report(0)
            # Posters, the storyboard and the subtitles are short runs of their own: they
            # go alongside the ladder (which leaves a core idle now and then) instead of
            # before it. Leaving the pool waits for them, whatever the ladder did: the
            # workspace is removed right after. The stills run in this thread's context
            # (what it logs carries the job; its span is the job's child).
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stills") as pool:
                stills = pool.submit(
                    contextvars.copy_context().run,
                    self._timed_stills,
                    source,
                    info,
                    video.poster_time(info.duration_seconds),
                    work,
                )
                with timed("ladder", media_seconds=info.duration_seconds):
                    hls = self._media.transcoder.transcode(
                        source, info, ladder, out / "hls", report
                    )
            made = stills.result()
            posters, storyboard = made.posters, made.storyboard
            renditions = tuple(
                Rendition(
                    name=rung.name,
                    width=rung.width,
                    height=rung.height,
                    bitrate=rung.bandwidth,
                    codecs=rung.codecs,
                    playlist_key=f"hls/{rung.playlist}",
                )
                for rung in hls.rungs
            )
            assets = PlaybackAssets(
                prefix=prefix,
                master_playlist=f"hls/{hls.master_playlist}",
                posters=tuple(posters),
                storyboard=storyboard,
                timeline_pts=hls.start_pts,
            )
            referenced = [assets.master_playlist]
            if storyboard is not None:
                referenced += [storyboard.vtt_path, storyboard.sprite_path]
            referenced += [p.path for p in posters] + [r.playlist_key for r in renditions]
            with timed("upload"):
                self._upload(out, prefix, referenced)
            return Produced(info, renditions, assets, made.subtitles)
        finally:
            if handle is not None:
                handle.close()
            shutil.rmtree(work, ignore_errors=True)

    def _workspace(self) -> Path:
        root = self._config.work_dir or Path(tempfile.gettempdir())
        root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=WORKSPACE_PREFIX, dir=root))

    def _local_source(self, handle: BinaryIO | None, key: str, work: Path) -> Path:
        """The source as a local file: the stored file itself when storage keeps it on a
        local disk (``handle``, held open meanwhile), else a copy streamed into the job's
        directory."""
        name = getattr(handle, "name", None)
        if isinstance(name, str) and os.path.isfile(name):
            return Path(name)
        target = work / "source"
        with target.open("wb") as copy:
            for chunk in self._storage.get(key):
                copy.write(chunk)
        return target

    def _plan(self, info: MediaInfo) -> list[PlannedRung]:
        """The renditions: the ladder for a video, one audio-only one for sound alone."""
        try:
            if info.is_audio_only:
                return [plan_audio(info)]
            return plan_ladder(info, self._config.ladder)
        except ValidationError as refused:
            said = "; ".join(refused.fields.values()) or refused.message
            raise MediaRejected(f"The video's {said}.", FailureCode.BEYOND_LIMITS) from None

    def _timed_stills(self, source: Path, info: MediaInfo, at: float, work: Path) -> _Stills:
        with self._timings.stage("stills"):
            return self._stills(source, info, at, work)

    def _stills(self, source: Path, info: MediaInfo, at: float, work: Path) -> _Stills:
        """Posters and storyboard (under ``work/out``, to be stored) and the subtitles
        (under ``work/subtitles``, handed on, never stored as they are)."""
        out = work / "out"
        posters = self._posters(source, info, at, out)
        storyboard = None
        if not info.is_audio_only:  # sound alone has no pictures to tile
            board = self._media.storyboarder.storyboard(source, info, out / "storyboard")
            storyboard = Storyboard(
                vtt_path=f"storyboard/{board.vtt}",
                sprite_path=f"storyboard/{board.sprite}",
                tile_width=board.tile_width,
                tile_height=board.tile_height,
                interval_seconds=board.interval_seconds,
            )
        return _Stills(posters, storyboard, self._subtitles(source, info, work / "subtitles"))

    def _subtitles(self, source: Path, info: MediaInfo, folder: Path) -> tuple[SubtitleText, ...]:
        """The source's own subtitles; none, with the reason logged, when they cannot be
        had: captions are a bonus, never a reason to fail a video."""
        if not info.subtitle_languages:
            return ()
        try:
            return self._media.subtitles.extract(source, info, folder)
        except Exception:
            log.warning(
                "subtitles of %s not extracted; going on without", source.name, exc_info=True
            )
            return ()

    def _posters(self, source: Path, info: MediaInfo, at: float, out: Path) -> list[Poster]:
        if info.is_audio_only:
            widths = audio_poster_widths(self._config.poster_widths)
        else:
            widths = poster_widths(self._config.poster_widths, poster_shape(info)[0])
        targets = [out / f"poster-{width}" for width in widths]
        content_type = self._media.thumbnailer.posters(source, at, widths, targets)  # one decode
        suffix = _POSTER_SUFFIX.get(content_type)
        if suffix is None:
            raise RuntimeError(f"the thumbnailer wrote {content_type!r}, not an image")
        posters = []
        for width, target in zip(widths, targets, strict=True):
            target.rename(target.with_name(target.name + suffix))
            posters.append(Poster(width, poster_height(info, width), target.name + suffix))
        return posters

    def _upload(self, out: Path, prefix: str, referenced: list[str]) -> None:
        """Store every playback file under ``prefix``; every referenced one must be
        among them (anything else an adapter left, such as logs, stays behind)."""
        stored: set[str] = set()
        for folder, dirs, files in os.walk(out, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                path = Path(folder, name)
                relative = path.relative_to(out).as_posix()
                if path.is_symlink() or asset_content_type(relative) is None:
                    log.info("not a playback file, left out: %s", relative)
                    continue
                with path.open("rb") as stream:
                    self._storage.put(prefix + relative, stream)
                stored.add(relative)
        missing = sorted(set(referenced) - stored)
        if missing:
            raise RuntimeError(f"outputs missing or not valid playback files: {missing}")
