"""A log line for every statement slower than a threshold.

Each statement's time is taken around the cursor's execution (what the database took,
and the network); over the threshold, one ``slow_query`` warning says how long, how
many rows, and the statement's shape: its SQL with the parameters as placeholders
(never their values) and whitespace collapsed. The lines carry the logging context
bound where the statement ran: the request id and route of an API request, the use
case (``processing.process`` for a job) it ran for.
"""

from __future__ import annotations

import re
import time
from typing import Any

import structlog
from sqlalchemy import Engine, event

log = structlog.get_logger("videoplatform.sql.slow")

SHAPE_LIMIT = 1000
"""Characters of a statement's shape that are logged."""
_SPACES = re.compile(r"\s+")
_STARTED = "videoplatform_started"


def statement_shape(statement: str) -> str:
    """The statement as one line, cut at :data:`SHAPE_LIMIT` characters."""
    shape = _SPACES.sub(" ", statement).strip()
    return shape if len(shape) <= SHAPE_LIMIT else shape[: SHAPE_LIMIT - 1] + "…"


class SlowQueryLog:
    def __init__(self, threshold_ms: int) -> None:
        self.threshold_seconds = threshold_ms / 1000

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, *_: Any) -> None:
        conn.info.setdefault(_STARTED, []).append(time.perf_counter())

    def _after(
        self, conn: Any, cursor: Any, statement: str, _parameters: Any, _context: Any, many: bool
    ) -> None:
        started = conn.info.get(_STARTED)
        if not started:
            return
        elapsed = time.perf_counter() - started.pop()
        if elapsed < self.threshold_seconds:
            return
        log.warning(
            "slow_query",
            duration_ms=round(elapsed * 1000, 1),
            rows=getattr(cursor, "rowcount", -1),
            executemany=many,
            statement=statement_shape(statement),
        )
