"""The creator's pages: uploading (resumable, over the API's tus endpoint), their videos
with live processing progress, editing and deleting."""

from __future__ import annotations

from typing import Any

import falcon

from videoplatform.application.video_commands import UpdateVideo, VideoFilter
from videoplatform.domain.errors import PermissionDenied, ValidationError
from videoplatform.domain.ids import CategoryId, VideoId
from videoplatform.domain.users import Permission
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.web.cards import cards
from videoplatform.entrypoints.web.context import Site, field_errors, see_other, signed_in
from videoplatform.entrypoints.web.rendering import link
from videoplatform.entrypoints.web.session import Visitor

MY_PAGE = 24
VISIBILITIES = [v.value for v in Visibility]


def creator(site: Site, req: falcon.Request, resp: falcon.Response) -> Visitor:
    return site.holding(req, resp, Permission.VIDEO_UPLOAD, "your account may not upload videos")


class UploadPage:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = creator(self._site, req, resp)
        self._site.pages.render(req, resp, "upload.html", visitor, visibilities=VISIBILITIES)


class MyVideos:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = creator(site, req, resp)
        user = signed_in(visitor)
        cursor = req.get_param("cursor")
        page = site.platform.videos.list(
            visitor.caller, VideoFilter(owner_id=user.id), cursor=cursor, limit=MY_PAGE
        )
        site.pages.render(
            req,
            resp,
            "my_videos.html",
            visitor,
            videos=page.items,
            cards={c.id: c for c in cards(site.platform, visitor, page.items)},
            next_link=link(req.path, cursor=page.next_cursor) if page.next_cursor else None,
            deleted=req.get_param("deleted") is not None,
        )


class EditVideo:
    def __init__(self, site: Site) -> None:
        self._site = site

    def _show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        visitor: Visitor,
        video_id: str,
        **form: Any,
    ) -> None:
        """The form (``form``: a status, errors and values for :meth:`Site.show`)."""
        site = self._site
        # Hidden and missing are the same 404; only who may manage it gets the form.
        video = site.platform.videos.get(visitor.caller, VideoId(video_id))
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
            **form.pop("values", {}),
        }
        site.show(
            req,
            resp,
            "edit_video.html",
            visitor,
            video=video,
            values=shown,
            categories=sorted(site.platform.categories.list(), key=lambda c: c.name.lower()),
            visibilities=VISIBILITIES,
            saved=req.get_param("saved") is not None,
            **form,
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor = self._site.member(req, resp)
        self._show(req, resp, visitor, video_id)

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor, form = self._site.posted(req, resp)
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
            self._site.platform.videos.update(visitor.caller, VideoId(video_id), command)
        except ValidationError as refused:
            errors = field_errors(refused)
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

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        site = self._site
        visitor = site.member(req, resp)
        video = site.platform.videos.get(visitor.caller, VideoId(video_id))
        if visitor.user is None or not video.is_managed_by(visitor.user):
            raise PermissionDenied("only the owner or a moderator may delete this video")
        site.pages.render(
            req,
            resp,
            "confirm_delete.html",
            visitor,
            name=video.title,
            what="The video, its renditions and every share link to it",
            action=f"/my/videos/{video.id}/delete",
            back="/my/videos",
        )

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        visitor, _ = self._site.posted(req, resp)
        self._site.platform.videos.delete(visitor.caller, VideoId(video_id))
        see_other(resp, "/my/videos?deleted")
