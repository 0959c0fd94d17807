"""Processing: turning an uploaded video into a ready one, the moderator's retry, and the
progress read.

A processing job runs in three steps, so that nothing partial is ever visible:

1. *claim* (one unit of work): the video starts (or restarts) an attempt. Its attempt
   number is the claim: only the attempt holding the latest number may finish the video,
   so a worker that was given up for dead but still runs can never overwrite the result.
2. *produce* (no transaction open): the source is probed, posters, a storyboard and the
   HLS ladder are written to a job-private temporary directory, then uploaded under a
   storage prefix private to the job and attempt (``videos/<id>/out/<job>/<attempt>/``).
3. *publish* (one unit of work): the video becomes ready pointing at those outputs, with
   its audit event. Outputs of a previous run are removed only after that commit; the
   attempt's own outputs are removed whenever its result is not committed.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar

from attrs import frozen

from videoplatform.application.auditing import Auditor
from videoplatform.application.concurrency import retry_stale
from videoplatform.application.context import Caller, Hidden, current_user, require_user
from videoplatform.application.ports.feed import NoFeed, ProcessingProgress, VideoFeed
from videoplatform.application.ports.media import (
    MediaProber,
    MediaRejected,
    Storyboarder,
    Thumbnailer,
    Transcoder,
)
from videoplatform.application.ports.persistence import (
    UnitOfWork,
    UnitOfWorkFactory,
    VideoListQuery,
)
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock, IdGenerator
from videoplatform.application.videos import process_video_job, video_prefix
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from videoplatform.domain.ids import VideoId
from videoplatform.domain.ladder import DEFAULT_LADDER, RungSpec, display_size, plan_ladder
from videoplatform.domain.users import Permission
from videoplatform.domain.videos import (
    MediaInfo,
    PlaybackAssets,
    Poster,
    Rendition,
    Storyboard,
    Video,
    VideoStatus,
    asset_content_type,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Processing acts for nobody in particular: its audit events have no actor.
SYSTEM = Caller()
WORKSPACE_PREFIX = "video-job-"

# Job ids come from the queue (outbox message ids), never from users; they still become
# part of storage keys, so anything but a plain token is refused.
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_POSTER_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
_SETTLE_TRIES = 3
# Share of the overall progress reached before transcoding starts, and the share that
# transcoding spans; uploading the outputs fills the rest until ready (100).
_PREPARED = 5
_TRANSCODE_SHARE = 90


@frozen
class ProcessingConfig:
    """How videos are processed. ``work_dir`` is where job-private temporary
    directories are made (None: the system's temporary directory)."""

    ladder: tuple[RungSpec, ...] = DEFAULT_LADDER
    poster_widths: tuple[int, ...] = (1280, 640, 320)
    work_dir: Path | None = None
    max_attempts: int = 3
    """Attempts (claims of the video) before a failure that might pass fails it for good:
    the job queue's own attempt budget, so that the video fails when its job is
    dead-lettered, never later (left processing) nor earlier (with the job acked)."""
    progress_step: int = 5
    """Commit a progress update once it moved at least this many percent..."""
    progress_interval: timedelta = timedelta(seconds=5)
    """... or this long after the last one (whichever comes first)."""

    def __attrs_post_init__(self) -> None:
        if not self.ladder:
            raise ValueError("the ladder needs at least one rung")
        if not self.poster_widths or min(self.poster_widths) < 2:
            raise ValueError("poster widths must be at least 2 pixels")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.progress_step < 1:
            raise ValueError("progress_step must be at least 1")


class ProcessingOutcome(enum.Enum):
    READY = "ready"
    """This job made the video ready."""
    ALREADY_DONE = "already_done"
    """The video was ready, or failed for good, before this job: nothing was done (a
    redelivered job is simply acknowledged)."""
    GONE = "gone"
    """The video was deleted (before or during processing); its outputs are removed."""
    FAILED = "failed"
    """The video failed for good; ``last_error`` says why."""
    GAVE_UP = "gave_up"
    """A failure that might have passed happened on the last allowed attempt: the video
    failed for good, ``last_error`` says why, and the job is given up (dead-lettered)."""
    SUPERSEDED = "superseded"
    """A newer attempt took the video over; this one's outputs are removed."""


class RetryableProcessingError(Exception):
    """This attempt failed for a reason that may pass (a crash, a timeout, storage);
    the video stays processing and the job should be delivered again."""

    def __init__(self, video_id: VideoId, attempt: int, reason: str) -> None:
        super().__init__(f"video {video_id}: attempt {attempt} failed: {reason}")
        self.video_id = video_id
        self.attempt = attempt
        self.reason = reason


@frozen
class _Produced:
    info: MediaInfo
    renditions: tuple[Rendition, ...]
    assets: PlaybackAssets


class _Retry(enum.Enum):
    LATER = "later"


def job_prefix(video_id: VideoId, job_id: str) -> str:
    """Where every attempt of one job writes: built from internal ids only."""
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError("a job id is 1 to 64 letters, digits, '_' or '-'")
    return f"{video_prefix(video_id)}out/{job_id}/"


def output_prefix(video_id: VideoId, job_id: str, attempt: int) -> str:
    """Where one attempt of one job writes its outputs."""
    return f"{job_prefix(video_id, job_id)}{attempt}/"


def poster_widths(wanted: tuple[int, ...], shown_width: int) -> list[int]:
    """The configured widths that do not upscale the picture, largest first; a picture
    narrower than all of them gets one poster at its own (even) width."""
    fitting = sorted({w for w in wanted if w <= shown_width}, reverse=True)
    return fitting or [max(2, shown_width - shown_width % 2)]


class ProcessingService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        storage: ObjectStorage,
        clock: Clock,
        ids: IdGenerator,
        auditor: Auditor,
        prober: MediaProber,
        thumbnailer: Thumbnailer,
        storyboarder: Storyboarder,
        transcoder: Transcoder,
        config: ProcessingConfig,
        feed: VideoFeed = NoFeed(),  # noqa: B008 - stateless
    ) -> None:
        self._uow = uow_factory
        self._storage = storage
        self._clock = clock
        self._ids = ids
        self._audit = auditor
        self._prober = prober
        self._thumbnailer = thumbnailer
        self._storyboarder = storyboarder
        self._transcoder = transcoder
        self._config = config
        self._feed = feed

    # -- the job ------------------------------------------------------------------------

    def process(self, job_id: str, video_id: VideoId) -> ProcessingOutcome:
        """Run one delivery of a processing job. Idempotent: a job delivered again after
        it finished does nothing. Raises :class:`RetryableProcessingError` when the
        attempt failed but another may succeed (the caller delivers the job again);
        any other exception escapes only when the state could not even be recorded."""
        output_prefix(video_id, job_id, 1)  # refuse a malformed job before any change
        claimed = self._claim(video_id)
        if isinstance(claimed, ProcessingOutcome):
            return claimed
        attempt = claimed.processing_attempts
        prefix = output_prefix(claimed.id, job_id, attempt)
        try:
            # Leftovers of this job's earlier attempts (a worker that died mid-upload);
            # any of them still running has lost its claim and will not publish.
            self._storage.delete_prefix(job_prefix(claimed.id, job_id))
            produced = self._produce(claimed, attempt, prefix)
            return self._publish(claimed.id, job_id, attempt, produced)
        except MediaRejected as rejected:
            self._discard(claimed.id, prefix)
            return self._after_failure(claimed.id, attempt, prefix, rejected.reason, True)
        except NotFound as missing:
            # The video may have been deleted meanwhile; otherwise its source is gone,
            # which no retry can mend.
            self._discard(claimed.id, prefix)
            reason = f"the uploaded source cannot be read: {missing.message}"
            return self._after_failure(claimed.id, attempt, prefix, reason, True)
        except Exception as error:
            self._discard(claimed.id, prefix)
            reason = f"{type(error).__name__}: {error}"
            log.warning("video %s: attempt %d failed", claimed.id, attempt, exc_info=True)
            return self._after_failure(claimed.id, attempt, prefix, reason, False)

    def _claim(self, video_id: VideoId) -> Video | ProcessingOutcome:
        def claim(uow: UnitOfWork, video: Video) -> Video | ProcessingOutcome:
            if video.status in (VideoStatus.READY, VideoStatus.FAILED):
                return ProcessingOutcome.ALREADY_DONE
            now = self._clock.now()
            if video.status is VideoStatus.PROCESSING:
                video.restart_processing(now)
            else:
                video.start_processing(now)
            uow.videos.save(video)
            uow.commit()
            self._announce(video)
            return video

        try:
            return self._settle(video_id, claim)
        except NotFound:
            return ProcessingOutcome.GONE

    def _produce(self, video: Video, attempt: int, prefix: str) -> _Produced:
        work = self._workspace()
        handle: BinaryIO | None = None
        try:
            handle = self._storage.open_file(video.source_key)
            source = self._local_source(handle, video.source_key, work)
            info = self._prober.probe(source)
            try:
                ladder = plan_ladder(info, self._config.ladder)
            except ValidationError as refused:
                raise MediaRejected(refused.message) from None
            out = work / "out"
            out.mkdir()
            report = _ProgressReporter(
                lambda percent: self._record_progress(video.id, attempt, percent),
                self._clock,
                self._config,
            )
            report(0)
            # Posters and the storyboard are short runs of their own: they go alongside
            # the ladder (which leaves a core idle now and then) instead of before it.
            # Leaving the pool waits for them, whatever the ladder did: the workspace is
            # removed right after.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stills") as pool:
                stills = pool.submit(
                    self._stills, source, info, video.poster_time(info.duration_seconds), out
                )
                hls = self._transcoder.transcode(source, info, ladder, out / "hls", report)
            posters, storyboard = stills.result()
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
            )
            referenced = [assets.master_playlist, storyboard.vtt_path, storyboard.sprite_path]
            referenced += [p.path for p in posters] + [r.playlist_key for r in renditions]
            self._upload(out, prefix, referenced)
            return _Produced(info, renditions, assets)
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

    def _stills(
        self, source: Path, info: MediaInfo, at: float, out: Path
    ) -> tuple[list[Poster], Storyboard]:
        posters = self._posters(source, info, at, out)
        board = self._storyboarder.storyboard(source, info, out / "storyboard")
        storyboard = Storyboard(
            vtt_path=f"storyboard/{board.vtt}",
            sprite_path=f"storyboard/{board.sprite}",
            tile_width=board.tile_width,
            tile_height=board.tile_height,
            interval_seconds=board.interval_seconds,
        )
        return posters, storyboard

    def _posters(self, source: Path, info: MediaInfo, at: float, out: Path) -> list[Poster]:
        shown_w, shown_h = display_size(info)
        widths = poster_widths(self._config.poster_widths, shown_w)
        targets = [out / f"poster-{width}" for width in widths]
        content_type = self._thumbnailer.posters(source, at, widths, targets)  # one decode
        suffix = _POSTER_SUFFIX.get(content_type)
        if suffix is None:
            raise RuntimeError(f"the thumbnailer wrote {content_type!r}, not an image")
        posters = []
        for width, target in zip(widths, targets, strict=True):
            target.rename(target.with_name(target.name + suffix))
            height = max(2, round(width * shown_h / shown_w / 2) * 2)
            posters.append(Poster(width, height, target.name + suffix))
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

    def _publish(
        self, video_id: VideoId, job_id: str, attempt: int, produced: _Produced
    ) -> ProcessingOutcome:
        prefix = produced.assets.prefix
        previous: list[str] = []

        def ready(uow: UnitOfWork, video: Video) -> ProcessingOutcome:
            if not video.holds_attempt(attempt):
                return ProcessingOutcome.SUPERSEDED
            old = video.assets.prefix if video.assets is not None else prefix
            previous[:] = [old] if old != prefix else []
            video.mark_ready(
                media_info=produced.info,
                renditions=produced.renditions,
                assets=produced.assets,
                now=self._clock.now(),
            )
            uow.videos.save(video)
            self._audit.record(
                uow,
                SYSTEM,
                AuditAction.VIDEO_PROCESS,
                "video",
                video_id,
                metadata={
                    "job_id": job_id,
                    "attempt": str(attempt),
                    "renditions": ",".join(r.name for r in produced.renditions),
                    "duration_seconds": f"{produced.info.duration_seconds:g}",
                },
            )
            uow.commit()
            self._announce(video)
            return ProcessingOutcome.READY

        try:
            outcome = self._settle(video_id, ready)
        except NotFound:
            outcome = ProcessingOutcome.GONE
        if outcome is not ProcessingOutcome.READY:
            self._discard(video_id, prefix)
            return outcome
        for old in previous:
            try:
                self._storage.delete_prefix(old)
            except Exception:  # the video is ready; old bytes are only an orphan now
                log.warning("video %s: could not remove old outputs %s", video_id, old)
        return outcome

    def _after_failure(
        self, video_id: VideoId, attempt: int, prefix: str, reason: str, permanent: bool
    ) -> ProcessingOutcome:
        """Record a failed attempt: for good when it is permanent (FAILED) or the last
        allowed one (GAVE_UP), else keep the reason and ask for another delivery."""

        def settle(uow: UnitOfWork, video: Video) -> ProcessingOutcome | _Retry:
            if not video.holds_attempt(attempt):
                ours = video.assets is not None and video.assets.prefix == prefix
                return ProcessingOutcome.READY if ours else ProcessingOutcome.SUPERSEDED
            now = self._clock.now()
            if not permanent and attempt < self._config.max_attempts:
                video.note_failed_attempt(reason, now)
                uow.videos.save(video)
                uow.commit()
                self._announce(video)
                return _Retry.LATER
            self._fail(uow, video, reason, {"attempt": str(attempt)})
            return ProcessingOutcome.FAILED if permanent else ProcessingOutcome.GAVE_UP

        try:
            outcome = self._settle(video_id, settle)
        except NotFound:
            return ProcessingOutcome.GONE
        if outcome is _Retry.LATER:
            raise RetryableProcessingError(video_id, attempt, reason)
        return outcome

    def _discard(self, video_id: VideoId, prefix: str) -> None:
        """Remove an attempt's outputs, unless the video points at them: a commit that
        reported a failure may still have landed. When that cannot be told, keep them
        (an orphan is better than a ready video without its files)."""
        try:
            with self._uow() as uow:
                video: Video | None = uow.videos.get(video_id)
        except NotFound:
            video = None
        except Exception:
            log.warning("video %s: cannot tell whether %s is in use; kept", video_id, prefix)
            return
        if video is not None and video.assets is not None and video.assets.prefix == prefix:
            return
        self._storage.delete_prefix(prefix)

    def _settle(self, video_id: VideoId, change: Callable[[UnitOfWork, Video], T]) -> T:
        """Run ``change`` on a fresh copy of the video in its own unit of work, again on
        a stale-version conflict (someone edited the video meanwhile)."""

        def settle_once() -> T:
            with self._uow() as uow:
                return change(uow, uow.videos.get(video_id))

        return retry_stale(_SETTLE_TRIES, settle_once)

    def _record_progress(self, video_id: VideoId, attempt: int, percent: int) -> None:
        with self._uow() as uow:
            video = uow.videos.get(video_id)
            if video.holds_attempt(attempt):
                video.report_progress(percent, self._clock.now())
                uow.videos.save(video)
                uow.commit()
                self._announce(video)

    def _announce(self, video: Video) -> None:
        """Tell followers of ``video`` its state, just committed. Best effort: the
        change stands whatever happens to the announcement."""
        try:
            self._feed.publish(ProcessingProgress.of(video, self._clock.now()))
        except Exception:
            log.warning("video %s: progress update not published", video.id, exc_info=True)

    def _fail(self, uow: UnitOfWork, video: Video, reason: str, metadata: dict[str, str]) -> None:
        """Mark the video failed for good, audited, committed and announced."""
        video.mark_failed(reason, self._clock.now())
        uow.videos.save(video)
        self._audit.record(
            uow,
            SYSTEM,
            AuditAction.VIDEO_PROCESS,
            "video",
            video.id,
            AuditResult.FAILURE,
            metadata={**metadata, "reason": reason[:500]},
        )
        uow.commit()
        self._announce(video)

    def abandon(self, video_id: VideoId, reason: str) -> bool:
        """The job of this video was given up (it went to the dead letters): record the
        video as failed with ``reason`` unless it already ended; whether it changed."""
        try:
            with self._uow() as uow:
                video = uow.videos.get(video_id)
                if video.status in (VideoStatus.READY, VideoStatus.FAILED):
                    return False
                self._fail(
                    uow, video, f"processing was given up: {reason}", {"dead_lettered": "true"}
                )
        except NotFound:
            return False
        return True

    def requeue_unfinished(self, batch: int = 200) -> int:
        """Queue a processing job (through the outbox) for every video still waiting or
        processing; the count queued. For an in-process queue, whose jobs do not outlive
        the process: run once at start, before any worker takes jobs. A job that turns
        out to be a duplicate is absorbed by :meth:`process`. Whatever interrupted
        attempts stored is removed: a video waiting or processing has no published
        outputs yet (outputs are published only with ``ready``, which is final)."""
        queued = 0
        for status in (VideoStatus.UPLOADED, VideoStatus.PROCESSING):
            after: tuple[datetime | int, str] | None = None
            while True:
                with self._uow() as uow:
                    query = VideoListQuery(viewer_id=None, see_all=True, status=status, after=after)
                    page = uow.videos.list_page(query, batch)
                    now = self._clock.now()
                    for video in page:
                        uow.outbox.add(process_video_job(self._ids, video.id, now))
                    uow.commit()
                for video in page:
                    self._storage.delete_prefix(f"{video_prefix(video.id)}out/")
                queued += len(page)
                if len(page) < batch:
                    break
                after = (page[-1].created_at, page[-1].id)
        return queued

    def sweep_workspaces(self, older_than: timedelta) -> int:
        """Remove job directories left in the work directory by attempts that died
        (a killed worker cannot clean up after itself), if untouched for
        ``older_than``; how many were removed. Zero is right only while no job runs."""
        root = self._config.work_dir
        if root is None or not root.is_dir():
            return 0
        cutoff = self._clock.now().timestamp() - older_than.total_seconds()
        removed = 0
        for entry in root.glob(f"{WORKSPACE_PREFIX}*"):
            try:
                stale = (
                    entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime <= cutoff
                )
            except OSError:
                continue
            if stale:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed

    # -- moderation and reads -----------------------------------------------------------

    def retry(self, caller: Caller, video_id: VideoId) -> ProcessingProgress:
        """A moderator sends a failed video back to be processed again: it waits as
        uploaded, and its processing job is queued in the same transaction.
        InvalidTransition(code="video_not_failed") for a video that has not failed."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_RETRY, "video", video_id),
            self._uow() as uow,
        ):
            user = require_user(uow, caller)
            video = uow.videos.get(video_id)
            if not user.can(Permission.VIDEO_MODERATE):
                if video.can_be_seen_by(user):
                    raise PermissionDenied("only a moderator may retry processing")
                raise Hidden("video not found")
            if video.status is not VideoStatus.FAILED:
                raise InvalidTransition(
                    f"video {video_id} is {video.status.value}; only a failed video is retried",
                    code="video_not_failed",
                )
            attempts, last_error = video.processing_attempts, video.last_error or ""
            now = self._clock.now()
            video.requeue(now)
            uow.videos.save(video)
            uow.outbox.add(process_video_job(self._ids, video_id, now))
            self._audit.record(
                uow,
                caller,
                AuditAction.VIDEO_RETRY,
                "video",
                video_id,
                metadata={"previous_attempts": str(attempts), "last_error": last_error[:500]},
            )
            uow.commit()
            self._announce(video)
        return ProcessingProgress.of(video, self._clock.now())

    def progress(self, caller: Caller, video_id: VideoId) -> ProcessingProgress:
        """Processing state of a video the caller may see; NotFound otherwise."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_READ, "video", video_id),
            self._uow() as uow,
        ):
            video = uow.videos.get(video_id)
            if not video.can_be_seen_by(current_user(uow, caller)):
                raise Hidden("video not found")
            return ProcessingProgress.of(video, self._clock.now())


class _ProgressReporter:
    """The transcoder's progress callback: maps its 0-100 onto the job's overall
    progress and commits an update only every few percent or seconds. Progress is
    informative: a failure to record it (a concurrent edit, a deleted video, a database
    hiccup) never stops the job."""

    def __init__(
        self, record: Callable[[int], None], clock: Clock, config: ProcessingConfig
    ) -> None:
        self._record = record
        self._clock = clock
        self._config = config
        self._lock = threading.Lock()
        self._last = -1
        self._last_at: datetime | None = None

    def __call__(self, percent: int) -> None:
        overall = _PREPARED + max(0, min(100, percent)) * _TRANSCODE_SHARE // 100
        config = self._config
        with self._lock:
            now = self._clock.now()
            moved = overall - self._last
            due = self._last_at is None or now - self._last_at >= config.progress_interval
            if moved <= 0 or (moved < config.progress_step and not due):
                return
            self._last, self._last_at = overall, now
        try:
            self._record(overall)
        except Exception:
            log.info("progress %d%% not recorded", overall, exc_info=True)
