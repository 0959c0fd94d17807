"""Moderators' and administrators' pages: the processing queue, users, categories and
the audit trail. Each use case decides (and audits) who may do what, as for the API;
the pages only leave out links a visitor could not use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import falcon

from videoplatform.application.context import Caller
from videoplatform.application.ports.persistence import AuditFilter, VideoSort
from videoplatform.application.video_commands import VideoFilter
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import Conflict, ValidationError
from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.users import Permission, Role
from videoplatform.domain.videos import VideoStatus
from videoplatform.entrypoints.web.context import Site, field_errors, see_other
from videoplatform.entrypoints.web.forms import Form
from videoplatform.entrypoints.web.rendering import link
from videoplatform.entrypoints.web.session import Visitor

QUEUE_PAGE = 50
USERS_PAGE = 50
AUDIT_PAGE = 50
ROLES = [r.value for r in Role]
EXPORT = "/api/v1/audit/export"


def holding(site: Site, req: falcon.Request, resp: falcon.Response, p: Permission) -> Visitor:
    return site.holding(req, resp, p, "this page is for moderators and administrators")


class Queue:
    """``/admin/queue``: videos being processed and those that failed, with Retry."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = holding(site, req, resp, Permission.VIDEO_MODERATE)
        videos = site.platform.videos

        def of(status: VideoStatus) -> Any:
            return videos.list(
                visitor.caller,
                VideoFilter(status=status, sort=VideoSort.NEWEST),
                limit=QUEUE_PAGE,
            ).items

        site.pages.render(
            req,
            resp,
            "admin_queue.html",
            visitor,
            processing=[*of(VideoStatus.UPLOADED), *of(VideoStatus.PROCESSING)],
            failed=of(VideoStatus.FAILED),
            retried=req.get_param("retried"),
        )


class Retry:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor, _ = self._site.posted(req, resp)
        self._site.platform.processing.retry(visitor.caller, VideoId(video_id))
        see_other(resp, link("/admin/queue", retried=video_id))


