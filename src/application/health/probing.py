"""Running health probes all at once, each in a thread, within one deadline.

A check takes about as long as its slowest probe, and never longer than its timeout: a
probe that has not answered by then is reported down ("no answer within 5 s") and left
to finish in its thread. Each probe runs in a daemon thread of its own rather than in an
executor's pool: a probe stuck on a silent server must not hold the process at exit,
nor take a pool thread that the next check would wait for.

A probe still running from an earlier check is not started again: the new check waits
for the same run (with its own deadline). However often a load balancer or an operator
asks while a dependency hangs, it holds one thread per probe, never one per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait

from attrs import frozen

from videoplatform.application.health.report import (
    ComponentHealth,
    Finding,
    HealthStatus,
    reason_of,
)


@frozen
class Probe:
    """One question of a check. ``check`` returns what it found or raises (the
    component is then down, the error its reason). Probes with the same ``key`` (by
    default the name) are the same question: one run answers them all while it lasts."""

    name: str
    required: bool
    check: Callable[[], Finding]
    key: str = ""


@frozen
class _Run:
    started: float
    outcome: Future[tuple[Finding, float]]
    """What the probe found and how many seconds it took."""


class ConcurrentProbes:
    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[str, _Run] = {}

    def run(self, probes: Sequence[Probe], timeout: float) -> tuple[ComponentHealth, ...]:
        """Each probe's component, in the order of ``probes``, once every probe has
        answered or ``timeout`` seconds have passed."""
        asked = self._clock()
        runs = [self._start(probe) for probe in probes]
        wait([run.outcome for run in runs], timeout=max(0.0, timeout))
        found: list[ComponentHealth] = []
        for probe, run in zip(probes, runs, strict=True):
            if run.outcome.done():
                finding, seconds = run.outcome.result()
            else:
                seconds = self._clock() - run.started
                silence = _silence(timeout, seconds, earlier=run.started < asked)
                finding = Finding(HealthStatus.DOWN, silence)
            found.append(
                ComponentHealth(
                    probe.name,
                    finding.status,
                    probe.required,
                    round(seconds * 1000, 1),
                    finding.message,
                )
            )
        return tuple(found)

    def _start(self, probe: Probe) -> _Run:
        key = probe.key or probe.name
        with self._lock:
            running = self._running.get(key)
            if running is not None:
                return running
            run = _Run(self._clock(), Future())
            self._running[key] = run
        thread = threading.Thread(
            target=self._probe, args=(key, probe, run), name=f"health-{key}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError as error:  # no thread to be had: say so, do not wait for it
            self._finish(key, run, Finding(HealthStatus.DOWN, reason_of(error)))
        return run

    def _probe(self, key: str, probe: Probe, run: _Run) -> None:
        try:
            finding = probe.check()
        except Exception as error:  # any failure is the component's state, with its reason
            finding = Finding(HealthStatus.DOWN, reason_of(error))
        self._finish(key, run, finding)

    def _finish(self, key: str, run: _Run, finding: Finding) -> None:
        with self._lock:
            self._running.pop(key, None)
        run.outcome.set_result((finding, self._clock() - run.started))


def _silence(timeout: float, seconds: float, *, earlier: bool) -> str:
    if earlier:
        return f"no answer for {seconds:.0f} s (still checking since an earlier request)"
    return f"no answer within {timeout:g} s"
