"""An archive of one's data over HTTP: asked for (its download URL shown once), its
state, and its one download, by the secret in that URL (no login needed: the URL is
the capability, like a share link's)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import falcon
from attrs import field, frozen

from videoplatform.application.users import UserService
from videoplatform.application.users.data_export import ExportState
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Operation, Reply, Route
from videoplatform.entrypoints.http.resources.common import (
    API,
    HttpContext,
    reply,
    send_attachment,
)

ARCHIVE_SCHEMA = {
    "type": "object",
    "description": "the archive: format, prepared_for, profile, videos, files, shares and "
    "activity (the account's own audit events, the 10,000 most recent)",
    "required": ["format", "profile", "videos", "files", "shares", "activity"],
}


@frozen
class ExportView:
    id: str
    status: Literal["preparing", "ready", "downloaded", "expired"] = field(
        metadata={"doc": "ready once prepared (moments after the request), until downloaded"}
    )
    requested_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, state: ExportState) -> ExportView:
        return cls(state.export_id, state.state, state.requested_at, state.expires_at)


@frozen
class ExportTicketView:
    """Shown once: the archive downloads once from ``download_url``, until it expires."""

    id: str
    status: Literal["preparing"]
    download_url: str = field(metadata={"doc": "GET it once the status is ready"})
    expires_at: datetime


class Exports:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        ticket = self._users.request_export(caller_of(req))
        resp.cache_control = ["no-store"]
        url = f"{API}/exports/{ticket.export_id}/{ticket.secret}"
        reply(resp, ExportTicketView(ticket.export_id, "preparing", url, ticket.expires_at), 202)


class ExportItem:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_get(self, req: falcon.Request, resp: falcon.Response, export_id: str) -> None:
        reply(resp, ExportView.of(self._users.export_state(caller_of(req), export_id)))


class ArchiveDownload:
    def __init__(self, users: UserService) -> None:
        self._users = users

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, export_id: str, secret: str
    ) -> None:
        got = self._users.download_export(export_id, secret, caller_of(req))
        resp.cache_control = ["no-store"]
        send_attachment(
            resp, "videoplatform-archive.json", "application/json", got.size, got.chunks
        )


def routes(c: HttpContext) -> list[Route]:
    users = c.platform.users
    tag = "auth"
    return [
        Route(
            f"{API}/me/exports",
            Exports(users),
            (
                Operation(
                    "POST",
                    "Ask for an archive of your data",
                    tag,
                    (Reply(202, "Being prepared; its URL (shown once)", ExportTicketView),),
                    auth="required",
                    errors=(429,),
                    description="Profile, videos' metadata, files (names, folders, sizes), "
                    "share links and your activity, as one JSON document, prepared moments "
                    "after this. It downloads once from `download_url`, within 7 days; "
                    "undownloaded, it is deleted then. Throttled: 3 in 15 minutes.",
                ),
            ),
        ),
        Route(
            f"{API}/me/exports/{{export_id}}",
            ExportItem(users),
            (
                Operation(
                    "GET",
                    "Where your archive stands",
                    tag,
                    (Reply(200, "Its state", ExportView),),
                    auth="required",
                    errors=(404,),
                ),
            ),
        ),
        Route(
            f"{API}/exports/{{export_id}}/{{secret}}",
            ArchiveDownload(users),
            (
                Operation(
                    "GET",
                    "Download an archive",
                    tag,
                    (
                        Reply(
                            200,
                            "The archive (a download, once)",
                            media="application/json",
                            schema=ARCHIVE_SCHEMA,
                            headers={"Content-Disposition": "attachment"},
                        ),
                    ),
                    auth="none",
                    errors=(404, 409),
                    description="By the secret in the URL POST /me/exports gave: once, "
                    "until it expires (404 afterwards, as for a wrong one); 409 while it "
                    "is being prepared.",
                ),
            ),
        ),
    ]