class Users:
    """``/admin/users``: accounts newest first, or the one with an address; roles,
    disable and enable."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = holding(site, req, resp, Permission.USER_MANAGE)
        users = site.platform.users
        wanted = (req.get_param("q") or "").strip()
        next_link = None
        if wanted:
            shown = users.search(visitor.caller, wanted, USERS_PAGE)
        else:
            page = users.list(visitor.caller, req.get_param("cursor"), USERS_PAGE)
            shown = list(page.items)
            next_link = link(req.path, cursor=page.next_cursor) if page.next_cursor else None
        site.pages.render(
            req,
            resp,
            "admin_users.html",
            visitor,
            users=shown,
            q=wanted,
            roles=ROLES,
            next_link=next_link,
            done=req.get_param("done"),
            problem=req.get_param("problem"),
        )


Action = Callable[[Caller, str, Form], object]


class Actions:
    """``POST <base>/{id}/{action}``: one of the named actions on the thing ``id``
    names, then back to ``base`` saying it was done, or what the use case refused (the
    last administrator cannot lose the role, a name is taken...)."""

    def __init__(self, site: Site, base: str, actions: dict[str, Action]) -> None:
        self._site = site
        self._base = base
        self._actions = actions

    def on_post(self, req: falcon.Request, resp: falcon.Response, key: str, action: str) -> None:
        act = self._actions.get(action)
        if act is None:
            raise falcon.HTTPNotFound()
        visitor, form = self._site.posted(req, resp)
        try:
            act(visitor.caller, key, form)
        except (ValidationError, Conflict) as refused:
            see_other(resp, link(self._base, problem=refused.message))
            return
        see_other(resp, link(self._base, done=action))


def user_actions(site: Site) -> Actions:
    users = site.platform.users
    return Actions(
        site,
        "/admin/users",
        {
            "roles": lambda c, key, form: users.change_roles(c, UserId(key), form.values("roles")),
            "disable": lambda c, key, _: users.disable(c, UserId(key)),
            "enable": lambda c, key, _: users.enable(c, UserId(key)),
            "two-factor-reset": lambda c, key, _: users.reset_two_factor(c, UserId(key)),
        },
    )


def category_actions(site: Site) -> Actions:
    categories = site.platform.categories
    return Actions(
        site,
        "/admin/categories",
        {
            "rename": lambda c, key, form: categories.rename(c, CategoryId(key), form.text("name")),
            "delete": lambda c, key, _: categories.delete(c, CategoryId(key)),
        },
    )


class Categories:
    """``/admin/categories``: create, rename and delete."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def _show(
        self, req: falcon.Request, resp: falcon.Response, visitor: Visitor, **extra: Any
    ) -> None:
        site = self._site
        site.show(
            req,
            resp,
            "admin_categories.html",
            visitor,
            categories=sorted(site.platform.categories.list(), key=lambda c: c.name.lower()),
            done=req.get_param("done"),
            problem=req.get_param("problem"),
            **extra,
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = holding(self._site, req, resp, Permission.CATEGORY_MANAGE)
        self._show(req, resp, visitor)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, form = self._site.posted(req, resp)
        name = form.text("name")
        try:
            self._site.platform.categories.create(visitor.caller, name)
        except (ValidationError, Conflict) as refused:
            errors = {"name": field_errors(refused).popitem()[1]}  # the form's one field
            self._show(req, resp, visitor, status=422, errors=errors, values={"name": name})
            return
        see_other(resp, link("/admin/categories", done="created"))


def _day(req: falcon.Request, name: str) -> date | None:
    raw = (req.get_param(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError.field(name, "a date such as 2026-12-01") from None


def _choice(req: falcon.Request, name: str, kinds: list[str]) -> str | None:
    raw = (req.get_param(name) or "").strip()
    if raw and raw not in kinds:
        raise ValidationError.field(name, "not one of the choices")
    return raw or None


class Audit:
    """``/admin/audit``: the trail with its filters (days in UTC), page by page, and
    the export of the same selection in CSV or JSON Lines (the API's export)."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = holding(site, req, resp, Permission.AUDIT_READ)
        actions = [a.value for a in AuditAction]
        results = [r.value for r in AuditResult]
        action = _choice(req, "action", actions)
        result = _choice(req, "result", results)
        since, until = _day(req, "since"), _day(req, "until")
        text = {
            n: (req.get_param(n) or "").strip()
            for n in ("actor_id", "resource_type", "resource_id")
        }
        filters = AuditFilter(
            actor_id=UserId(text["actor_id"]) if text["actor_id"] else None,
            action=AuditAction(action) if action else None,
            resource_type=text["resource_type"] or None,
            resource_id=text["resource_id"] or None,
            result=AuditResult(result) if result else None,
            since=datetime.combine(since, time(), UTC) if since else None,
            until=datetime.combine(until, time(), UTC) + timedelta(days=1) if until else None,
        )
        page = site.platform.audit.search(
            visitor.caller, filters, req.get_param("cursor"), AUDIT_PAGE
        )
        chosen = {
            **{k: v for k, v in text.items() if v},
            **({"action": action} if action else {}),
            **({"result": result} if result else {}),
        }
        api_range = {
            **({"since": filters.since.isoformat()} if filters.since else {}),
            **({"until": filters.until.isoformat()} if filters.until else {}),
        }
        shown = {
            **chosen,
            **({"since": str(since)} if since else {}),
            **({"until": str(until)} if until else {}),
        }
        site.pages.render(
            req,
            resp,
            "admin_audit.html",
            visitor,
            events=page.items,
            values=shown,
            actions=actions,
            results=results,
            next_link=f"{req.path}?{urlencode({**shown, 'cursor': page.next_cursor})}"
            if page.next_cursor
            else None,
            export_csv=f"{EXPORT}?{urlencode({**chosen, **api_range, 'format': 'csv'})}",
            export_jsonl=f"{EXPORT}?{urlencode({**chosen, **api_range, 'format': 'jsonl'})}",
        )
