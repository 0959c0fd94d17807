"""How long each stage of processing took, for whoever watches (the metrics).

A processing attempt goes through stages: ``fetch`` (the source as a local file),
``probe``, ``ladder`` (the one-decode HLS ladder, every rung at once), ``stills``
(posters, storyboard and embedded subtitles, alongside the ladder) and ``upload`` (the
outputs into storage). Each stage that finishes is reported once, with its duration
and, for the ladder, the media's duration (so that a watcher can tell the speed, in
times real time). A stage that fails is not reported: the attempt's outcome is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from attrs import frozen

from videoplatform.application.ports.tracing import NoTracer, Tracer

STAGES = ("fetch", "probe", "ladder", "stills", "upload")


@frozen
class StageTiming:
    stage: str
    seconds: float
    media_seconds: float | None = None
    """How long the media is, for the stages that go through all of it (the ladder)."""


Watcher = Callable[[StageTiming], None]


class ProcessingTimings:
    """Where processing reports its stages; watchers (:meth:`watch`) hear each one, in
    the processing thread (so they must be quick and never raise). Each stage is also
    a span of ``tracer`` (a child of the job's), whether it finishes or fails."""

    def __init__(self, tracer: Tracer | None = None) -> None:
        self._watchers: list[Watcher] = []
        self._lock = threading.Lock()
        self._tracer: Tracer = tracer or NoTracer()

    def watch(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers = [*self._watchers, watcher]

    def finished(self, timing: StageTiming) -> None:
        for watcher in self._watchers:
            watcher(timing)

    @contextmanager
    def stage(self, name: str, media_seconds: float | None = None) -> Iterator[None]:
        """Time the block as stage ``name``; reported only if it ends without raising."""
        attributes: dict[str, str | float] = {"videoplatform.stage": name}
        if media_seconds is not None:
            attributes["videoplatform.media_seconds"] = media_seconds
        with self._tracer.span(f"processing {name}", attributes):
            started = time.perf_counter()
            yield
            seconds = time.perf_counter() - started
        self.finished(StageTiming(name, seconds, media_seconds))
