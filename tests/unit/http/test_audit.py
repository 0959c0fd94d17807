"""The audit trail over HTTP: filtered search a page at a time, and streamed exports as
JSON Lines or CSV."""

from __future__ import annotations

import csv
import inspect
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import falcon
import falcon.testing
import jsonschema
import pytest

from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.ids import AuditEventId, UserId
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.convert import dump
from videoplatform.entrypoints.http.resources.audit import CSV_COLUMNS, AuditExport
from videoplatform.entrypoints.http.views import AuditEventView

AUDIT = "/api/v1/audit"
EXPORT = "/api/v1/audit/export"
WIDGET = {"resource_type": "widget"}


def caller(who: Account) -> Caller:
    return Caller(UserId(who.user_id))


def widget_events(
    uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock, count: int
) -> list[AuditEvent]:
    """``count`` events on ``widget`` resources, a minute apart (newest first), with
    values that need quoting in CSV: commas, quotes, newlines, non-ASCII, a formula."""
    events = [
        AuditEvent(
            id=AuditEventId(f"evt{n:05d}"),
            occurred_at=clock.now() - timedelta(minutes=n + 1),
            actor_id=UserId(f"actor{n % 3}"),
            action=AuditAction.FILE_READ if n % 2 else AuditAction.FILE_MOVE,
            resource_type="widget",
            resource_id=f"w{n}",
            result=AuditResult.SUCCESS if n % 4 else AuditResult.DENIED,
            ip="203.0.113.9" if n % 5 else None,
            user_agent='curl/8, "quoted"\nsecond line é' if n % 2 else None,
            metadata={"note": f'a,b "c"\n{n}', "n": str(n)} if n % 3 else {},
        )
        for n in range(count)
    ]
    with uow_factory() as uow:
        for event in events:
            uow.audit.append(event)
        uow.commit()
    return events


def search_all(
    client: falcon.testing.TestClient, who: Account, params: dict[str, str]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        result = client.simulate_get(AUDIT, params=query, headers=who.headers)
        assert result.status_code == 200, result.text
        items += result.json["items"]
        cursor = result.json["next_cursor"]
        if cursor is None:
            return items


# -- search ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.MODERATOR, Role.ADMIN])
def test_moderators_and_admins_search_a_page_at_a_time(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
    role: Role,
) -> None:
    reader = account(role)
    events = widget_events(uow_factory, clock, 7)

    items = search_all(client, reader, {**WIDGET, "limit": "3"})

    assert items == [dump(AuditEventView.of(e)) for e in events]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "file.read"}, lambda e: e.action is AuditAction.FILE_READ),
        ({"result": "denied"}, lambda e: e.result is AuditResult.DENIED),
        ({"actor_id": "actor1"}, lambda e: e.actor_id == "actor1"),
        ({"resource_id": "w4"}, lambda e: e.resource_id == "w4"),
        (
            {"since": "2025-12-31T23:55:00Z", "until": "2025-12-31T23:58:00+00:00"},
            lambda e: e.resource_id in ("w2", "w3", "w4"),
        ),
        # An unencoded "+" in a query string arrives as a space; it is read as meant.
        ({"since": "2026-01-01T00:57:00 01:00"}, lambda e: e.resource_id in ("w0", "w1", "w2")),
    ],
)
def test_search_filters(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
    params: dict[str, str],
    expected: Any,
) -> None:
    reader = account(Role.MODERATOR)
    events = widget_events(uow_factory, clock, 8)

    items = search_all(client, reader, {**WIDGET, **params})

    wanted = [e.id for e in events if expected(e)]
    assert wanted
    assert [i["id"] for i in items] == wanted


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"action": "user.explode"}, "action"),
        ({"result": "maybe"}, "result"),
        ({"limit": "1000"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"resource_type": "x" * 201}, "resource_type"),
    ],
)
def test_bad_filters_are_unprocessable(
    client: falcon.testing.TestClient, account: MakeAccount, params: dict[str, str], field: str
) -> None:
    reader = account(Role.ADMIN)
    for path in (AUDIT, EXPORT):
        if path == EXPORT and field in ("limit", "cursor"):
            continue
        result = client.simulate_get(path, params=params, headers=reader.headers)
        assert result.status_code == 422, (path, result.text)
        assert [e["field"] for e in result.json["errors"]] == [field]


@pytest.mark.parametrize("path", [AUDIT, EXPORT])
@pytest.mark.parametrize("role", [Role.VIEWER, Role.CREATOR])
def test_others_are_forbidden_and_the_refusal_is_audited(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    platform: Platform,
    role: Role,
    path: str,
) -> None:
    admin, member = account(Role.ADMIN), account(role)

    result = client.simulate_get(path, headers=member.headers)

    assert result.status_code == 403
    assert problem_code(result) == "permission_denied"
    refusals = platform.audit.search(
        caller(admin),
        AuditFilter(actor_id=UserId(member.user_id), action=AuditAction.AUDIT_SEARCH),
    ).items
    assert [(e.result, e.metadata["reason"]) for e in refusals] == [
        (AuditResult.DENIED, "permission_denied")
    ]


