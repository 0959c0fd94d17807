"""The one dispatch point: every use-case call and every event delivery runs through it.

A use case is a public method of an application service (``VideoService.upload``...).
The composition root hands each service to :meth:`Dispatcher.route`, which puts the
service's methods behind the dispatcher: the embedder facade, the HTTP resources, the
CLI and the worker keep calling ``platform.videos.upload(caller, command)`` with the same
signature, and each call is one :class:`UseCaseCall` that goes to exactly one handler
(the method) through the middleware chain. Event handlers subscribed with
:meth:`Dispatcher.subscribe` run through the same chain, one :class:`EventDelivery`
each, any number per event.

A use case that returns a stream (a generator: following progress, an export, a
download) is one dispatch when it is called; what the stream does while it is read
runs outside the chain.

Middleware is an "around" function: it receives the message and a ``proceed`` callable,
and returns what ``proceed()`` returned (or raises). The first one added is the
outermost. Caller context and structured logging are here now; metrics and tracing plug
in the same way (:meth:`Dispatcher.use`).
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from attrs import frozen

from videoplatform.application.context import Caller
from videoplatform.application.ports.queue import EventBus
from videoplatform.domain.errors import DomainError
from videoplatform.domain.events import DomainEvent

log = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S")
E = TypeVar("E", bound=DomainEvent)


@frozen
class UseCaseCall:
    """One call of a use case: ``name`` is ``<service>.<method>`` (``videos.upload``)."""

    name: str
    caller: Caller | None
    parent: str | None = None
    """The use case that made this call, when one use case calls another."""


@frozen
class EventDelivery:
    """One event handed to one handler: ``name`` is the handler's name."""

    name: str
    event: DomainEvent


Message = UseCaseCall | EventDelivery
Proceed = Callable[[], Any]
Middleware = Callable[[Message, Proceed], Any]

_current: contextvars.ContextVar[Message | None] = contextvars.ContextVar(
    "videoplatform_dispatch", default=None
)


def current_message() -> Message | None:
    """The use-case call or event delivery this code runs in (None outside any)."""
    return _current.get()


def caller_context(message: Message, proceed: Proceed) -> Any:
    """Makes the message the current one (:func:`current_message`) while it runs, so
    nested calls know their parent and anything deeper can tell what it serves."""
    token = _current.set(message)
    try:
        return proceed()
    finally:
        _current.reset(token)


def structured_logging(message: Message, proceed: Proceed) -> Any:
    """One debug record per dispatch: what ran, for whom, how long, how it ended."""
    if not log.isEnabledFor(logging.DEBUG):
        return proceed()
    started = time.perf_counter()
    outcome = "ok"
    try:
        return proceed()
    except DomainError as refusal:
        outcome = refusal.code
        raise
    except BaseException as error:
        outcome = type(error).__name__
        raise
    finally:
        fields: dict[str, object] = {
            "kind": "use_case" if isinstance(message, UseCaseCall) else "event",
            "name": message.name,
            "outcome": outcome,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if isinstance(message, UseCaseCall) and message.caller is not None:
            fields["user_id"] = message.caller.user_id
        if isinstance(message, EventDelivery):
            fields["event"] = message.event.name
        log.debug("dispatch %s %s", message.name, outcome, extra={"dispatch": fields})


DEFAULT_MIDDLEWARE: tuple[Middleware, ...] = (caller_context, structured_logging)


class Dispatcher:
    def __init__(self, middleware: Sequence[Middleware] = DEFAULT_MIDDLEWARE) -> None:
        self._middleware: list[Middleware] = list(middleware)

    def use(self, middleware: Middleware) -> None:
        """Add ``middleware`` inside those already added (it sees every later dispatch)."""
        self._middleware.append(middleware)

    def run(self, message: Message, handler: Callable[[], T]) -> T:
        """Run ``handler`` for ``message`` through the middleware chain."""
        chain: Proceed = handler
        for middleware in reversed(self._middleware):
            chain = _bind(middleware, message, chain)
        result: T = chain()
        return result

    def call(self, name: str, caller: Caller | None, handler: Callable[[], T]) -> T:
        """Dispatch one use-case call."""
        parent = current_message()
        return self.run(UseCaseCall(name, caller, parent.name if parent else None), handler)

    def route(self, service: S, name: str) -> S:
        """Put every public method of ``service`` behind the dispatcher, as use cases
        named ``<name>.<method>``; returns the same object."""
        for attribute in use_cases_of(type(service)):
            bound = getattr(service, attribute)
            setattr(service, attribute, self._routed(f"{name}.{attribute}", bound))
        return service

    def _routed(self, name: str, bound: Callable[..., T]) -> Callable[..., T]:
        def dispatched(*args: Any, **kwargs: Any) -> T:
            caller = _caller_among(args, kwargs)
            return self.call(name, caller, lambda: bound(*args, **kwargs))

        dispatched.__name__ = bound.__name__
        dispatched.__qualname__ = getattr(bound, "__qualname__", name)
        dispatched.__doc__ = bound.__doc__
        dispatched.__wrapped__ = bound  # type: ignore[attr-defined]
        return dispatched

    def subscribe(
        self, bus: EventBus, event_type: type[E], name: str, handler: Callable[[E], None]
    ) -> None:
        """Have ``handler`` (called ``name``) receive every ``event_type`` the bus
        publishes, through the middleware chain."""

        def deliver(event: E) -> None:
            self.run(EventDelivery(name, event), lambda: handler(event))

        bus.subscribe(event_type, deliver)


def use_cases_of(service_type: type) -> list[str]:
    """The public methods a service class defines or inherits (its use cases): plain
    functions, not properties, class methods or static methods."""
    return [
        attribute
        for attribute in sorted(dir(service_type))
        if not attribute.startswith("_")
        and inspect.isfunction(inspect.getattr_static(service_type, attribute))
    ]


def _caller_among(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Caller | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, Caller):
            return value
    return None


def _bind(middleware: Middleware, message: Message, inner: Proceed) -> Proceed:
    return lambda: middleware(message, inner)
