"""Job queues keep the queue port's contract: FIFO delivery, explicit acknowledgement,
redelivery with a raised attempt count after a backoff, dead letters, one unsettled
delivery per client (prefetch 1), jobs put back when their consumer goes away,
exactly-once hand-out, and a ping that answers without touching jobs or deliveries."""

from __future__ import annotations

import threading
import time
from collections import Counter

from tests.contracts.conftest import MAX_DELIVERIES, RETRY_BASE_S, QueueClients
from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS
from videoplatform.application.ports.queue import Delivery, Job, JobQueue, QueueDepth

QUICK = 0.05  # seconds: how long a receive waits when nothing should arrive
SOON = 2.0  # seconds: how long a receive may wait for a job that is there


def job(n: int, kind: str = "transcode") -> Job:
    return Job(id=f"job-{n}", kind=kind, payload={"video_id": f"v{n}"})


def expect(queue: JobQueue) -> Delivery:
    delivery = queue.receive(SOON)
    assert delivery is not None, "a published job was not delivered"
    return delivery


def test_jobs_are_delivered_first_in_first_out(queue_clients: QueueClients) -> None:
    queue = queue_clients()
    for n in range(5):
        queue.publish(job(n))
    delivered = []
    for _ in range(5):
        delivery = expect(queue)
        delivered.append(delivery.job)
        queue.ack(delivery)
    assert delivered == [job(n) for n in range(5)]


def test_a_delivery_carries_the_job_unchanged(queue_clients: QueueClients) -> None:
    queue = queue_clients()
    sent = Job(id="j1", kind="thumbnail", payload={"video_id": "v1", "at": "2.5"})
    queue.publish(sent)
    delivery = expect(queue)
    assert delivery.job == sent
    assert delivery.job.attempt == 1
    queue.ack(delivery)


def test_a_job_carries_its_trace_context_to_each_of_its_deliveries(
    queue_clients: QueueClients,
) -> None:
    context = {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "vendor=value",
    }
    queue = queue_clients()
    queue.publish(Job(id="j1", kind="thumbnail", payload={}, trace=context))
    queue.publish(job(2))
    first = expect(queue)
    assert dict(first.job.trace) == context
    queue.nack(first, requeue=True)  # a retry is the same work, in the same trace
    untraced = expect(queue)
    assert (untraced.job.id, dict(untraced.job.trace)) == ("job-2", {})
    queue.ack(untraced)
    retried = expect(queue)
    assert (retried.job.id, dict(retried.job.trace)) == ("j1", context)
    queue.ack(retried)


def test_receive_on_an_empty_queue_returns_none_after_the_timeout(
    queue_clients: QueueClients,
) -> None:
    queue = queue_clients()
    started = time.monotonic()
    assert queue.receive(QUICK) is None
    assert time.monotonic() - started < 1.0


def test_receive_waits_for_a_job_published_while_waiting(queue_clients: QueueClients) -> None:
    consumer = queue_clients()
    producer = queue_clients()
    timer = threading.Timer(0.05, lambda: producer.publish(job(1)))
    timer.start()
    try:
        delivery = consumer.receive(SOON)
    finally:
        timer.join()
    assert delivery is not None
    assert delivery.job == job(1)
    consumer.ack(delivery)


def test_an_acked_job_is_never_delivered_again(queue_clients: QueueClients) -> None:
    queue = queue_clients()
    queue.publish(job(1))
    queue.ack(expect(queue))
    assert queue.receive(QUICK) is None
    assert queue.dead_letters() == []


def test_a_job_nacked_with_requeue_comes_back_with_its_attempt_raised(
    queue_clients: QueueClients,
) -> None:
    queue = queue_clients()
    queue.publish(job(1))
    first = expect(queue)
    queue.nack(first, requeue=True)
    second = expect(queue)
    assert second.job.id == "job-1"
    assert second.job.attempt == 2
    assert (second.job.kind, second.job.payload) == (first.job.kind, first.job.payload)
    queue.nack(second, requeue=True)
    third = expect(queue)
    assert third.job.attempt == 3
    queue.ack(third)
    assert queue.receive(QUICK) is None


