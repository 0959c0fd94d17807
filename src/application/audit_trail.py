"""Reading and exporting the audit trail (moderators and administrators), and each
user's own activity in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import attrs

from videoplatform.application.audit_recording import Auditor
from videoplatform.application.context import Caller, require_permission, require_user
from videoplatform.application.pagination import Page, clamp_limit, time_cursor, time_keyset
from videoplatform.application.ports.persistence import AuditFilter as AuditFilter
from videoplatform.application.ports.persistence import AuditQuery, UnitOfWorkFactory
from videoplatform.domain.audit import (
    AuditAction,
    AuditEvent,
    names_an_account_attempt,
    without_account_detail,
)
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.users import Permission, User

ACTIVITY = "activity"
"""The kind of a user's own activity's cursors."""


class AuditService:
    export_page_size = 500
    """Events read per unit of work while exporting."""

    def __init__(self, uow_factory: UnitOfWorkFactory, auditor: Auditor) -> None:
        self._uow = uow_factory
        self._audit = auditor

    def ensure_reader(self, caller: Caller) -> None:
        """Refuse (and audit) a caller who may not read the audit trail: for front ends
        that must settle who may ask before they read what is asked."""
        with (
            self._audit.refusals(caller, AuditAction.AUDIT_SEARCH, "audit", None),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.AUDIT_READ)

    def search(
        self,
        caller: Caller,
        filters: AuditFilter | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[AuditEvent]:
        """Matching events, newest first; ``since`` inclusive, ``until`` exclusive.
        Refused (and audited) unless the caller may read the audit trail. Failed logins
        are shown without what says which addresses have accounts unless the caller
        may see that (:func:`shown_to`)."""
        filters = filters or AuditFilter()
        if filters.since and filters.until and filters.since >= filters.until:
            raise ValidationError.field("until", "must be later than since")
        size = clamp_limit(limit)
        after = time_keyset("audit", cursor) if cursor else None
        with (
            self._audit.refusals(caller, AuditAction.AUDIT_SEARCH, "audit", None),
            self._uow() as uow,
        ):
            reader = require_permission(uow, caller, Permission.AUDIT_READ)
            rows = uow.audit.search(_query(filters, after), size + 1)
        page = _page("audit", rows, size)
        return Page(tuple(shown_to(reader, filters, list(page.items))), page.next_cursor)

    def activity(
        self, caller: Caller, cursor: str | None = None, limit: int | None = None
    ) -> Page[AuditEvent]:
        """The events the signed-in caller acted in, newest first, a page at a time
        (any user: their own sign-ins, failed ones on their account included, uploads,
        shares, changes). Its cursors are its own: one of the trail's search is
        refused."""
        size = clamp_limit(limit)
        after = time_keyset(ACTIVITY, cursor) if cursor else None
        with self._uow() as uow:
            user = require_user(uow, caller)
            rows = uow.audit.search(AuditQuery(actor_id=user.id, after=after), size + 1)
        return _page(ACTIVITY, rows, size)

    def export(self, caller: Caller, filters: AuditFilter | None = None) -> Iterator[AuditEvent]:
        """Every matching event, newest first, read lazily page by page.

        The permission is checked (refusals audited) and the export itself is audited
        (``audit.search``, metadata ``export=true``) here, before anything is returned;
        the returned iterator then reads one page per unit of work as it is consumed, so
        the range is never held in memory. The export covers the trail as it stood when
        it started: it begins just below its own audit event, so events written while it
        runs (its own included) are left out rather than chased.
        """
        filters = filters or AuditFilter()
        if filters.since and filters.until and filters.since >= filters.until:
            raise ValidationError.field("until", "must be later than since")
        with (
            self._audit.refusals(caller, AuditAction.AUDIT_SEARCH, "audit", None),
            self._uow() as uow,
        ):
            reader = require_permission(uow, caller, Permission.AUDIT_READ)
            marker = self._audit.record(
                uow, caller, AuditAction.AUDIT_SEARCH, "audit", None, metadata={"export": "true"}
            )
            uow.commit()
        return self._pages(reader, filters, (marker.occurred_at, marker.id))

    def _pages(
        self, reader: User, filters: AuditFilter, after: tuple[datetime, str] | None
    ) -> Iterator[AuditEvent]:
        size = self.export_page_size
        while True:
            with self._uow() as uow:
                rows = uow.audit.search(_query(filters, after), size)
            yield from shown_to(reader, filters, rows)
            if len(rows) < size:
                return
            after = (rows[-1].occurred_at, rows[-1].id)


def shown_to(reader: User, filters: AuditFilter, events: list[AuditEvent]) -> list[AuditEvent]:
    """``events`` as ``reader`` may see them: whole for those who may learn which
    addresses have accounts (AUDIT_ACCOUNTS, administrators); for the others, failed
    logins without the account they name and with one reason
    (:func:`domain.audit.without_account_detail`), and none at all when the filters
    name an actor or a resource (matched by what is withheld, they would tell it)."""
    if reader.can(Permission.AUDIT_ACCOUNTS):
        return events
    if filters.actor_id is not None or filters.resource_id is not None:
        return [e for e in events if not names_an_account_attempt(e)]
    return [without_account_detail(e) for e in events]


def _page(kind: str, rows: list[AuditEvent], size: int) -> Page[AuditEvent]:
    """The first ``size`` of ``rows`` (read one over, to know whether more follow) and
    the cursor of ``kind`` after them."""
    nxt = (
        time_cursor(kind, rows[size - 1].occurred_at, rows[size - 1].id)
        if len(rows) > size
        else None
    )
    return Page(tuple(rows[:size]), nxt)


def _query(filters: AuditFilter, after: tuple[datetime, str] | None) -> AuditQuery:
    return AuditQuery(**attrs.asdict(filters, recurse=False), after=after)
