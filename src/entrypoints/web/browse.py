"""The public pages: home, a category, a channel, search results."""

from __future__ import annotations

from typing import Any

import falcon
from attrs import frozen

from videoplatform.application.ports.persistence import VideoSort
from videoplatform.application.ports.search import SearchSort
from videoplatform.application.search import Highlighted, SearchVideos
from videoplatform.application.video_commands import VideoFilter
from videoplatform.domain.categories import Category
from videoplatform.domain.errors import NotFound, ValidationError
from videoplatform.domain.ids import CategoryId, UserId
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.resources.common import query_str
from videoplatform.entrypoints.web.cards import cards
from videoplatform.entrypoints.web.context import Site
from videoplatform.entrypoints.web.rendering import link

GRID_PAGE = 24
SORTS = {"newest": VideoSort.NEWEST, "popular": VideoSort.MOST_VIEWED}
SEARCH_SORTS = {s.value: s for s in SearchSort}


@frozen
class Piece:
    """A run of text, and whether it matched the query (shown marked)."""

    text: str
    matched: bool


def pieces(highlighted: Highlighted) -> list[Piece]:
    text, shown, at = highlighted.text, [], 0
    for start, end in highlighted.matches:
        if start > at:
            shown.append(Piece(text[at:start], False))
        shown.append(Piece(text[start:end], True))
        at = end
    if at < len(text):
        shown.append(Piece(text[at:], False))
    return shown


def sorted_categories(platform: Platform) -> list[Category]:
    return sorted(platform.categories.list(), key=lambda c: c.name.lower())


class Browse:
    """What the grid pages (home, a category, a channel) share."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def grid(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        *,
        template: str,
        owner_id: UserId | None = None,
        category_id: CategoryId | None = None,
        **context: Any,
    ) -> None:
        site = self._site
        visitor = site.visitor(req, resp)
        sort_name = query_str(req, "sort", 20) or "newest"
        sort = SORTS.get(sort_name)
        if sort is None:
            raise ValidationError.field("sort", "must be newest or popular")
        page = site.platform.videos.list(
            visitor.caller,
            VideoFilter(owner_id=owner_id, category_id=category_id, sort=sort),
            cursor=query_str(req, "cursor", 1000),
            limit=GRID_PAGE,
        )
        shown = cards(site.platform, visitor, page.items)
        site.pages.render(
            req,
            resp,
            template,
            visitor,
            cards=shown,
            sort=sort_name,
            categories=sorted_categories(site.platform),
            category_id=category_id,
            next_link=link(req.path, sort=sort_name, cursor=page.next_cursor)
            if page.next_cursor
            else None,
            **context,
        )


class Home:
    def __init__(self, browse: Browse) -> None:
        self._browse = browse

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._browse.grid(req, resp, template="home.html")


class CategoryPage:
    def __init__(self, browse: Browse, site: Site) -> None:
        self._browse = browse
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response, category_id: str) -> None:
        found = [c for c in sorted_categories(self._site.platform) if c.id == category_id]
        if not found:
            raise NotFound("category not found")
        self._browse.grid(
            req,
            resp,
            template="category.html",
            category_id=CategoryId(category_id),
            category=found[0],
        )


class Channel:
    def __init__(self, browse: Browse, site: Site) -> None:
        self._browse = browse
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        channel = self._site.platform.users.channel(UserId(user_id))
        if channel is None:
            raise NotFound("channel not found")
        self._browse.grid(
            req,
            resp,
            template="channel.html",
            owner_id=UserId(user_id),
            channel_id=user_id,
            channel_name=channel[0],
            channel_bio=channel[1],
            channel_avatar=channel[2],
        )


class SearchPage:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = site.visitor(req, resp)
        asked = (req.get_param("q") or "").strip()
        sort_name = query_str(req, "sort", 20) or SearchSort.RELEVANCE.value
        sort = SEARCH_SORTS.get(sort_name)
        if sort is None:
            raise ValidationError.field("sort", "must be relevance, newest or views")
        context: dict[str, object] = {"q": asked, "sort": sort_name, "error": None}
        results = None
        status = 200
        if asked:
            try:
                results = site.platform.search.videos(
                    visitor.caller,
                    SearchVideos(asked, sort=sort),
                    cursor=query_str(req, "cursor", 1000),
                    limit=GRID_PAGE,
                )
            except ValidationError as refused:
                context["error"] = next(iter(refused.fields.values()), refused.message)
                status = 422
        shown = cards(site.platform, visitor, [r.video for r in results.results]) if results else []
        site.pages.render(
            req,
            resp,
            "search.html",
            visitor,
            status=status,
            results=results,
            found=[
                (card, pieces(r.title), pieces(r.snippet))
                for card, r in zip(shown, results.results if results else (), strict=True)
            ],
            next_link=link(req.path, q=asked, sort=sort_name, cursor=results.next_cursor)
            if results and results.next_cursor
            else None,
            **context,
        )