def test_a_requeued_job_waits_out_a_backoff_that_doubles_with_each_attempt(
    queue_clients: QueueClients,
) -> None:
    queue = queue_clients()
    queue.publish(job(1))
    queue.nack(expect(queue), requeue=True)
    nacked = time.monotonic()
    assert queue.receive(RETRY_BASE_S / 4) is None, "the retry came back before its backoff"
    second = expect(queue)
    first_wait = time.monotonic() - nacked
    queue.nack(second, requeue=True)
    nacked = time.monotonic()
    third = expect(queue)
    second_wait = time.monotonic() - nacked
    assert third.job.attempt == 3
    assert first_wait >= RETRY_BASE_S * 0.9
    assert second_wait >= 2 * RETRY_BASE_S * 0.9
    queue.ack(third)


def dead_letter_ids(queue: JobQueue) -> list[str]:
    """The dead letters once some have arrived (a broker moves them asynchronously)."""
    deadline = time.monotonic() + SOON
    while not (dead := queue.dead_letters()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [j.id for j in dead]


def test_a_job_is_dead_lettered_instead_of_a_delivery_beyond_the_limit(
    queue_clients: QueueClients,
) -> None:
    queue = queue_clients()
    queue.publish(job(1))
    for attempt in range(1, MAX_DELIVERIES + 1):
        delivery = expect(queue)
        assert delivery.job.attempt == attempt
        queue.nack(delivery, requeue=True)
    assert dead_letter_ids(queue) == ["job-1"]
    assert queue.receive(QUICK) is None


def test_a_client_holds_one_unsettled_job_at_a_time(queue_clients: QueueClients) -> None:
    first, second = queue_clients(), queue_clients()
    first.publish(job(1))
    first.publish(job(2))
    held = expect(first)
    assert first.receive(QUICK) is None, "a second job went to a client that holds one"
    other = expect(second)
    assert {held.job.id, other.job.id} == {"job-1", "job-2"}
    first.ack(held)
    second.ack(other)


def test_settling_a_delivery_the_client_does_not_hold_changes_nothing(
    queue_clients: QueueClients,
) -> None:
    holder, stranger = queue_clients(), queue_clients()
    holder.publish(job(1))
    held = expect(holder)
    stranger.ack(held)
    stranger.nack(held, requeue=False)
    assert stranger.receive(QUICK) is None
    assert holder.dead_letters() == []
    holder.ack(held)
    holder.ack(held)  # twice: still nothing more happens
    assert stranger.receive(QUICK) is None


def test_a_job_held_by_a_client_that_closes_goes_to_another_consumer(
    queue_clients: QueueClients,
) -> None:
    doomed, survivor = queue_clients(), queue_clients()
    doomed.publish(job(1))
    held = expect(doomed)
    doomed.close()
    redelivered = expect(survivor)
    assert (redelivered.job.id, redelivered.job.attempt) == ("job-1", 2)
    doomed.ack(held)  # too late: the job is the survivor's now
    survivor.ack(redelivered)
    assert survivor.receive(QUICK) is None


def test_a_job_whose_consumers_keep_going_away_ends_in_the_dead_letters(
    queue_clients: QueueClients,
) -> None:
    queue_clients().publish(job(1))
    for attempt in range(1, MAX_DELIVERIES + 1):
        consumer = queue_clients()
        delivery = expect(consumer)
        assert delivery.job.attempt == attempt
        consumer.close()
    watcher = queue_clients()
    assert dead_letter_ids(watcher) == ["job-1"]
    assert watcher.receive(QUICK) is None


def test_concurrent_producers_and_consumers_deliver_each_job_exactly_once(
    queue_clients: QueueClients,
) -> None:
    producers, consumers, per_producer = 4, 4, 150
    total = producers * per_producer
    received: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []
    published = threading.Event()

    def produce(p: int) -> None:
        try:
            queue = queue_clients()
            for n in range(per_producer):
                queue.publish(Job(id=f"p{p}-{n}", kind="k", payload={}))
        except BaseException as err:  # reported in the test's thread
            errors.append(err)

    def consume() -> None:
        try:
            queue = queue_clients()
            while True:
                delivery = queue.receive(QUICK)
                if delivery is None:
                    if published.is_set():
                        return
                    continue
                with lock:
                    received[delivery.job.id] += 1
                queue.ack(delivery)
        except BaseException as err:  # reported in the test's thread
            errors.append(err)

    consumer_threads = [threading.Thread(target=consume) for _ in range(consumers)]
    producer_threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in consumer_threads + producer_threads:
        thread.start()
    for thread in producer_threads:
        thread.join(timeout=30)
    published.set()
    for thread in consumer_threads:
        thread.join(timeout=30)

    assert errors == []
    assert not any(t.is_alive() for t in consumer_threads + producer_threads)
    assert len(received) == total
    assert set(received.values()) == {1}
    assert queue_clients().receive(QUICK) is None


def test_an_uncharged_nack_brings_the_job_back_with_the_same_attempt_however_often(
    queue_clients: QueueClients,
) -> None:
    # A dependency that is down is not the job's fault: more uncharged returns than the
    # queue allows deliveries, and the job is still there, still at its first attempt.
    queue = queue_clients()
    queue.publish(job(1))
    for _ in range(MAX_DELIVERIES + 1):
        delivery = expect(queue)
        assert delivery.job.attempt == 1
        queue.nack(delivery, requeue=True, charge=False)
    last = expect(queue)
    assert (last.job.id, last.job.attempt) == ("job-1", 1)
    queue.nack(last, requeue=True)  # a real failure is charged as before
    assert expect(queue).job.attempt == 2
    assert queue.dead_letters() == []


def test_a_ping_answers_and_leaves_jobs_and_deliveries_alone(queue_clients: QueueClients) -> None:
    queue, idle = queue_clients(), queue_clients()
    queue.publish(job(1))
    queue.publish(job(2))
    held = expect(queue)
    for client in (queue, idle):
        started = time.monotonic()
        client.ping()  # answers: no Unavailable
        assert time.monotonic() - started < PING_TIMEOUT_SECONDS
    queue.ack(held)  # still this client's: settling it works
    following = expect(queue)
    assert (held.job.id, following.job.id, following.job.attempt) == ("job-1", "job-2", 1)
    queue.ack(following)
    assert queue.receive(QUICK) is None
    assert queue.dead_letters() == []


def depth_when(queue: JobQueue, expected: QueueDepth) -> QueueDepth:
    """The depth once it is ``expected`` (a broker moves messages asynchronously), or
    the last one read."""
    deadline = time.monotonic() + SOON
    while (depth := queue.depth()) != expected and time.monotonic() < deadline:
        # Not faster: a broker asked many times a second may put off expiring a retry.
        time.sleep(0.2)
    return depth


def test_the_depth_counts_ready_retrying_and_dead_jobs(queue_clients: QueueClients) -> None:
    # Consumers close once they settled their delivery: a broker sends an open one
    # the next job ahead of time, and a job held by a consumer is in no count.
    producer, observer = queue_clients(), queue_clients()
    assert observer.depth() == QueueDepth(ready=0, retrying=0, dead=0)
    for n in range(1, 4):
        producer.publish(job(n))
    assert depth_when(observer, QueueDepth(3, 0, 0)) == QueueDepth(3, 0, 0)
    refusing = queue_clients()
    refusing.nack(expect(refusing), requeue=False)
    refusing.close()
    assert depth_when(observer, QueueDepth(2, 0, 1)) == QueueDepth(2, 0, 1)
    retrying = queue_clients()
    retrying.nack(expect(retrying), requeue=True)  # waits out its backoff, then is ready
    retrying.close()
    assert depth_when(observer, QueueDepth(1, 1, 1)) == QueueDepth(1, 1, 1)
    assert depth_when(observer, QueueDepth(2, 0, 1)) == QueueDepth(2, 0, 1)
