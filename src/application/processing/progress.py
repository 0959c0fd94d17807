"""Progress of a running job: the transcoder's 0-100 mapped onto the whole job, and
committed only every few percent or seconds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from videoplatform.application.ports.system import Clock
from videoplatform.application.processing.config import ProcessingConfig

log = logging.getLogger(__name__)

# Share of the overall progress reached before transcoding starts, and the share that
# transcoding spans; uploading the outputs fills the rest until ready (100).
_PREPARED = 5
_TRANSCODE_SHARE = 90


class ProgressReporter:
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
