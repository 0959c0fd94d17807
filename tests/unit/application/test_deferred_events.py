"""Deferred events: the publisher returns at once, a thread of the process hands each
event to its handlers in order, failures are tried again, and a reader can wait for
what was published."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import pytest

from videoplatform.application.context import Caller
from videoplatform.application.dispatch import Dispatcher
from videoplatform.application.events.deferred import DeferredEvents, settled_before
from videoplatform.domain.events import DomainEvent, UserDisabled, UserEnabled, VideoReady
from videoplatform.domain.ids import UserId, VideoId

WHEN = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


def enabled(n: int) -> UserEnabled:
    return UserEnabled(occurred_at=WHEN, user_id=UserId(f"u{n}"))


@pytest.fixture
def events() -> DeferredEvents:
    return DeferredEvents(retry_seconds=0.01, attempts=3, idle_seconds=0.05, capacity=5)


def test_the_publisher_does_not_wait_for_the_handler(events: DeferredEvents) -> None:
    entered, release = threading.Event(), threading.Event()
    threads: list[str] = []

    def slow(_: UserEnabled) -> None:
        threads.append(threading.current_thread().name)
        entered.set()
        release.wait(5)

    events.subscribe(UserEnabled, slow)
    events.publish(enabled(1))
    # Back from publishing while the handler has not finished (it waits for us).
    assert entered.wait(5)
    assert not events.settle(0.05)
    release.set()
    assert events.settle(5)
    assert threads == ["deferred-events"]


def test_each_handler_gets_its_events_in_publish_order(events: DeferredEvents) -> None:
    users: list[str] = []
    videos: list[str] = []
    every: list[str] = []
    events.subscribe(UserEnabled, lambda e: users.append(e.user_id))
    events.subscribe(VideoReady, lambda e: videos.append(e.video_id))
    events.subscribe(DomainEvent, lambda e: every.append(e.name))

    for n in range(4):
        events.publish(enabled(n))
    events.publish(VideoReady(occurred_at=WHEN, video_id=VideoId("v1")))

    assert events.settle(5)
    assert users == ["u0", "u1", "u2", "u3"]
    assert videos == ["v1"]
    assert every == ["UserEnabled"] * 4 + ["VideoReady"]
    assert events.pending == 0


def test_a_failing_handler_is_tried_again_then_given_up_and_the_rest_go_on(
    events: DeferredEvents, caplog: pytest.LogCaptureFixture
) -> None:
    tries: list[str] = []
    handled: list[str] = []

    def fails(event: UserDisabled) -> None:
        tries.append(event.user_id)
        raise RuntimeError("away")

    events.subscribe(UserDisabled, fails)  # a type of its own: only u0 goes to it
    events.subscribe(UserEnabled, lambda e: handled.append(e.user_id))
    with caplog.at_level(logging.WARNING, "videoplatform.application.events.deferred"):
        events.publish(UserDisabled(occurred_at=WHEN, user_id=UserId("u0")))
        events.publish(enabled(1))
        assert events.settle(5)

    assert tries == ["u0", "u0", "u0"]
    assert handled == ["u1"]
    given_up = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(given_up) == 1
    assert "u0" in given_up[0].getMessage()  # the event survives in the log


def test_beyond_its_capacity_an_event_is_logged_and_dropped(
    events: DeferredEvents, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    handled: list[str] = []

    def held(event: UserEnabled) -> None:
        release.wait(5)
        handled.append(event.user_id)

    events.subscribe(UserEnabled, held)
    with caplog.at_level(logging.ERROR, "videoplatform.application.events.deferred"):
        for n in range(6):
            events.publish(enabled(n))
    release.set()
    assert events.settle(5)

    assert handled == ["u0", "u1", "u2", "u3", "u4"]
    assert ["u5" in r.getMessage() for r in caplog.records] == [True]


def test_close_delivers_what_was_published_and_refuses_the_rest(
    events: DeferredEvents,
) -> None:
    handled: list[str] = []
    events.subscribe(UserEnabled, lambda e: handled.append(e.user_id))
    events.publish(enabled(1))
    events.close(5)
    events.publish(enabled(2))
    time.sleep(0.05)
    assert handled == ["u1"]


def test_the_thread_ends_when_idle_and_comes_back_with_the_next_event(
    events: DeferredEvents,
) -> None:
    threads: list[threading.Thread] = []
    events.subscribe(UserEnabled, lambda _: threads.append(threading.current_thread()))
    events.publish(enabled(1))
    assert events.settle(5)
    threads[0].join(5)
    assert not threads[0].is_alive()
    events.publish(enabled(2))
    assert events.settle(5)
    assert len(threads) == 2
    assert threads[1] is not threads[0]


def test_a_use_case_of_the_prefix_runs_once_the_events_are_handled(
    events: DeferredEvents,
) -> None:
    class Reader:
        def __init__(self) -> None:
            self.handled: list[str] = []

        def read(self, caller: Caller) -> list[str]:
            return list(self.handled)

    audit, other = Reader(), Reader()
    dispatcher = Dispatcher()
    dispatcher.use(settled_before("audit.", events))
    dispatcher.route(audit, "audit")
    dispatcher.route(other, "other")
    release = threading.Event()

    def record(event: UserEnabled) -> None:
        release.wait(5)
        audit.handled.append(event.user_id)
        other.handled.append(event.user_id)

    events.subscribe(UserEnabled, record)
    events.publish(enabled(1))
    assert other.read(Caller()) == []  # not waiting
    threading.Timer(0.05, release.set).start()
    assert audit.read(Caller()) == ["u1"]