@pytest.mark.parametrize("path", [AUDIT, EXPORT])
def test_anonymous_callers_must_authenticate(client: falcon.testing.TestClient, path: str) -> None:
    result = client.simulate_get(path)

    assert result.status_code == 401
    assert problem_code(result) == "authentication_failed"


# -- export ------------------------------------------------------------------------------


def test_jsonl_export_has_one_event_per_line_and_parses_back(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    reader = account(Role.MODERATOR)
    events = widget_events(uow_factory, clock, 25)

    result = client.simulate_get(
        EXPORT, params={"format": "jsonl", **WIDGET}, headers=reader.headers
    )

    assert result.status_code == 200, result.text
    assert result.headers["content-type"] == "application/jsonl"
    # Named after the platform clock's now.
    assert (
        result.headers["content-disposition"]
        == 'attachment; filename="audit-20260101T000000Z.jsonl"'
    )
    assert "content-length" not in result.headers
    lines = result.text.split("\n")
    assert lines[-1] == ""
    assert len(lines[:-1]) == 25
    assert [json.loads(line) for line in lines[:-1]] == [dump(AuditEventView.of(e)) for e in events]


def test_jsonl_is_the_default_format(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    widget_events(uow_factory, clock, 3)

    result = client.simulate_get(EXPORT, params=WIDGET, headers=account(Role.ADMIN).headers)

    assert result.headers["content-type"] == "application/jsonl"
    assert len(result.text.splitlines()) == 3


def test_csv_export_has_a_header_and_one_row_per_event(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    reader = account(Role.ADMIN)
    events = widget_events(uow_factory, clock, 250)

    result = client.simulate_get(EXPORT, params={"format": "csv", **WIDGET}, headers=reader.headers)

    assert result.status_code == 200, result.text
    assert result.headers["content-type"].startswith("text/csv")
    assert result.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(result.content.decode("utf-8"), newline="")))
    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 1 + 250
    for row, event in zip(rows[1:], events, strict=True):
        record = dict(zip(CSV_COLUMNS, row, strict=True))
        view = dump(AuditEventView.of(event))
        for name in CSV_COLUMNS:
            if name == "metadata":
                assert (json.loads(record[name]) if record[name] else {}) == view[name]
            else:
                assert record[name] == (view[name] or ""), name


def test_csv_cells_that_look_like_formulas_are_defused(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    with uow_factory() as uow:
        uow.audit.append(
            AuditEvent(
                id=AuditEventId("evt-formula"),
                occurred_at=clock.now() - timedelta(minutes=1),
                actor_id=None,
                action=AuditAction.USER_LOGIN,
                resource_type="widget",
                resource_id=None,
                result=AuditResult.FAILURE,
                user_agent='=HYPERLINK("http://evil.example","click")',
            )
        )
        uow.commit()

    result = client.simulate_get(
        EXPORT, params={"format": "csv", **WIDGET}, headers=account(Role.ADMIN).headers
    )

    row = list(csv.reader(io.StringIO(result.text, newline="")))[1]
    assert row[CSV_COLUMNS.index("user_agent")] == '\'=HYPERLINK("http://evil.example","click")'


def test_export_respects_filters(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    events = widget_events(uow_factory, clock, 12)

    result = client.simulate_get(
        EXPORT,
        params={"action": "file.read", "result": "success", **WIDGET},
        headers=account(Role.ADMIN).headers,
    )

    wanted = [
        e.id
        for e in events
        if e.action is AuditAction.FILE_READ and e.result is AuditResult.SUCCESS
    ]
    assert [json.loads(line)["id"] for line in result.text.splitlines()] == wanted


def test_the_export_is_itself_audited(
    client: falcon.testing.TestClient, account: MakeAccount, platform: Platform
) -> None:
    reader = account(Role.MODERATOR)

    result = client.simulate_get(EXPORT, params={"format": "csv"}, headers=reader.headers)

    assert result.status_code == 200
    found = platform.audit.search(
        caller(reader),
        AuditFilter(actor_id=UserId(reader.user_id), action=AuditAction.AUDIT_SEARCH),
    ).items
    # The export (not the search made just now: that one is recorded only when refused).
    assert [(e.result, dict(e.metadata)) for e in found] == [
        (AuditResult.SUCCESS, {"export": "true"})
    ]


def test_an_unknown_format_is_unprocessable(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    result = client.simulate_get(
        EXPORT, params={"format": "xlsx"}, headers=account(Role.ADMIN).headers
    )

    assert result.status_code == 422
    assert [e["field"] for e in result.json["errors"]] == ["format"]


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_the_export_streams_from_a_generator(
    platform: Platform,
    account: MakeAccount,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
    kind: str,
) -> None:
    reader = account(Role.ADMIN)
    widget_events(uow_factory, clock, 5)
    req = falcon.testing.create_req(path=EXPORT, query_string=f"format={kind}&resource_type=widget")
    req.context.caller = caller(reader)
    resp = falcon.Response()

    AuditExport(platform.audit, clock).on_get(req, resp)

    stream = resp.stream
    assert inspect.isgenerator(stream)
    assert resp.text is None and resp.data is None
    assert resp.content_length is None
    text = b"".join(cast(Iterator[bytes], stream)).decode()
    if kind == "csv":
        assert len(list(csv.reader(io.StringIO(text, newline="")))) == 1 + 5
    else:
        assert len(text.splitlines()) == 5


def test_every_reply_matches_the_published_document(
    client: falcon.testing.TestClient,
    account: MakeAccount,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    admin, member = account(Role.ADMIN), account()
    widget_events(uow_factory, clock, 6)
    calls: list[tuple[str, dict[str, Any], int]] = [
        (AUDIT, {"headers": admin.headers, "params": {"limit": "2"}}, 200),
        (AUDIT, {"headers": admin.headers, "params": {"since": "soon"}}, 422),
        (AUDIT, {"headers": member.headers}, 403),
        (AUDIT, {}, 401),
        (EXPORT, {"headers": member.headers}, 403),
        (EXPORT, {"headers": admin.headers, "params": {"format": "pdf"}}, 422),
    ]
    for path, kwargs, expected in calls:
        result = client.simulate_get(path, **kwargs)
        assert result.status_code == expected, (path, result.text)
        media = result.headers.get("content-type", "").split(";")[0]
        docs.check("GET", path, result.status_code, result.json, media)
    exported = client.simulate_get(EXPORT, params=WIDGET, headers=admin.headers)
    docs.check("GET", EXPORT, 200, exported.text, "application/jsonl")
    line_schema = {
        "$ref": "#/components/schemas/AuditEventView",
        "components": docs.document["components"],
    }
    lines = exported.text.splitlines()
    assert lines
    for line in lines:  # each line, as the reply's description says
        jsonschema.Draft202012Validator(line_schema).validate(json.loads(line))


# -- failed logins: which addresses have accounts, for administrators only ---------------


@pytest.mark.parametrize("role", [Role.MODERATOR, Role.ADMIN])
def test_failed_logins_name_the_account_to_administrators_only(
    client: falcon.testing.TestClient, account: MakeAccount, role: Role
) -> None:
    member = account(Role.CREATOR, email="member@example.com")
    for email in ("member@example.com", "nobody@example.com"):
        body = {"email": email, "password": "a wrong guess!!"}
        assert client.simulate_post("/api/v1/auth/session", json=body).status_code == 401
    reader = account(role)
    failed = {"action": "user.login", "result": "failure"}
    searched = search_all(client, reader, failed)
    exported = client.simulate_get(
        EXPORT, params={**failed, "format": "csv"}, headers=reader.headers
    )
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8"), newline="")))

    def seen(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (e["metadata"]["email"], e["metadata"]["reason"], e["actor_id"], e["resource_id"])
            for e in events
        ]

    if role is Role.ADMIN:
        expected = [
            ("nobody@example.com", "unknown_email", None, None),
            ("member@example.com", "wrong_password", member.user_id, member.user_id),
        ]
    else:
        expected = [
            ("nobody@example.com", "invalid_credentials", None, None),
            ("member@example.com", "invalid_credentials", None, None),
        ]
    assert seen(searched) == expected
    as_csv = [
        {**row, "metadata": json.loads(row["metadata"])}
        | {k: row[k] or None for k in ("actor_id", "resource_id")}
        for row in rows
    ]
    assert seen(as_csv) == expected


# -- your own activity ---------------------------------------------------------------------

ACTIVITY = "/api/v1/me/activity"


def test_your_activity_is_yours_a_page_at_a_time_and_never_cached(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    member = account(Role.CREATOR)
    other = account(Role.CREATOR)
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        result = client.simulate_get(ACTIVITY, params=params, headers=member.headers)
        assert result.status_code == 200, result.text
        assert result.headers["cache-control"] == "private, no-store"
        items += result.json["items"]
        cursor = result.json["next_cursor"]
        if cursor is None:
            break
    assert items  # the sign-in over HTTP that made the account's session, at least
    assert {item["actor_id"] for item in items} == {member.user_id}
    assert other.user_id not in {item["resource_id"] for item in items}


def test_your_activity_needs_a_sign_in_and_a_cursor_of_its_own(
    client: falcon.testing.TestClient, account: MakeAccount
) -> None:
    assert problem_code(client.simulate_get(ACTIVITY)) == "authentication_failed"
    member = account(Role.MODERATOR)
    trail = client.simulate_get(AUDIT, params={"limit": "1"}, headers=member.headers)
    foreign = trail.json["next_cursor"]
    assert foreign is not None
    refused = client.simulate_get(ACTIVITY, params={"cursor": foreign}, headers=member.headers)
    assert refused.status_code == 422
