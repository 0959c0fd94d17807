"""The job consumer: a job is acknowledged only after its handler returned, failures are
retried a bounded number of times, and whatever gives up ends in the dead letters with
the reason handed to the dead-letter hook."""

from __future__ import annotations

import threading

import pytest

from videoplatform.adapters.memory.queue import MemoryJobQueue
from videoplatform.application.jobs import JobConsumer, PermanentJobError, RetryPolicy
from videoplatform.application.ports.errors import Unavailable
from videoplatform.application.ports.queue import Job

JOB = Job("j1", "process-video", {"video_id": "v1"})


class Recorder:
    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.calls: list[Job] = []
        self.failures = failures
        self.error = error or RuntimeError("storage unavailable")

    def __call__(self, job: Job) -> None:
        self.calls.append(job)
        if len(self.calls) <= self.failures:
            raise self.error


@pytest.fixture
def queue() -> MemoryJobQueue:
    return MemoryJobQueue(max_deliveries=4)


def consume_all(consumer: JobConsumer) -> int:
    handled = 0
    while consumer.run_once(0.05):
        handled += 1
    return handled


def test_a_job_is_handled_by_its_kind_and_acknowledged(queue: MemoryJobQueue) -> None:
    handler = Recorder()
    queue.publish(JOB)
    consumer = JobConsumer(queue.client(), {"process-video": handler})
    assert consume_all(consumer) == 1
    assert handler.calls == [JOB]
    assert queue.receive(0) is None
    assert queue.dead_letters() == []


def test_a_failing_job_is_retried_then_succeeds(queue: MemoryJobQueue) -> None:
    handler = Recorder(failures=2)
    dead: list[tuple[Job, str]] = []
    queue.publish(JOB)
    consumer = JobConsumer(
        queue.client(),
        {"process-video": handler},
        RetryPolicy(max_attempts=3),
        lambda j, r: dead.append((j, r)),
    )
    assert consume_all(consumer) == 3
    assert [j.attempt for j in handler.calls] == [1, 2, 3]
    assert dead == []
    assert queue.dead_letters() == []


def test_a_job_failing_every_attempt_is_dead_lettered_with_the_last_error(
    queue: MemoryJobQueue,
) -> None:
    handler = Recorder(failures=99)
    dead: list[tuple[Job, str]] = []
    queue.publish(JOB)
    consumer = JobConsumer(
        queue.client(),
        {"process-video": handler},
        RetryPolicy(max_attempts=3),
        lambda j, r: dead.append((j, r)),
    )
    consume_all(consumer)
    assert len(handler.calls) == 3
    assert [j.id for j in queue.dead_letters()] == ["j1"]
    assert [(j.id, j.attempt) for j, _ in dead] == [("j1", 3)]
    assert "failed 3 times" in dead[0][1] and "storage unavailable" in dead[0][1]


def test_a_permanent_error_is_dead_lettered_at_once(queue: MemoryJobQueue) -> None:
    handler = Recorder(failures=1, error=PermanentJobError("the source is not a video"))
    dead: list[str] = []
    queue.publish(JOB)
    consumer = JobConsumer(
        queue.client(), {"process-video": handler}, on_dead_letter=lambda j, r: dead.append(r)
    )
    consume_all(consumer)
    assert len(handler.calls) == 1
    assert dead == ["PermanentJobError: the source is not a video"]
    assert [j.id for j in queue.dead_letters()] == ["j1"]


def test_a_job_of_an_unknown_kind_is_dead_lettered_with_the_reason(queue: MemoryJobQueue) -> None:
    dead: list[str] = []
    queue.publish(Job("j2", "make-coffee", {}))
    consumer = JobConsumer(
        queue.client(), {"process-video": Recorder()}, on_dead_letter=lambda j, r: dead.append(r)
    )
    consume_all(consumer)
    assert dead == ["no handler for jobs of kind 'make-coffee'"]
    assert [j.id for j in queue.dead_letters()] == ["j2"]


