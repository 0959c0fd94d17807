"""Share links: owners create, list, inspect and revoke them; anyone holding a link
redeems it (and downloads a shared file) by posting its token, which therefore never
appears in a URL path, an access log or a Referer header."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar
from urllib.parse import quote

import falcon
from attrs import field, frozen

from videoplatform.application.shares import MAX_SHARE_TTL, CreateShare, SharedItem, ShareService
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import FileId, ShareId, VideoId
from videoplatform.domain.shares import MAX_SHARE_TOKEN, MAX_SHARE_USES
from videoplatform.domain.users import MAX_PASSWORD_LENGTH, Scope
from videoplatform.entrypoints.http.convert import read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Reply, Route
from videoplatform.entrypoints.http.resources.common import (
    API,
    CURSOR,
    CURSOR_LENGTH,
    LIMIT,
    HttpContext,
    no_content,
    query_int,
    query_str,
    reply,
    send_attachment,
)
from videoplatform.entrypoints.http.schema import Schema, exactly_one_of
from videoplatform.entrypoints.http.views import (
    CreatedShareView,
    RedeemedShareView,
    SharedFileView,
    ShareView,
    VideoView,
)

MAX_TTL_SECONDS = int(MAX_SHARE_TTL.total_seconds())


TOKEN_RULES = {"minLength": 1, "maxLength": MAX_SHARE_TOKEN}


@frozen
class CreateShareBody:
    """Share exactly one of a video or a file that you own."""

    __schema_rules__: ClassVar[Schema] = exactly_one_of("video_id", "file_id")

    video_id: str | None = None
    file_id: str | None = None
    expires_in_seconds: int | None = field(
        default=None,
        metadata={
            "doc": f"1 to {MAX_TTL_SECONDS}; no expiry when absent",
            "schema": {"minimum": 1, "maximum": MAX_TTL_SECONDS},
        },
    )
    password: str | None = field(
        default=None,
        metadata={
            "doc": "asked of whoever opens it",
            "schema": {"minLength": 1, "maxLength": MAX_PASSWORD_LENGTH},
        },
    )
    max_uses: int | None = field(
        default=None,
        metadata={
            "doc": "how many times it may be used",
            "schema": {"minimum": 1, "maximum": MAX_SHARE_USES},
        },
    )


@frozen
class RedeemBody:
    token: str = field(
        metadata={
            "doc": "the link's token, as shown once when it was made",
            "schema": TOKEN_RULES,
        }
    )
    password: str | None = None


@frozen
class SharePage:
    """One page of your share links, newest first."""

    items: list[ShareView]
    next_cursor: str | None = field(
        default=None, metadata={"doc": "pass as cursor for the next page; null on the last"}
    )


def share_url(public_url: str, token: str) -> str:
    """The link a recipient opens; relative when no public URL is configured."""
    # In the fragment: browsers never send it to any server, so no access log sees it.
    return f"{public_url.rstrip('/')}/s#{quote(token, safe='')}"


def redeemed_view(item: SharedItem) -> RedeemedShareView:
    if item.video is not None:
        return RedeemedShareView("video", video=VideoView.of(item.video))
    if item.file is not None:
        return RedeemedShareView("file", file=SharedFileView.of(item.file))
    raise AssertionError("a redeemed share opens a video or a file")  # pragma: no cover


def _token(body: RedeemBody) -> str:
    if not 1 <= len(body.token) <= MAX_SHARE_TOKEN:
        raise ValidationError.field("token", f"must be 1 to {MAX_SHARE_TOKEN} characters")
    return body.token


def _private(resp: falcon.Response) -> None:
    # Replies that carry a secret or what a secret opens are never cached on the way.
    resp.cache_control = ["no-store"]


class Shares:
    def __init__(self, shares: ShareService, json_limit: int, public_url: str) -> None:
        self._shares = shares
        self._json_limit = json_limit
        self._public_url = public_url

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = self._shares.list_mine(
            caller_of(req), query_str(req, "cursor", CURSOR_LENGTH), query_int(req, "limit")
        )
        reply(resp, SharePage([ShareView.of(s) for s in page.items], page.next_cursor))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, CreateShareBody, self._json_limit)
        seconds = body.expires_in_seconds
        if seconds is not None and not 1 <= seconds <= MAX_TTL_SECONDS:
            raise ValidationError.field("expires_in_seconds", f"must be 1 to {MAX_TTL_SECONDS}")
        created = self._shares.create(
            caller_of(req),
            CreateShare(
                video_id=VideoId(body.video_id) if body.video_id is not None else None,
                file_id=FileId(body.file_id) if body.file_id is not None else None,
                expires_in=timedelta(seconds=seconds) if seconds is not None else None,
                password=body.password,
                max_uses=body.max_uses,
            ),
        )
        resp.location = f"{API}/shares/{created.share.id}"
        _private(resp)
        view = CreatedShareView(
            ShareView.of(created.share),
            created.token,
            share_url(self._public_url, created.token),
        )
        reply(resp, view, 201)


class ShareItem:
    def __init__(self, shares: ShareService) -> None:
        self._shares = shares

    def on_get(self, req: falcon.Request, resp: falcon.Response, share_id: str) -> None:
        reply(resp, ShareView.of(self._shares.details(caller_of(req), ShareId(share_id))))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, share_id: str) -> None:
        self._shares.revoke(caller_of(req), ShareId(share_id))
        no_content(resp)


class Redeem:
    def __init__(self, json_limit: int, shares: ShareService) -> None:
        self._json_limit = json_limit
        self._shares = shares

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, RedeemBody, self._json_limit)
        item = self._shares.redeem(_token(body), body.password, caller_of(req))
        _private(resp)
        reply(resp, redeemed_view(item))


class Download:
    def __init__(self, json_limit: int, shares: ShareService) -> None:
        self._json_limit = json_limit
        self._shares = shares

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, RedeemBody, self._json_limit)
        stored, chunks = self._shares.open_shared_file(_token(body), body.password, caller_of(req))
        _private(resp)
        send_attachment(resp, stored.name, stored.content_type, stored.size, chunks)


def routes(c: HttpContext) -> list[Route]:
    tag = "shares"
    locked = "401 share_password_required / share_password_wrong"
    dead = "410 share_expired / share_revoked / share_exhausted / share_unavailable"
    return [
        Route(
            f"{API}/shares",
            Shares(c.platform.shares, c.json_limit, c.public_url),
            (
                Operation(
                    "GET",
                    "List my shares",
                    tag,
                    (Reply(200, "A page of your share links, newest first", SharePage),),
                    params=(CURSOR, LIMIT),
                    auth="required",
                    errors=(422,),
                ),
                Operation(
                    "POST",
                    "Create a share",
                    tag,
                    (
                        Reply(
                            201,
                            "The link; its token is shown this once",
                            CreatedShareView,
                            headers={"Location": "the new share"},
                        ),
                    ),
                    body=Body(CreateShareBody),
                    auth="required",
                    errors=(403, 404),
                    description=(
                        "Only the owner may share a video or file: sharing someone else's "
                        "is 403 when you can see it and 404 when you cannot."
                    ),
                ),
            ),
        ),
        Route(
            f"{API}/shares/{{share_id}}",
            ShareItem(c.platform.shares),
            (
                Operation(
                    "GET",
                    "Get a share",
                    tag,
                    (Reply(200, "The share link (without its token)", ShareView),),
                    auth="required",
                    errors=(404,),
                    description="Its owner or an administrator; anyone else gets 404.",
                ),
                Operation(
                    "DELETE",
                    "Revoke a share",
                    tag,
                    (Reply(204, "Revoked (revoking twice is harmless)"),),
                    auth="required",
                    errors=(404,),
                    description="Its owner or an administrator; anyone else gets 404.",
                ),
            ),
        ),
        Route(
            f"{API}/public/shares/redeem",
            Redeem(c.json_limit, c.platform.shares),
            (
                Operation(
                    "POST",
                    "Redeem a share",
                    tag,
                    (Reply(200, "What the link opens", RedeemedShareView),),
                    body=Body(RedeemBody),
                    auth="optional",
                    errors=(401, 404, 410, 429),
                    description=(
                        "Public. Counts one use of the link and is audited. "
                        f"{locked}; {dead}; 404 for an unknown token."
                    ),
                    scope=Scope.READ,
                ),
            ),
        ),
        Route(
            f"{API}/public/shares/download",
            Download(c.json_limit, c.platform.shares),
            (
                Operation(
                    "POST",
                    "Download a shared file",
                    tag,
                    (
                        Reply(
                            200,
                            "The file's bytes, as an attachment, in the file's own media type",
                            media="*/*",
                            schema={"description": "the file's bytes"},
                            headers={
                                "Content-Disposition": "attachment with filename and filename*",
                                "Content-Length": "the file's size in bytes",
                            },
                        ),
                    ),
                    body=Body(RedeemBody),
                    auth="optional",
                    errors=(401, 404, 409, 410, 429),
                    description=(
                        "Public. Counts one use of a link to a file and is audited; the reply "
                        "carries the file's own media type. A link to a video cannot be "
                        f"downloaded (409 share_not_downloadable). {locked}; {dead}."
                    ),
                    scope=Scope.READ,
                ),
            ),
        ),
    ]
