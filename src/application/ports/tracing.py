"""Tracing: spans around the work the application does, and the trace context that
travels with a message from the process that wrote it to the one that handles it.

The application opens spans only through this port (the adapter lives in the
entrypoints, on OpenTelemetry); :class:`NoTracer`, the default, does nothing at all.
A trace context is carried as a few text headers (W3C ``traceparent`` and
``tracestate``): what :meth:`Tracer.carrier` returns, what an outbox message and a job
keep, and what :meth:`Tracer.continued` resumes from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Literal, Protocol

SpanKind = Literal["internal", "producer", "consumer"]
"""What a span does: work inside the process, handing a message on, or handling one."""

AttributeValue = str | int | float | bool
Attributes = Mapping[str, AttributeValue]


class TraceSpan(Protocol):
    """A span that is open: what the block learned about its work goes on it."""

    def set_attribute(self, key: str, value: AttributeValue) -> None: ...

    def fail(self, description: str) -> None:
        """The work failed (without an exception leaving the block: one that does is
        recorded by the span itself)."""
        ...


class Tracer(Protocol):
    def span(
        self, name: str, attributes: Attributes | None = None
    ) -> AbstractContextManager[TraceSpan]:
        """A span around the block, child of the current one. An exception that leaves
        the block is recorded on it, marks it failed, and goes on."""
        ...

    def carrier(self) -> dict[str, str]:
        """The current trace context as headers to carry with a message; empty when no
        span is current (or tracing is off)."""
        ...

    def continued(
        self,
        carrier: Mapping[str, str],
        name: str,
        *,
        kind: SpanKind = "consumer",
        attributes: Attributes | None = None,
    ) -> AbstractContextManager[TraceSpan]:
        """A span around the block in the trace that ``carrier`` (from :meth:`carrier`,
        in another thread or process) belongs to, as a child of the span that wrote
        it; a new trace when the carrier holds none. Exceptions as in :meth:`span`."""
        ...


class _NoSpan:
    def set_attribute(self, key: str, value: AttributeValue) -> None:
        return None

    def fail(self, description: str) -> None:
        return None


_NO_SPAN = _NoSpan()


class NoTracer:
    """Tracing off: no span, no context, nothing carried."""

    @contextmanager
    def span(self, name: str, attributes: Attributes | None = None) -> Iterator[TraceSpan]:
        yield _NO_SPAN

    def carrier(self) -> dict[str, str]:
        return {}

    @contextmanager
    def continued(
        self,
        carrier: Mapping[str, str],
        name: str,
        *,
        kind: SpanKind = "consumer",
        attributes: Attributes | None = None,
    ) -> Iterator[TraceSpan]:
        yield _NO_SPAN
