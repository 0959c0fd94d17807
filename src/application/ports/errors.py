"""Failures of the outside world that any port may report."""

from __future__ import annotations


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
