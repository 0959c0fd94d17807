"""Searching the audit trail: who may, filters, time bounds, order, pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.application.conftest import Trail, only_event
from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.pagination import encode_cursor
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import AuthenticationFailed, PermissionDenied, ValidationError
from videoplatform.domain.ids import CategoryId
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform

CREATE = AuditAction.CATEGORY_CREATE


def created_categories(platform: Platform, admin: Caller, clock: ManualClock) -> list[str]:
    """Three category.create events, one hour apart; returns their resource ids in order."""
    made: list[str] = []
    for name in ("First", "Second", "Third"):
        made.append(platform.categories.create(admin, name).id)
        clock.advance(timedelta(hours=1))
    return made


def all_pages(
    platform: Platform, caller: Caller, filters: AuditFilter, limit: int
) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    cursor: str | None = None
    while True:
        page = platform.audit.search(caller, filters, cursor, limit)
        assert len(page.items) <= limit
        events.extend(page.items)
        if page.next_cursor is None:
            return events
        cursor = page.next_cursor


def test_admin_and_moderator_may_search(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    moderator = make_user(Role.MODERATOR)
    category = platform.categories.create(admin, "Visible")

    for reader in (admin, moderator):
        page = platform.audit.search(reader, AuditFilter(action=CREATE))
        assert [e.resource_id for e in page.items] == [category.id]


@pytest.mark.parametrize("role", [Role.CREATOR, Role.VIEWER])
def test_others_are_refused_and_the_refusal_is_audited(
    platform: Platform, make_user: MakeUser, trail: Trail, role: Role
) -> None:
    nosy = make_user(role)

    with pytest.raises(PermissionDenied):
        platform.audit.search(nosy)

    event = only_event(trail, AuditAction.AUDIT_SEARCH, AuditResult.DENIED)
    assert event.actor_id == nosy.user_id
    assert event.resource_type == "audit"
    assert event.metadata["reason"] == "permission_denied"


def test_anonymous_search_is_refused_and_audited(platform: Platform, trail: Trail) -> None:
    with pytest.raises(AuthenticationFailed):
        platform.audit.search(Caller.anonymous(ip="192.0.2.44"))

    event = only_event(trail, AuditAction.AUDIT_SEARCH, AuditResult.DENIED)
    assert event.actor_id is None
    assert event.ip == "192.0.2.44"


def test_filters_by_actor_action_resource_and_result(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    creator = make_user()
    category = platform.categories.create(admin, "Music")
    with pytest.raises(PermissionDenied):
        platform.categories.rename(creator, category.id, "Noise")
    platform.categories.rename(admin, category.id, "Songs")

    def search(filters: AuditFilter) -> list[tuple[AuditAction, AuditResult, str | None]]:
        page = platform.audit.search(admin, filters)
        return [(e.action, e.result, e.actor_id) for e in page.items]

    assert search(AuditFilter(actor_id=creator.user_id, action=AuditAction.CATEGORY_RENAME)) == [
        (AuditAction.CATEGORY_RENAME, AuditResult.DENIED, creator.user_id)
    ]
    assert search(AuditFilter(resource_type="category", resource_id=category.id)) == [
        (AuditAction.CATEGORY_RENAME, AuditResult.SUCCESS, admin.user_id),
        (AuditAction.CATEGORY_RENAME, AuditResult.DENIED, creator.user_id),
        (AuditAction.CATEGORY_CREATE, AuditResult.SUCCESS, admin.user_id),
    ]
    assert search(AuditFilter(resource_id=category.id, result=AuditResult.DENIED)) == [
        (AuditAction.CATEGORY_RENAME, AuditResult.DENIED, creator.user_id)
    ]
    assert search(AuditFilter(resource_id=CategoryId("nothing"))) == []
    by_actor = platform.audit.search(admin, AuditFilter(actor_id=creator.user_id)).items
    assert {e.actor_id for e in by_actor} == {creator.user_id}
    assert AuditAction.USER_REGISTER in {e.action for e in by_actor}


def test_results_are_newest_first(platform: Platform, admin: Caller, clock: ManualClock) -> None:
    made = created_categories(platform, admin, clock)

    events = platform.audit.search(admin, AuditFilter(action=CREATE)).items

    assert [e.resource_id for e in events] == list(reversed(made))
    assert [e.occurred_at for e in events] == sorted((e.occurred_at for e in events), reverse=True)


def test_since_is_inclusive_and_until_exclusive(
    platform: Platform, admin: Caller, clock: ManualClock
) -> None:
    start = clock.now()
    first, second, third = created_categories(platform, admin, clock)
    t1, t2 = start + timedelta(hours=1), start + timedelta(hours=2)

    def ids(filters: AuditFilter) -> list[str | None]:
        return [e.resource_id for e in platform.audit.search(admin, filters).items]

    assert ids(AuditFilter(action=CREATE, since=t1)) == [third, second]
    assert ids(AuditFilter(action=CREATE, until=t2)) == [second, first]
    assert ids(AuditFilter(action=CREATE, since=t1, until=t2)) == [second]
    assert ids(AuditFilter(action=CREATE, since=t1, until=t1 + timedelta(microseconds=1))) == [
        second
    ]
    assert ids(AuditFilter(action=CREATE, since=t2 + timedelta(microseconds=1))) == []


@pytest.mark.parametrize("gap", [timedelta(0), timedelta(hours=-1)])
def test_since_must_be_before_until(
    platform: Platform, admin: Caller, clock: ManualClock, gap: timedelta
) -> None:
    now = clock.now()

    with pytest.raises(ValidationError) as refused:
        platform.audit.search(admin, AuditFilter(since=now, until=now + gap))
    assert "until" in refused.value.fields


def test_pages_cover_everything_once_even_while_events_arrive(
    platform: Platform, admin: Caller, clock: ManualClock
) -> None:
    made: list[str] = []
    for n in range(7):
        made.append(platform.categories.create(admin, f"Category {n}").id)
        if n % 2:
            clock.advance(timedelta(seconds=1))

    seen: list[str | None] = []
    cursor: str | None = None
    while True:
        page = platform.audit.search(admin, AuditFilter(action=CREATE), cursor, 3)
        seen.extend(e.resource_id for e in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        platform.categories.create(admin, f"Arrived after page {len(seen)}")

    assert seen == list(reversed(made))


def test_pagination_over_every_event_has_no_duplicates(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    for _ in range(4):
        make_user(Role.MODERATOR)

    everything = all_pages(platform, admin, AuditFilter(), 100)
    paged = all_pages(platform, admin, AuditFilter(), 2)

    assert [e.id for e in paged] == [e.id for e in everything]
    # root and admin registered, then four users each registered and promoted
    assert len({e.id for e in paged}) == len(paged) == 10


def test_malformed_and_foreign_cursors_are_refused(platform: Platform, admin: Caller) -> None:
    foreign = encode_cursor("shares", ["2026-01-01T00:00:00+00:00", "x"])

    for cursor in (foreign, "@@@", encode_cursor("audit", ["not a time", "x"])):
        with pytest.raises(ValidationError) as refused:
            platform.audit.search(admin, cursor=cursor)
        assert "cursor" in refused.value.fields


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_limit_is_bounded(platform: Platform, admin: Caller, limit: int) -> None:
    with pytest.raises(ValidationError) as refused:
        platform.audit.search(admin, limit=limit)
    assert "limit" in refused.value.fields
