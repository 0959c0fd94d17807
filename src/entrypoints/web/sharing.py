"""Share links: the page a recipient opens, and the owner's pages to make, list and
revoke links.

A link is ``/s#<token>``: the token sits in the fragment, which browsers never send to
any server (no access log keeps it), so the landing page's script reads it and hands
it to the API, asking for a password when the link has one.
"""

from __future__ import annotations

from datetime import timedelta

import falcon

from videoplatform.application.ports.system import Clock
from videoplatform.application.shares import CreateShare
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import FileId, ShareId, VideoId
from videoplatform.domain.shares import MAX_SHARE_TOKEN
from videoplatform.entrypoints.http.resources.common import send_attachment
from videoplatform.entrypoints.http.resources.shares import share_url
from videoplatform.entrypoints.web.context import Site, field_errors, see_other
from videoplatform.entrypoints.web.forms import Form
from videoplatform.entrypoints.web.me import LIFETIME_FIELD
from videoplatform.entrypoints.web.rendering import link
from videoplatform.entrypoints.web.session import Visitor

MY_SHARES_PAGE = 50


class ShareLanding:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._site.visitor(req, resp)
        self._site.pages.render(req, resp, "share.html", visitor)
        # The page runs with the token in its address: nothing it links to learns it.
        resp.set_header("Referrer-Policy", "no-referrer")


class ShareDownload:
    """``POST /s/download``: the shared file's bytes, as an attachment (one use)."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, form = self._site.posted(req, resp, member=False)
        token = form.text("token")
        if not 1 <= len(token) <= MAX_SHARE_TOKEN:
            raise ValidationError.field("token", "this link is incomplete")
        stored, chunks = self._site.platform.shares.open_shared_file(
            token, form.text("password") or None, visitor.caller
        )
        resp.cache_control = ["no-store"]
        send_attachment(resp, stored.name, stored.content_type, stored.size, chunks)


def _positive(form: Form, name: str, problems: dict[str, str]) -> int | None:
    raw = form.text(name).strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        problems[name] = "a whole number"
        return None
    if value < 1:
        problems[name] = "at least 1"
    return value


class NewShare:
    """``/my/shares/new?video=ID`` (or ``?file=ID``): the form, then the link, shown
    once."""

    def __init__(self, site: Site, public_url: str) -> None:
        self._site = site
        self._public_url = public_url

    def _target(self, video: str | None, file: str | None) -> CreateShare:
        return CreateShare(
            video_id=VideoId(video) if video else None, file_id=FileId(file) if file else None
        )

    def _name(self, visitor: Visitor, target: CreateShare) -> str:
        caller = visitor.caller
        if target.video_id is not None:
            return self._site.platform.videos.get(caller, target.video_id).title
        if target.file_id is not None:
            return self._site.platform.files.get(caller, target.file_id).name
        raise ValidationError("choose a video or a file to share")

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = site.member(req, resp)
        video, file = req.get_param("video"), req.get_param("file")
        name = self._name(visitor, self._target(video, file))
        site.show(
            req, resp, "share_new.html", visitor, name=name, video=video or "", file=file or ""
        )

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, form = site.posted(req, resp)
        video, file = form.text("video") or None, form.text("file") or None
        target = self._target(video, file)
        name = self._name(visitor, target)
        problems: dict[str, str] = {}
        days = _positive(form, "expires_in_days", problems)
        uses = _positive(form, "max_uses", problems)
        values = {
            "expires_in_days": form.text("expires_in_days"),
            "max_uses": form.text("max_uses"),
        }
        try:
            if problems:
                raise ValidationError("some fields are not right", fields=problems)
            created = site.platform.shares.create(
                visitor.caller,
                CreateShare(
                    video_id=target.video_id,
                    file_id=target.file_id,
                    expires_in=timedelta(days=days) if days else None,
                    password=form.text("password") or None,
                    max_uses=uses,
                ),
            )
        except ValidationError as refused:
            site.show(
                req,
                resp,
                "share_new.html",
                visitor,
                status=422,
                name=name,
                video=video or "",
                file=file or "",
                errors=field_errors(refused, LIFETIME_FIELD),
                values=values,
            )
            return
        origin = self._public_url or req.prefix
        site.pages.render(
            req,
            resp,
            "share_created.html",
            visitor,
            status=201,
            name=name,
            share=created.share,
            url=share_url(origin, created.token),
        )
        resp.cache_control = ["no-store"]  # the link is shown this once


class MyShares:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = site.member(req, resp)
        page = site.platform.shares.list_mine(
            visitor.caller, req.get_param("cursor"), MY_SHARES_PAGE
        )
        clock: Clock = site.platform.container.resolve(Clock)
        site.pages.render(
            req,
            resp,
            "my_shares.html",
            visitor,
            shares=page.items,
            now=clock.now(),
            next_link=link(req.path, cursor=page.next_cursor) if page.next_cursor else None,
            revoked=req.get_param("revoked") is not None,
        )


class RevokeShare:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_post(self, req: falcon.Request, resp: falcon.Response, share_id: str) -> None:
        visitor, _ = self._site.posted(req, resp)
        self._site.platform.shares.revoke(visitor.caller, ShareId(share_id))
        see_other(resp, "/my/shares?revoked")
