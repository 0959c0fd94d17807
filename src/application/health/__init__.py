"""Health: is this process ready, did it start well, and how is each dependency?

:mod:`.report` says what a check finds and how findings add up to ok, degraded or down;
:mod:`.probing` runs the probes at once within a deadline; :mod:`.service` holds the use
cases (:class:`HealthService`).
"""

from __future__ import annotations

from videoplatform.application.health.report import (
    ComponentHealth,
    Finding,
    HealthConfig,
    HealthReport,
    HealthStatus,
    overall,
)
from videoplatform.application.health.service import HealthService, Readiness

__all__ = [
    "ComponentHealth",
    "Finding",
    "HealthConfig",
    "HealthReport",
    "HealthService",
    "HealthStatus",
    "Readiness",
    "overall",
]
