"""Avatars over HTTP: one's own set (a PNG, JPEG or WebP picture as the raw body) or
removed, and anyone's shown (by size, cached: each new avatar has a new URL)."""

from __future__ import annotations

import falcon

from videoplatform.application.ports.media import AVATAR_SIZES
from videoplatform.application.users import UserService
from videoplatform.application.users.avatars import AVATAR_TYPES, MAX_AVATAR_BYTES
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import UserId
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Param, Reply, Route
from videoplatform.entrypoints.http.resources.common import API, HttpContext, reply
from videoplatform.entrypoints.http.uploads import LaterBody
from videoplatform.entrypoints.http.views import UserView

SIZE_NAMES = {"large": AVATAR_SIZES[0], "small": AVATAR_SIZES[1]}


class OwnAvatar:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = self._users.set_avatar(caller_of(req), LaterBody(req, MAX_AVATAR_BYTES))
        reply(resp, UserView.of(user))

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, UserView.of(self._users.remove_avatar(caller_of(req))))


class Avatar:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_get(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        name = req.get_param("size") or "large"
        if name not in SIZE_NAMES:
            raise ValidationError.field("size", "large or small")
        picture = self._users.avatar(UserId(user_id), SIZE_NAMES[name])
        etag = f'"{picture.version}-{picture.size}"'
        resp.etag = etag
        resp.cache_control = ["public", "max-age=86400"]
        resp.set_header("X-Content-Type-Options", "nosniff")
        if req.get_header("If-None-Match") == etag:
            resp.status = falcon.HTTP_304
            return
        resp.content_type = picture.content_type
        resp.data = picture.data


def routes(c: HttpContext) -> list[Route]:
    users = c.platform.users
    picture = {"type": "string", "contentMediaType": "image/jpeg"}
    return [
        Route(
            f"{API}/auth/me/avatar",
            OwnAvatar(users),
            (
                Operation(
                    "PUT",
                    "Set your avatar",
                    "auth",
                    (Reply(200, "You, with the new avatar", UserView),),
                    body=Body(
                        media=AVATAR_TYPES,
                        min_length=1,
                        description=f"A PNG, JPEG or WebP picture, at most {MAX_AVATAR_BYTES} "
                        "bytes; its type is read from its bytes, whatever the Content-Type "
                        "says.",
                    ),
                    auth="required",
                    errors=(413, 415),
                    description="Made into square pictures of "
                    f"{' and '.join(str(s) for s in AVATAR_SIZES)} pixels (centred, "
                    "cropped), without any of the picture's metadata (camera, place, "
                    "comments). 413 past the size limit; 415 for anything else than a "
                    "picture that can be read.",
                ),
                Operation(
                    "DELETE",
                    "Remove your avatar",
                    "auth",
                    (Reply(200, "You, without an avatar", UserView),),
                    auth="required",
                ),
            ),
        ),
        Route(
            f"{API}/users/{{user_id}}/avatar",
            Avatar(users),
            (
                Operation(
                    "GET",
                    "A user's avatar",
                    "users",
                    (
                        Reply(
                            200,
                            "The picture (public, cached a day; a new avatar has a new URL)",
                            media="image/jpeg",
                            schema=picture,
                            also={"image/png": {"type": "string", "contentMediaType": "image/png"}},
                            headers={"ETag": "the avatar's version and size, quoted"},
                        ),
                        Reply(304, "Not modified (If-None-Match)"),
                    ),
                    params=(
                        Param(
                            "size",
                            "query",
                            {"type": "string", "enum": list(SIZE_NAMES)},
                            f"large ({AVATAR_SIZES[0]} px, the default) or small "
                            f"({AVATAR_SIZES[1]} px)",
                        ),
                        Param(
                            "v",
                            "query",
                            {"type": "string", "maxLength": 64},
                            "the avatar's version, as avatar_url carries it (so that a new "
                            "avatar has a new URL); not checked",
                        ),
                    ),
                    auth="none",
                    errors=(404,),
                    description="Of an active account that has one; 404 otherwise.",
                ),
            ),
        ),
    ]