def test_a_job_whose_consumers_died_every_time_is_dead_lettered_without_running(
    queue: MemoryJobQueue,
) -> None:
    queue.publish(JOB)
    for _ in range(3):  # three consumers die holding the job
        client = queue.client()
        assert client.receive(1) is not None
        client.close()
    handler = Recorder()
    dead: list[str] = []
    consumer = JobConsumer(
        queue.client(),
        {"process-video": handler},
        RetryPolicy(max_attempts=3),
        lambda j, r: dead.append(r),
    )
    consume_all(consumer)
    assert handler.calls == []
    assert dead == ["delivered 4 times without finishing (at most 3 attempts)"]


def test_a_failing_dead_letter_hook_does_not_stop_the_consumer(queue: MemoryJobQueue) -> None:
    def broken_hook(job: Job, reason: str) -> None:
        raise RuntimeError("database away")

    handler = Recorder()
    queue.publish(Job("j2", "unknown", {}))
    queue.publish(JOB)
    consumer = JobConsumer(queue.client(), {"process-video": handler}, on_dead_letter=broken_hook)
    assert consume_all(consumer) == 2
    assert handler.calls == [JOB]


def test_an_interrupted_handler_leaves_its_job_to_come_back(queue: MemoryJobQueue) -> None:
    def interrupted(job: Job) -> None:
        raise KeyboardInterrupt

    client = queue.client()
    queue.publish(JOB)
    with pytest.raises(KeyboardInterrupt):
        JobConsumer(client, {"process-video": interrupted}).run_once(1)
    client.close()
    redelivered = queue.receive(1)
    assert redelivered is not None and (redelivered.job.id, redelivered.job.attempt) == ("j1", 2)


def test_a_stopped_consumer_finishes_its_job_and_closes_its_client(queue: MemoryJobQueue) -> None:
    started, release = threading.Event(), threading.Event()
    done: list[str] = []

    def slow(job: Job) -> None:
        started.set()
        release.wait(5)
        done.append(job.id)

    queue.publish(JOB)
    queue.publish(Job("j2", "process-video", {}))
    ticks: list[int] = []
    consumer = JobConsumer(queue.client(), {"process-video": slow})
    thread = threading.Thread(
        target=consumer.run, kwargs={"poll_seconds": 0.05, "tick": lambda: ticks.append(1)}
    )
    thread.start()
    assert started.wait(5)
    consumer.stop.set()
    release.set()
    thread.join(5)
    assert not thread.is_alive()
    assert done == ["j1"]
    assert ticks, "the liveness tick never ran"
    left = queue.receive(1)
    assert left is not None and left.job.id == "j2"


def test_a_dependency_that_is_down_uses_no_attempt(queue: MemoryJobQueue) -> None:
    # More outages than the job has attempts: it waits them out and then runs once.
    handler = Recorder(failures=5, error=Unavailable("database", "connection refused"))
    dead: list[tuple[Job, str]] = []
    queue.publish(JOB)
    consumer = JobConsumer(
        queue.client(),
        {"process-video": handler},
        RetryPolicy(max_attempts=2),
        lambda j, r: dead.append((j, r)),
    )
    assert consume_all(consumer) == 6
    assert [j.attempt for j in handler.calls] == [1] * 6
    assert dead == []
    assert queue.dead_letters() == []


def test_dead_lettering_waits_until_its_outcome_could_be_recorded(queue: MemoryJobQueue) -> None:
    # The job's last attempt failed while the database was away: recording that the
    # video failed needs the database too, so the job stays queued until it can.
    recorded: list[tuple[str, str]] = []
    outage = [3]

    def hook(job: Job, reason: str) -> None:
        if outage[0]:
            outage[0] -= 1
            raise Unavailable("database", "connection refused")
        recorded.append((job.id, reason))

    queue.publish(JOB)
    consumer = JobConsumer(
        queue.client(), {"process-video": Recorder(failures=9)}, RetryPolicy(max_attempts=2), hook
    )
    consume_all(consumer)
    assert recorded == [("j1", "failed 2 times; last error RuntimeError: storage unavailable")]
    assert [job.id for job in queue.dead_letters()] == ["j1"]
    assert len(queue) == 0
