"""Failures of the outside world that any port may report."""

from __future__ import annotations

PING_TIMEOUT_SECONDS = 2.0
"""How long a ``ping`` waits for a dependency, at most, at each step (connecting, one
answer): a health check must say "down" in seconds, never hang on a silent peer."""


class Unavailable(Exception):
    """A dependency (``database``, ``queue``...) cannot be reached or used right now.
    Nothing about the request is wrong: the same request may succeed once it is back.
    ``code`` is ``<dependency>_unavailable``."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"the {dependency} is unavailable: {detail}")
        self.dependency = dependency
        self.detail = detail

    @property
    def code(self) -> str:
        return f"{self.dependency}_unavailable"
