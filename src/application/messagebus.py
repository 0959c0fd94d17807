"""Handing committed domain events to the event bus.

Wrapping the unit-of-work factory once, in the composition root, gives every adapter
(memory, SQL...) the same behaviour: events reach subscribers only after their
transaction committed, never after a rollback.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Self

from videoplatform.application.ports.persistence import (
    AuditLog,
    CategoryRepository,
    FileRepository,
    Outbox,
    ShareRepository,
    TokenRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UploadRepository,
    UserRepository,
    VideoRepository,
)
from videoplatform.application.ports.queue import EventBus
from videoplatform.domain.events import DomainEvent

log = logging.getLogger(__name__)


class PublishingUnitOfWork:
    def __init__(self, inner: UnitOfWork, bus: EventBus) -> None:
        self._inner = inner
        self._bus = bus

    @property
    def users(self) -> UserRepository:
        return self._inner.users

    @property
    def tokens(self) -> TokenRepository:
        return self._inner.tokens

    @property
    def videos(self) -> VideoRepository:
        return self._inner.videos

    @property
    def files(self) -> FileRepository:
        return self._inner.files

    @property
    def shares(self) -> ShareRepository:
        return self._inner.shares

    @property
    def categories(self) -> CategoryRepository:
        return self._inner.categories

    @property
    def uploads(self) -> UploadRepository:
        return self._inner.uploads

    @property
    def audit(self) -> AuditLog:
        return self._inner.audit

    @property
    def outbox(self) -> Outbox:
        return self._inner.outbox

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._inner.commit()
        for event in self._inner.collect_events():
            try:
                self._bus.publish(event)
            except Exception:
                # The change is committed: reporting failure now would make callers undo
                # or retry work that is done. Durable delivery is the outbox's job.
                log.exception("event publication failed: %s", event.name)

    def rollback(self) -> None:
        self._inner.rollback()

    def collect_events(self) -> list[DomainEvent]:
        # Events are published at commit; nothing is left to collect here.
        return self._inner.collect_events()


class PublishingUnitOfWorkFactory:
    def __init__(self, inner: UnitOfWorkFactory, bus: EventBus) -> None:
        self._inner = inner
        self._bus = bus

    def __call__(self) -> PublishingUnitOfWork:
        return PublishingUnitOfWork(self._inner(), self._bus)
