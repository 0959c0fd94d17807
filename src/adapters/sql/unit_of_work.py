"""The SQL unit of work."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine

from videoplatform.adapters.sql.repositories import (
    SqlAuditLog,
    SqlCaptionRepository,
    SqlCategoryRepository,
    SqlEventReceipts,
    SqlFileRepository,
    SqlOutbox,
    SqlShareRepository,
    SqlTokenRepository,
    SqlUploadRepository,
    SqlUserRepository,
    SqlVideoRepository,
    Tracker,
)
from videoplatform.adapters.sql.search import SqlSearchIndex, SqlSearchLog
from videoplatform.adapters.sql.session import SqlSession
from videoplatform.application.ports.persistence import CommitHooks
from videoplatform.application.ports.tracing import Tracer
from videoplatform.domain.events import DomainEvent


class SqlUnitOfWork:
    """A database transaction over every repository.

    See :mod:`videoplatform.adapters.sql.session`.
    """

    def __init__(
        self, engine: Engine, hooks: CommitHooks | None = None, tracer: Tracer | None = None
    ) -> None:
        self._engine = engine
        self._hooks = hooks
        self._tracer = tracer
        self._events: list[DomainEvent] = []
        self._begin()

    def _begin(self) -> None:
        self._session = SqlSession(self._engine)
        self._tracker = Tracker()
        self.users = SqlUserRepository(self._session, self._tracker)
        self.tokens = SqlTokenRepository(self._session, self._tracker)
        self.videos = SqlVideoRepository(self._session, self._tracker)
        self.files = SqlFileRepository(self._session, self._tracker)
        self.shares = SqlShareRepository(self._session, self._tracker)
        self.captions = SqlCaptionRepository(self._session, self._tracker)
        self.categories = SqlCategoryRepository(self._session, self._tracker)
        self.uploads = SqlUploadRepository(self._session, self._tracker)
        self.audit = SqlAuditLog(self._session)
        self.outbox = SqlOutbox(self._session, self._tracer)
        self.receipts = SqlEventReceipts(self._session)
        self.search = SqlSearchIndex(self._session, self.videos)
        self.search_log = SqlSearchLog(self._session)

    def __enter__(self) -> Self:
        # A unit of work fresh from __init__ already has its session; build a new one
        # only when this object is reused for another block.
        if not self._session.is_idle() or self._tracker.handed_out:
            self._session.close()
            self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._discard_events()
        self._session.close()

    def commit(self) -> None:
        # The events of the aggregates this transaction writes (those only read are
        # dropped); the hooks write them to the outbox in the same transaction.
        events = [
            event
            for table, obj in self._tracker.handed_out
            for event in obj.pull_events()
            if (table, obj.identity) in self._tracker.written
        ]
        try:
            if events and self._hooks is not None:
                self._hooks.before_commit(events, self.outbox)
            self._session.commit()
        except BaseException:
            self._session.close()
            self._begin()
            raise
        self._events.extend(events)
        self._begin()
        if events and self._hooks is not None:
            self._hooks.after_commit(events)

    def rollback(self) -> None:
        self._session.rollback()
        self._discard_events()
        self._begin()

    def _discard_events(self) -> None:
        for _, obj in self._tracker.handed_out:
            obj.pull_events()

    def collect_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events


class SqlUnitOfWorkFactory:
    def __init__(
        self, engine: Engine, hooks: CommitHooks | None = None, tracer: Tracer | None = None
    ) -> None:
        self.engine = engine
        self.hooks = hooks
        self.tracer = tracer
        """Where the outbox takes the trace context of what it records."""

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.hooks, self.tracer)
