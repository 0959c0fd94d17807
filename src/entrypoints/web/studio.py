"""The creator's pages: uploading (resumable, over the API's tus endpoint), their videos
with live processing progress, editing and deleting."""

from __future__ import annotations

from typing import Any

import falcon

from videoplatform.application.video_commands import UpdateVideo, VideoFilter
from videoplatform.domain.errors import AuthenticationFailed, PermissionDenied, ValidationError
from videoplatform.domain.ids import CategoryId, VideoId
from videoplatform.domain.users import Permission, User
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.web.account import see_other
from videoplatform.entrypoints.web.cards import cards
from videoplatform.entrypoints.web.forms import Form, read_form
from videoplatform.entrypoints.web.rendering import Pages, link
from videoplatform.entrypoints.web.session import CSRF_FIELD, Visitor, WebSessions

MY_PAGE = 24
VISIBILITIES = [v.value for v in Visibility]


def signed_in(visitor: Visitor) -> User:
    """The visitor's account; AuthenticationFailed (a page sends them to log in)."""
    if visitor.user is None:
        raise AuthenticationFailed("log in first")
    return visitor.user


class Studio:
    def __init__(self, platform: Platform, pages: Pages, sessions: WebSessions) -> None:
        self.platform = platform
        self.pages = pages
        self.sessions = sessions

    def creator(self, req: falcon.Request, resp: falcon.Response) -> tuple[Visitor, User]:
        visitor = self.sessions.visitor(req, resp)
        user = signed_in(visitor)
        if not user.can(Permission.VIDEO_UPLOAD):
            raise PermissionDenied("your account may not upload videos")
        return visitor, user

    def posted(self, req: falcon.Request, resp: falcon.Response) -> tuple[Visitor, Form]:
        visitor = self.sessions.visitor(req, resp)
        signed_in(visitor)
        form = read_form(req)
        self.sessions.check_csrf(req, visitor, form.text(CSRF_FIELD))
        return visitor, form


class UploadPage:
    def __init__(self, studio: Studio) -> None:
        self._studio = studio

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, _ = self._studio.creator(req, resp)
        self._studio.pages.render(req, resp, "upload.html", visitor, visibilities=VISIBILITIES)


class MyVideos:
    def __init__(self, studio: Studio) -> None:
        self._studio = studio

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        studio = self._studio
        visitor, user = studio.creator(req, resp)
        cursor = req.get_param("cursor")
        page = studio.platform.videos.list(
            visitor.caller, VideoFilter(owner_id=user.id), cursor=cursor, limit=MY_PAGE
        )
        studio.pages.render(
            req,
            resp,
            "my_videos.html",
            visitor,
            videos=page.items,
            cards={c.id: c for c in cards(studio.platform, visitor, page.items)},
            next_link=link(req.path, cursor=page.next_cursor) if page.next_cursor else None,
            deleted=req.get_param("deleted") is not None,
        )


class EditVideo:
    def __init__(self, studio: Studio) -> None:
        self._studio = studio

    def _show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        visitor: Visitor,
        video_id: str,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> None:
        studio = self._studio
        # Hidden and missing are the same 404; only who may manage it gets the form.
        video = studio.platform.videos.get(visitor.caller, VideoId(video_id))
        if visitor.user is None or not video.is_managed_by(visitor.user):
            raise PermissionDenied("only the owner or a moderator may change this video")
        shown: dict[str, Any] = {
            "title": video.title,
            "description": video.description,
            "tags": ", ".join(video.tags),
            "category_id": video.category_id or "",
            "visibility": video.visibility.value,
            "poster_at_seconds": ""
            if video.poster_at_seconds is None
            else f"{video.poster_at_seconds:g}",
            **(values or {}),
        }
        studio.pages.render(
            req,
            resp,
            "edit_video.html",
            visitor,
            status=status,
            video=video,
            values=shown,
            errors=errors or {},
            categories=sorted(studio.platform.categories.list(), key=lambda c: c.name.lower()),
            visibilities=VISIBILITIES,
            saved=req.get_param("saved") is not None,
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor = self._studio.sessions.visitor(req, resp)
        signed_in(visitor)
        self._show(req, resp, visitor, video_id)

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor, form = self._studio.posted(req, resp)
        values = {
            name: form.text(name)
            for name in (
                "title",
                "description",
                "tags",
                "category_id",
                "visibility",
                "poster_at_seconds",
            )
        }
        try:
            command = _update_of(values)
            self._studio.platform.videos.update(visitor.caller, VideoId(video_id), command)
        except ValidationError as refused:
            errors = dict(refused.fields) or {"form": refused.message}
            self._show(req, resp, visitor, video_id, status=422, errors=errors, values=values)
            return
        see_other(resp, f"/my/videos/{video_id}/edit?saved")


def _update_of(values: dict[str, str]) -> UpdateVideo:
    problems: dict[str, str] = {}
    visibility = None
    try:
        visibility = Visibility(values["visibility"])
    except ValueError:
        problems["visibility"] = "choose public, unlisted or private"
    poster: float | None = None
    if values["poster_at_seconds"].strip():
        try:
            poster = float(values["poster_at_seconds"])
        except ValueError:
            problems["poster_at_seconds"] = "a number of seconds, such as 12.5"
    if problems:
        raise ValidationError("some fields are not right", fields=problems)
    tags = [t.strip() for t in values["tags"].split(",") if t.strip()]
    category = values["category_id"].strip()
    return UpdateVideo(
        title=values["title"],
        description=values["description"],
        tags=tags,
        visibility=visibility,
        category_id=CategoryId(category) if category else None,
        clear_category=not category,
        poster_at_seconds=poster,
    )


class DeleteVideo:
    """A page that asks, then the deletion (no script needed)."""

    def __init__(self, studio: Studio) -> None:
        self._studio = studio

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        studio = self._studio
        visitor = studio.sessions.visitor(req, resp)
        signed_in(visitor)
        video = studio.platform.videos.get(visitor.caller, VideoId(video_id))
        if visitor.user is None or not video.is_managed_by(visitor.user):
            raise PermissionDenied("only the owner or a moderator may delete this video")
        studio.pages.render(req, resp, "delete_video.html", visitor, video=video)

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor, _ = self._studio.posted(req, resp)
        self._studio.platform.videos.delete(visitor.caller, VideoId(video_id))
        see_other(resp, "/my/videos?deleted")
