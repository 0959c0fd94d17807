"""Categories: anyone lists; administrators create, rename and delete."""

from __future__ import annotations

import falcon
from attrs import field, frozen

from videoplatform.application.categories import CategoryService
from videoplatform.domain.categories import MAX_CATEGORY_NAME
from videoplatform.domain.ids import CategoryId
from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.convert import read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Reply, Route
from videoplatform.entrypoints.http.resources.common import API, HttpContext, no_content, reply
from videoplatform.entrypoints.http.schema import text_rules
from videoplatform.entrypoints.http.views import CategoryView


@frozen
class CategoryBody:
    name: str = field(metadata={"schema": text_rules(MAX_CATEGORY_NAME)})


class Categories:
    def __init__(self, categories: CategoryService, json_limit: int) -> None:
        self._categories = categories
        self._json_limit = json_limit

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        reply(resp, [CategoryView.of(c) for c in self._categories.list()])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, CategoryBody, self._json_limit)
        created = self._categories.create(caller_of(req), body.name)
        resp.location = f"{API}/categories/{created.id}"
        reply(resp, CategoryView.of(created), 201)


class Category:
    def __init__(self, json_limit: int, categories: CategoryService) -> None:
        self._json_limit = json_limit
        self._categories = categories

    def on_patch(self, req: falcon.Request, resp: falcon.Response, category_id: str) -> None:
        body = read_json(req, CategoryBody, self._json_limit)
        renamed = self._categories.rename(caller_of(req), CategoryId(category_id), body.name)
        reply(resp, CategoryView.of(renamed))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, category_id: str) -> None:
        self._categories.delete(caller_of(req), CategoryId(category_id))
        no_content(resp)


def routes(c: HttpContext) -> list[Route]:
    tag = "categories"
    return [
        Route(
            f"{API}/categories",
            Categories(c.platform.categories, c.json_limit),
            (
                Operation("GET", "List categories", tag, (Reply(200, "All", list[CategoryView]),)),
                Operation(
                    "POST",
                    "Create a category",
                    tag,
                    (Reply(201, "Created", CategoryView),),
                    body=Body(CategoryBody),
                    auth="required",
                    errors=(403, 409),
                    scope=Scope.ADMIN,
                ),
            ),
        ),
        Route(
            f"{API}/categories/{{category_id}}",
            Category(c.json_limit, c.platform.categories),
            (
                Operation(
                    "PATCH",
                    "Rename a category",
                    tag,
                    (Reply(200, "Renamed", CategoryView),),
                    body=Body(CategoryBody),
                    auth="required",
                    errors=(403, 404, 409),
                    scope=Scope.ADMIN,
                ),
                Operation(
                    "DELETE",
                    "Delete a category",
                    tag,
                    (Reply(204, "Deleted"),),
                    auth="required",
                    errors=(403, 404, 409),
                    scope=Scope.ADMIN,
                ),
            ),
        ),
    ]
