"""GET /me/activity's use case: any signed-in user reads the audit events they acted
in, newest first, a page at a time, and nobody else's."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

import pytest

from tests.unit.conftest import PASSWORD, MakeUser
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.application.context import Caller
from videoplatform.application.pagination import encode_cursor
from videoplatform.application.users import Login
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.errors import AuthenticationFailed, ValidationError
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform

MINUTE = timedelta(minutes=1)


def every_page(platform: Platform, caller: Caller, limit: int) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    cursor = None
    while True:
        page = platform.audit.activity(caller, cursor, limit)
        assert len(page.items) <= limit
        events += page.items
        if page.next_cursor is None:
            return events
        cursor = page.next_cursor


def test_a_user_reads_their_own_events_newest_first_and_nobody_elses(
    platform: Platform, make_user: MakeUser, clock: ManualClock
) -> None:
    dana = make_user(Role.CREATOR, email="dana@example.com")
    make_user(Role.CREATOR, email="eli@example.com")
    for email, attempt in (
        ("dana@example.com", "a wrong guess!!"),
        ("dana@example.com", PASSWORD),
        ("eli@example.com", PASSWORD),
        ("dana@example.com", PASSWORD),
        ("eli@example.com", "a wrong guess!!"),
    ):
        clock.advance(MINUTE)
        with suppress(AuthenticationFailed):
            platform.users.login(Login(email, attempt), Caller(ip="192.0.2.1"))

    events = every_page(platform, dana, 2)

    assert all(e.actor_id == dana.user_id for e in events)
    logins = [
        (e.result, e.metadata.get("reason")) for e in events if e.action is AuditAction.USER_LOGIN
    ]
    assert logins == [
        (AuditResult.SUCCESS, None),
        (AuditResult.SUCCESS, None),
        (AuditResult.FAILURE, "wrong_password"),  # an attempt on their account: theirs to see
    ]
    assert [e.occurred_at for e in events] == sorted((e.occurred_at for e in events), reverse=True)
    assert len({e.id for e in events}) == len(events)


def test_anonymous_callers_must_sign_in(platform: Platform) -> None:
    with pytest.raises(AuthenticationFailed):
        platform.audit.activity(Caller())


def test_the_trails_cursors_and_malformed_ones_are_refused(
    platform: Platform, make_user: MakeUser
) -> None:
    dana = make_user(Role.CREATOR)
    for cursor in (
        encode_cursor("audit", ["2026-01-01T00:00:00+00:00", "x"]),
        "@@@",
        encode_cursor("activity", ["not a time", "x"]),
    ):
        with pytest.raises(ValidationError) as refused:
            platform.audit.activity(dana, cursor)
        assert "cursor" in refused.value.fields
