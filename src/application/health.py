"""Readiness: does every dependency answer?"""

from __future__ import annotations

from attrs import frozen

from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.storage import ObjectStorage

PROBE_EMAIL = "readiness-probe@invalid.invalid"


@frozen
class Readiness:
    checks: dict[str, str]
    """Each dependency's state: "ok", or what is wrong."""

    @property
    def ready(self) -> bool:
        return all(state == "ok" for state in self.checks.values())


class HealthService:
    def __init__(self, uow_factory: UnitOfWorkFactory, storage: ObjectStorage) -> None:
        self._uow = uow_factory
        self._storage = storage

    def readiness(self) -> Readiness:
        checks: dict[str, str] = {}
        try:
            with self._uow() as uow:
                uow.users.find_by_email(PROBE_EMAIL)
            checks["database"] = "ok"
        except Exception as error:  # any failure means "not ready", with its reason
            checks["database"] = f"unavailable: {type(error).__name__}"
        try:
            self._storage.exists("health/probe")
            checks["storage"] = "ok"
        except Exception as error:
            checks["storage"] = f"unavailable: {type(error).__name__}"
        return Readiness(checks)
