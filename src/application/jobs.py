"""Running jobs from the queue: the consumer loop.

A job is acknowledged only after its handler returned, and a handler commits its own
work, so a job whose consumer dies is delivered again; handlers must therefore be
idempotent (the job id, which is the outbox message id, identifies a repeat).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from attrs import frozen

from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.queue import Delivery, Job, JobQueue
from videoplatform.application.ports.tracing import NoTracer, Tracer, TraceSpan

log = logging.getLogger(__name__)

JobHandler = Callable[[Job], None]
DeadLetterHook = Callable[[Job, str], None]


class PermanentJobError(Exception):
    """A failure that retrying cannot fix: the job goes to the dead letters at once."""


class Postponed(Exception):
    """Not this job's turn yet (it waits behind another): it comes back after the first
    backoff, using no attempt, however often."""


@frozen
class RetryPolicy:
    """A job is tried ``max_attempts`` times; errors of the ``permanent`` types are not
    retried. A dependency that is down (Unavailable) uses no attempt: the job comes back
    after the first backoff until it is up again. Any other exception counts as
    retryable (a storage error, a killed ffmpeg), and the queue spaces the retries out
    with its backoff."""

    max_attempts: int = 3
    permanent: tuple[type[BaseException], ...] = (PermanentJobError,)


def _ignore_dead_letter(job: Job, reason: str) -> None:
    log.error("job %s (%s) dead-lettered: %s", job.id, job.kind, reason)


class JobConsumer:
    """Receives jobs from one queue client and dispatches them by ``job.kind``.

    ``on_dead_letter(job, reason)`` runs after a job went to the dead letters (unknown
    kind, permanent error, attempts used up): where the platform records the failure,
    e.g. marks the video failed with the reason."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, JobHandler],
        policy: RetryPolicy | None = None,
        on_dead_letter: DeadLetterHook | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._queue = queue
        self._handlers = dict(handlers)
        self.policy = policy or RetryPolicy()
        self._on_dead_letter = on_dead_letter or _ignore_dead_letter
        self._tracer: Tracer = tracer or NoTracer()
        self.stop = threading.Event()

    def run_once(self, timeout: float) -> bool:
        """Handle at most one job; False when none came within ``timeout`` seconds.

        The job is handled in a span of the trace it carries (that of the work that
        queued it), which says how it ended.

        A BaseException that is not an Exception (KeyboardInterrupt, SystemExit) leaves
        the job unsettled: it goes back to the queue when the client closes."""
        delivery = self._queue.receive(timeout)
        if delivery is None:
            return False
        job = delivery.job
        with self._tracer.continued(
            job.trace,
            f"process {job.kind}",
            kind="consumer",
            attributes={"messaging.message.id": job.id, "videoplatform.job.attempt": job.attempt},
        ) as span:
            span.set_attribute("videoplatform.job.outcome", self._settle(delivery, span))
        return True

    def _settle(self, delivery: Delivery, span: TraceSpan) -> str:
        """Run the job's handler and settle the delivery; how it ended, in a word."""
        job = delivery.job
        handler = self._handlers.get(job.kind)
        if handler is None:
            span.fail("no handler")
            self._dead_letter(delivery, f"no handler for jobs of kind {job.kind!r}")
            return "dead_lettered"
        if job.attempt > self.policy.max_attempts:
            # Earlier deliveries never settled: their consumers died while handling it.
            span.fail("delivered too often")
            self._dead_letter(
                delivery,
                f"delivered {job.attempt} times without finishing "
                f"(at most {self.policy.max_attempts} attempts)",
            )
            return "dead_lettered"
        try:
            handler(job)
        except self.policy.permanent as error:
            span.fail(f"{type(error).__name__}: {error}")
            self._dead_letter(delivery, f"{type(error).__name__}: {error}")
            return "dead_lettered"
        except Postponed as why:
            log.info("job %s (%s) postponed: %s", job.id, job.kind, why)
            self._queue.nack(delivery, requeue=True, charge=False)
            return "postponed"
        except Unavailable as down:
            # Not the job's fault: it waits for the dependency without using an attempt.
            log.warning("job %s (%s) waits for the %s: %s", job.id, job.kind, down.dependency, down)
            span.fail(f"the {down.dependency} is unavailable")
            self._queue.nack(delivery, requeue=True, charge=False)
            return "waiting"
        except Exception as error:
            span.fail(f"{type(error).__name__}: {error}")
            if job.attempt >= self.policy.max_attempts:
                # A failure that outlived every retry: logged with its exception (and so
                # reported to error tracking, where it is on).
                log.error(
                    "job %s (%s) failed %d times; dead-lettering it",
                    job.id,
                    job.kind,
                    job.attempt,
                    exc_info=error,
                )
                self._dead_letter(
                    delivery,
                    f"failed {job.attempt} times; last error {type(error).__name__}: {error}",
                )
                return "dead_lettered"
            log.warning(
                "job %s (%s) attempt %d failed, will retry: %r",
                job.id,
                job.kind,
                job.attempt,
                error,
            )
            self._queue.nack(delivery, requeue=True)
            return "retrying"
        self._queue.ack(delivery)
        return "done"

    def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Record the outcome (the hook), then dead-letter the job. A hook that cannot
        reach a dependency (Unavailable) leaves the job in the queue, uncharged: it comes
        back and is dead-lettered once the outcome could be recorded, so a video is
        never left waiting with no job and no recorded failure."""
        try:
            self._on_dead_letter(delivery.job, reason)
        except Unavailable as down:
            log.warning(
                "job %s (%s) waits for the %s to record its dead-lettering: %s",
                delivery.job.id,
                delivery.job.kind,
                down.dependency,
                down,
            )
            self._queue.nack(delivery, requeue=True, charge=False)
            return
        except Exception:
            log.exception("dead-letter hook failed for job %s", delivery.job.id)
        self._queue.nack(delivery, requeue=False)

    def run(self, *, poll_seconds: float = 1.0, tick: Callable[[], None] | None = None) -> None:
        """Consume until :attr:`stop` is set (checked between jobs, and at least every
        ``poll_seconds`` while idle), then close the client. ``tick`` runs after every
        loop turn: a liveness signal."""
        try:
            while not self.stop.is_set():
                try:
                    self.run_once(poll_seconds)
                except Exception:
                    # The queue itself failed (its adapter reconnects): keep consuming.
                    log.exception("job consumer loop failed")
                    self.stop.wait(poll_seconds)
                if tick is not None:
                    tick()
        finally:
            self.close()

    def close(self) -> None:
        """Close the queue client (what :meth:`run` does when it ends)."""
        self._queue.close()
