"""The creator's files: a folder browser, uploads (over tus, like videos), downloads,
moving or renaming, deleting."""

from __future__ import annotations

from typing import Any

import falcon

from videoplatform.application.files import MoveFile
from videoplatform.domain.errors import Conflict, ValidationError
from videoplatform.domain.files import FolderPath
from videoplatform.domain.ids import FileId
from videoplatform.domain.users import Permission
from videoplatform.entrypoints.http.resources.common import send_attachment
from videoplatform.entrypoints.web.context import Site, field_errors, see_other
from videoplatform.entrypoints.web.rendering import link
from videoplatform.entrypoints.web.session import Visitor

FOLDER_PAGE = 100


def _manager(site: Site, req: falcon.Request, resp: falcon.Response) -> Visitor:
    return site.holding(req, resp, Permission.FILE_MANAGE, "your account may not keep files")


def crumbs(folder: FolderPath) -> list[tuple[str, str]]:
    """``/a/b`` → [("Files", "/"), ("a", "/a"), ("b", "/a/b")]."""
    shown, path = [("Files", "/")], ""
    for segment in folder.segments:
        path += "/" + segment
        shown.append((segment, path))
    return shown


class MyFiles:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = _manager(site, req, resp)
        listing = site.platform.files.list_folder(
            visitor.caller, req.get_param("folder") or "/", req.get_param("cursor"), FOLDER_PAGE
        )
        folder = listing.folder
        site.pages.render(
            req,
            resp,
            "my_files.html",
            visitor,
            folder=folder.value,
            crumbs=crumbs(folder),
            subfolders=[(name, folder.path_of(name)) for name in listing.subfolders],
            files=listing.files.items,
            next_link=link(req.path, folder=folder.value, cursor=listing.files.next_cursor)
            if listing.files.next_cursor
            else None,
            done=req.get_param("done"),
        )


class DownloadFile:
    """``GET /my/files/{id}/download``: the bytes, as an attachment."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        visitor = _manager(self._site, req, resp)
        stored, chunks = self._site.platform.files.open(visitor.caller, FileId(file_id))
        resp.cache_control = ["private", "no-store"]
        send_attachment(resp, stored.name, stored.content_type, stored.size, chunks)


class MoveFilePage:
    """``/my/files/{id}/move``: a new name or folder."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def _show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        visitor: Visitor,
        file_id: str,
        **form: Any,
    ) -> None:
        stored = self._site.platform.files.get(visitor.caller, FileId(file_id))
        form.setdefault("values", {"name": stored.name, "folder": stored.folder.value})
        self._site.show(req, resp, "move_file.html", visitor, file=stored, **form)

    def on_get(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        visitor = _manager(self._site, req, resp)
        self._show(req, resp, visitor, file_id)

    def on_post(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        visitor, form = self._site.posted(req, resp)
        values = {"name": form.text("name"), "folder": form.text("folder")}
        try:
            moved = self._site.platform.files.move(
                visitor.caller, FileId(file_id), MoveFile(values["folder"], values["name"])
            )
        except (ValidationError, Conflict) as refused:
            errors = field_errors(refused)
            self._show(req, resp, visitor, file_id, status=422, errors=errors, values=values)
            return
        see_other(resp, link("/my/files", folder=moved.folder.value, done="moved"))


class DeleteFilePage:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        visitor = _manager(self._site, req, resp)
        stored = self._site.platform.files.get(visitor.caller, FileId(file_id))
        self._site.pages.render(
            req,
            resp,
            "confirm_delete.html",
            visitor,
            name=stored.name,
            what="The file and every share link to it",
            action=f"/my/files/{stored.id}/delete",
            back=link("/my/files", folder=stored.folder.value),
        )

    def on_post(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        visitor, _ = self._site.posted(req, resp)
        stored = self._site.platform.files.get(visitor.caller, FileId(file_id))
        self._site.platform.files.delete(visitor.caller, FileId(file_id))
        see_other(resp, link("/my/files", folder=stored.folder.value, done="deleted"))
