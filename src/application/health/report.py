"""What a health check finds, component by component, and how the findings add up."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path

from attrs import frozen

from videoplatform.application.ports.errors import Unavailable

GIB = 1024**3
MESSAGE_CHARS = 200
"""The longest message a component carries: a reason in a line, not a traceback."""


class HealthStatus(enum.Enum):
    OK = "ok"
    DEGRADED = "degraded"
    """Serving, with something wrong: an optional dependency down, a disk nearly full."""
    DOWN = "down"


@frozen
class Finding:
    """What one probe found: the state and a short message for people."""

    status: HealthStatus
    message: str


@frozen
class ComponentHealth:
    """One dependency (or disk) as a check found it."""

    name: str
    status: HealthStatus
    required: bool
    """Whether this process cannot serve without it: down, it makes the report down."""
    latency_ms: float
    """How long the probe took (or had run when the check stopped waiting for it)."""
    message: str


@frozen
class HealthReport:
    status: HealthStatus
    components: tuple[ComponentHealth, ...]
    duration_ms: float
    """How long the whole check took: about its slowest probe, at most its timeout."""

    def component(self, name: str) -> ComponentHealth:
        """The component called ``name``; KeyError when the report has none."""
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(name)

    @property
    def failing(self) -> tuple[str, ...]:
        """The components that are not ok, in report order."""
        return tuple(c.name for c in self.components if c.status is not HealthStatus.OK)


def overall(components: Iterable[ComponentHealth]) -> HealthStatus:
    """Down when a required component is down; degraded when any component is not ok
    (an optional one down, a disk running low); ok otherwise."""
    found = list(components)
    if any(c.required and c.status is HealthStatus.DOWN for c in found):
        return HealthStatus.DOWN
    if any(c.status is not HealthStatus.OK for c in found):
        return HealthStatus.DEGRADED
    return HealthStatus.OK


def reason_of(error: BaseException) -> str:
    """A failure in one line for people: an ``Unavailable``'s detail, or the error's
    type and the first line of its text; cut to ``MESSAGE_CHARS``."""
    if isinstance(error, Unavailable):
        text = error.detail
    else:
        lines = str(error).strip().splitlines()
        text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def size_text(size: int) -> str:
    """``size`` bytes in GiB with one decimal, or in MiB under 1 GiB."""
    if size >= GIB:
        return f"{size / GIB:.1f} GiB"
    return f"{size / 1024**2:.0f} MiB"


@frozen
class HealthConfig:
    """What the checks need to know of this process.

    ``queue_required``: jobs go through a broker (not the in-process queue), without
    which uploads cannot be processed. ``media_required``: this process processes videos
    itself (in-process queue with processing threads), so ffmpeg must run here; on
    API-only nodes it is optional. A disk with less than ``min_free_bytes`` free is
    degraded. A check waits ``timeout_seconds`` at most for all its probes; ffmpeg's
    answer is remembered for ``media_check_seconds``."""

    data_dir: Path = Path("var")
    work_dir: Path = Path("var/work")
    queue_required: bool = False
    media_required: bool = False
    min_free_bytes: int = GIB
    timeout_seconds: float = 5.0
    media_check_seconds: float = 60.0
