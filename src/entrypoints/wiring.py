"""What the composition root's providers fill in: one adapter (or value) per port.

A provider is a function ``(settings, wiring) -> None`` for one capability. It offers an
adapter for each port it owns with :meth:`Wiring.provide`, which builds it only when no
override was given for that port: overriding a port is done one way, for every port,
by passing ``overrides`` to ``create_platform``. Whatever must be released when the
platform closes is handed to :meth:`Wiring.close_with`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from videoplatform.entrypoints.settings import Settings

T = TypeVar("T")
Closer = Callable[[], None]
Provider = Callable[[Settings, "Wiring"], None]


class Wiring:
    def __init__(self, overrides: Mapping[type, object] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self.ports: dict[object, object] = {}
        self.closers: list[Closer] = []

    def provide(self, port: object, build: Callable[[], T]) -> T:
        """The adapter for ``port``: the override when one was given, else ``build()``.
        (``port`` is the key, often a Protocol; ``build`` says the type.)"""
        chosen = cast(T, self._overrides[port]) if port in self._overrides else build()
        self.ports[port] = chosen
        return chosen

    def replace(self, port: object, adapter: object) -> None:
        """Put ``adapter`` in place of what was provided for ``port`` (a wrapper of it)."""
        self.ports[port] = adapter

    def get(self, port: object) -> Any:
        """What was provided for ``port`` by an earlier provider (annotate the result)."""
        return self.ports[port]

    def close_with(self, closer: Closer) -> None:
        self.closers.append(closer)

    def remaining_overrides(self) -> dict[object, object]:
        """Overrides of ports no provider owns (handed to the container as they are)."""
        return {port: o for port, o in self._overrides.items() if port not in self.ports}
