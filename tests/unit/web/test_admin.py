"""Moderators' and administrators' pages: each refuses whoever lacks the permission,
and does what the API would, audited the same way."""

from __future__ import annotations

import re

import pytest

from tests.unit.web.conftest import Browser, MakeUser, Videos
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.ports.persistence import AuditFilter
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.ids import VideoId
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform

ADMIN_PAGES = ("/admin/users", "/admin/categories")
MODERATOR_PAGES = ("/admin/queue", "/admin/audit")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CREATOR])
def test_the_pages_refuse_members_without_the_permission(
    browser: Browser, make_user: MakeUser, role: Role
) -> None:
    browser.log_in(make_user(role).email.value)
    for path in (*ADMIN_PAGES, *MODERATOR_PAGES):
        assert browser.get(path).status_code == 403, path
    assert "/admin/" not in browser.get("/").text


def test_a_moderator_has_the_queue_and_the_audit_but_not_users(
    browser: Browser, make_user: MakeUser
) -> None:
    browser.log_in(make_user(Role.MODERATOR).email.value)
    for path in MODERATOR_PAGES:
        assert browser.get(path).status_code == 200, path
    for path in ADMIN_PAGES:
        assert browser.get(path).status_code == 403, path


def test_an_admin_changes_roles_disables_and_enables(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    admin, member = make_user(Role.ADMIN), make_user(Role.CREATOR)
    browser.log_in(admin.email.value)
    found = browser.get("/admin/users", params={"q": member.display_name.upper()})
    assert member.display_name in found.text and member.email.value in found.text
    assert admin.email.value not in found.text
    too_long = browser.get("/admin/users", params={"q": "x" * 300})
    assert too_long.status_code == 422 and "1 to 254 characters" in too_long.text
    assert (
        browser.post(f"/admin/users/{member.id}/roles", {"roles": "moderator"}).status_code == 303
    )
    assert platform.users.get(Caller(admin.id), member.id).roles == {Role.MODERATOR}
    browser.get("/admin/users")
    assert browser.post(f"/admin/users/{member.id}/disable").status_code == 303
    assert platform.users.get(Caller(admin.id), member.id).status.value == "disabled"
    assert browser.post(f"/admin/users/{member.id}/enable").status_code == 303
    assert platform.users.get(Caller(admin.id), member.id).status.value == "active"


def test_the_last_administrator_keeps_the_role_and_the_page_says_why(
    browser: Browser, make_user: MakeUser
) -> None:
    admin = make_user(Role.ADMIN)
    browser.log_in(admin.email.value)
    browser.get("/admin/users")
    result = browser.post(f"/admin/users/{admin.id}/roles", {"roles": "creator"})
    assert result.status_code == 303
    page = browser.get(result.headers["location"])
    assert 'role="alert"' in page.text and "admin" in page.text


def test_categories_are_created_renamed_and_deleted(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    browser.log_in(make_user(Role.ADMIN).email.value)
    browser.get("/admin/categories")
    assert browser.post("/admin/categories", {"name": "Nature"}).status_code == 303
    (nature,) = platform.categories.list()
    page = browser.get("/admin/categories")
    assert (
        browser.post(f"/admin/categories/{nature.id}/rename", {"name": "Wildlife"}).status_code
        == 303
    )
    assert [c.name for c in platform.categories.list()] == ["Wildlife"]
    empty = browser.post("/admin/categories", {"name": ""})
    assert empty.status_code == 422 and 'id="e-name"' in empty.text
    assert "Wildlife" in page.text or "Nature" in page.text
    browser.get("/admin/categories")
    assert browser.post(f"/admin/categories/{nature.id}/delete").status_code == 303
    assert platform.categories.list() == []


def test_a_failed_video_is_retried_from_the_queue(
    browser: Browser,
    make_user: MakeUser,
    videos: Videos,
    platform: Platform,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    owner = make_user()
    videos.make(owner, "Still waiting", ready=False)
    failed = videos.make(owner, "Broken clip", ready=False)
    with uow_factory() as uow:
        video = uow.videos.get(VideoId(failed))
        video.start_processing(clock.now())
        video.mark_failed("the source has no video stream", clock.now())
        uow.videos.save(video)
        uow.commit()
    browser.log_in(make_user(Role.MODERATOR).email.value)
    queue = browser.get("/admin/queue")
    assert "Still waiting" in queue.text and "the source has no video stream" in queue.text
    retries = re.findall(r'action="/admin/queue/([^"/]+)/retry"', queue.text)
    assert retries == [failed]
    assert browser.post(f"/admin/queue/{failed}/retry").status_code == 303
    again = platform.videos.get(Caller(owner.id), VideoId(failed))
    assert again.status.value in ("uploaded", "processing")


def test_the_audit_page_filters_and_offers_the_same_selection_for_export(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    moderator = make_user(Role.MODERATOR)
    browser.log_in(moderator.email.value)
    page = browser.get(
        "/admin/audit",
        params={"action": "user.login", "since": "2025-12-31", "until": "2026-01-02"},
    )
    assert page.status_code == 200
    assert "user.login" in page.text
    expected = platform.audit.search(
        Caller(moderator.id), AuditFilter(action=AuditAction.USER_LOGIN)
    ).items
    assert len(re.findall(r"<td>user\.login</td>", page.text)) == len(expected) > 0
    export = re.search(r'href="(/api/v1/audit/export\?[^"]+format=csv)"', page.text)
    assert export is not None
    href = export.group(1).replace("&amp;", "&")
    assert "action=user.login" in href and "since=2025-12-31T00%3A00%3A00%2B00%3A00" in href
    csv = browser.client.simulate_get(href, cookies=browser.cookies)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.count("user.login") == len(expected)
    bad = browser.get("/admin/audit", params={"since": "yesterday"})
    assert bad.status_code == 422
