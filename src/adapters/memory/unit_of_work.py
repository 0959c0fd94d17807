"""The in-memory unit of work."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from videoplatform.adapters.memory.database import MemoryDatabase, Transaction
from videoplatform.adapters.memory.repositories import (
    MemoryAuditLog,
    MemoryCaptionRepository,
    MemoryCategoryRepository,
    MemoryEventReceipts,
    MemoryFileRepository,
    MemoryOutbox,
    MemoryShareRepository,
    MemoryTokenRepository,
    MemoryUploadRepository,
    MemoryUserRepository,
    MemoryVideoRepository,
    Seen,
)
from videoplatform.adapters.memory.search import MemorySearchIndex, MemorySearchLog
from videoplatform.application.ports.persistence import CommitHooks
from videoplatform.application.ports.tracing import Tracer
from videoplatform.domain.events import DomainEvent


class MemoryUnitOfWork:
    """A transaction over a :class:`MemoryDatabase`: reads see committed data plus this
    transaction's own changes; ``commit`` applies everything or nothing."""

    def __init__(
        self, db: MemoryDatabase, hooks: CommitHooks | None = None, tracer: Tracer | None = None
    ) -> None:
        self._db = db
        self._hooks = hooks
        self._tracer = tracer
        self._events: list[DomainEvent] = []
        self._begin()

    def _begin(self) -> None:
        previous = getattr(self, "_tx", None)
        if previous is not None:
            previous.release()  # its commit or rollback is over: so are its locks
        self._tx = Transaction(self._db)
        self._seen = Seen()
        self.users = MemoryUserRepository(self._tx, self._seen)
        self.tokens = MemoryTokenRepository(self._tx, self._seen)
        self.videos = MemoryVideoRepository(self._tx, self._seen)
        self.files = MemoryFileRepository(self._tx, self._seen)
        self.shares = MemoryShareRepository(self._tx, self._seen)
        self.captions = MemoryCaptionRepository(self._tx, self._seen)
        self.categories = MemoryCategoryRepository(self._tx, self._seen)
        self.uploads = MemoryUploadRepository(self._tx, self._seen)
        self.audit = MemoryAuditLog(self._tx)
        self.outbox = MemoryOutbox(self._tx, self._tracer)
        self.receipts = MemoryEventReceipts(self._tx)
        self.search = MemorySearchIndex(self._tx, self.videos)
        self.search_log = MemorySearchLog(self._tx)

    def __enter__(self) -> Self:
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        events = self._seen.drain_events()
        try:
            if events and self._hooks is not None:
                self._hooks.before_commit(events, self.outbox)
            self._tx.commit()
        except BaseException:
            self._begin()
            raise
        self._events.extend(events)
        self._begin()
        if events and self._hooks is not None:
            self._hooks.after_commit(events)

    def rollback(self) -> None:
        self._seen.discard_events()
        self._begin()

    def collect_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events


class MemorySchemaState:
    """A memory database is laid out by the release that made it: always current."""

    def is_current(self) -> bool:
        return True


class MemoryUnitOfWorkFactory:
    def __init__(
        self,
        db: MemoryDatabase | None = None,
        hooks: CommitHooks | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.db = db or MemoryDatabase()
        self.hooks = hooks
        self.tracer = tracer
        """Where the outbox takes the trace context of what it records."""

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.db, self.hooks, self.tracer)
