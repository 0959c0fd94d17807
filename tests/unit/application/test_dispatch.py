"""The dispatch point: middleware order, refusals passing through, nested use cases,
event handlers, and every service method behind it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from videoplatform.adapters.memory.queue import MemoryEventBus
from videoplatform.application.context import Caller
from videoplatform.application.dispatch import (
    Dispatcher,
    EventDelivery,
    Message,
    Proceed,
    UseCaseCall,
    current_message,
    use_cases_of,
)
from videoplatform.domain.errors import NotFound
from videoplatform.domain.events import UserDisabled
from videoplatform.domain.ids import UserId
from videoplatform.entrypoints.bootstrap import USE_CASES, Platform

ALICE = Caller(UserId("01JALICE000000000000000000"))


class Library:
    def __init__(self) -> None:
        self.shelf = {"dune": "Dune"}

    def find(self, caller: Caller, key: str) -> str:
        try:
            return self.shelf[key]
        except KeyError:
            raise NotFound("no such book") from None

    def find_twice(self, caller: Caller, key: str) -> str:
        return self.find(caller, key) + self.find(caller, key)

    @property
    def size(self) -> int:
        return len(self.shelf)

    def _internal(self) -> None:
        raise AssertionError("never a use case")


def tracing(log: list[str], label: str) -> Any:
    def middleware(message: Message, proceed: Proceed) -> Any:
        log.append(f"{label}>{message.name}")
        try:
            return proceed()
        finally:
            log.append(f"{label}<{message.name}")

    return middleware


def test_middleware_wraps_each_call_first_added_outermost() -> None:
    log: list[str] = []
    dispatcher = Dispatcher([tracing(log, "a")])
    dispatcher.use(tracing(log, "b"))
    library = dispatcher.route(Library(), "books")

    assert library.find(ALICE, "dune") == "Dune"
    assert log == ["a>books.find", "b>books.find", "b<books.find", "a<books.find"]


def test_a_refusal_passes_through_the_chain_unchanged() -> None:
    log: list[str] = []
    library = Dispatcher([tracing(log, "m")]).route(Library(), "books")

    with pytest.raises(NotFound, match="no such book"):
        library.find(ALICE, "missing")
    assert log == ["m>books.find", "m<books.find"]


def test_the_caller_is_found_among_the_arguments_and_nested_calls_name_their_parent() -> None:
    seen: list[UseCaseCall] = []

    def record(message: Message, proceed: Proceed) -> Any:
        assert isinstance(message, UseCaseCall)
        seen.append(message)
        return proceed()

    dispatcher = Dispatcher()
    dispatcher.use(record)
    library = dispatcher.route(Library(), "books")

    assert library.find_twice(caller=ALICE, key="dune") == "DuneDune"
    assert [(c.name, c.caller, c.parent) for c in seen] == [
        ("books.find_twice", ALICE, None),
        ("books.find", ALICE, "books.find_twice"),
        ("books.find", ALICE, "books.find_twice"),
    ]
    assert current_message() is None


def test_only_public_plain_methods_are_use_cases() -> None:
    assert use_cases_of(Library) == ["find", "find_twice"]
    library = Dispatcher().route(Library(), "books")
    assert library.size == 1


def test_event_handlers_run_through_the_chain_and_one_failing_does_not_stop_another() -> None:
    log: list[str] = []
    received: list[str] = []
    dispatcher = Dispatcher()
    dispatcher.use(tracing(log, "m"))
    bus = MemoryEventBus()

    def broken(event: UserDisabled) -> None:
        raise RuntimeError("handler bug")

    def working(event: UserDisabled) -> None:
        message = current_message()
        assert isinstance(message, EventDelivery)
        received.append(f"{message.name}:{event.user_id}")

    dispatcher.subscribe(bus, UserDisabled, "broken", broken)
    dispatcher.subscribe(bus, UserDisabled, "working", working)
    bus.publish(UserDisabled(occurred_at=datetime.now(UTC), user_id=UserId("u1")))

    assert received == ["working:u1"]
    assert log == ["m>broken", "m<broken", "m>working", "m<working"]


def test_every_use_case_of_every_service_goes_through_the_dispatch_point(
    platform: Platform,
) -> None:
    for name, service_type in USE_CASES.items():
        service: object = platform.resolve(service_type)
        for method in use_cases_of(service_type):
            routed = getattr(service, method)
            assert routed.__wrapped__.__func__ is getattr(service_type, method), (name, method)
