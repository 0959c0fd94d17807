"""The OpenAPI document and Swagger UI, served offline from the swagger-ui-bundle package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import falcon
import swagger_ui_bundle

from videoplatform.entrypoints.http.openapi import Operation, Reply, Route
from videoplatform.entrypoints.http.resources.common import API

ASSETS = "/docs/assets"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>videoplatform API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({url: "API_PATH/openapi.json", dom_id: "#swagger-ui"});
};
""".replace("API_PATH", API)
# Scripts and styles from this origin only; nothing from a CDN.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


def assets_folder() -> Path:
    return Path(swagger_ui_bundle.swagger_ui_path)


class OpenApiDocument:
    def __init__(self) -> None:
        self.document: dict[str, Any] = {}
        self._body = b""

    def publish(self, document: dict[str, Any]) -> None:
        self.document = document
        self._body = json.dumps(document).encode()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/json"
        resp.data = self._body


class DocsPage:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/html; charset=utf-8"
        resp.set_header("Content-Security-Policy", DOCS_CSP)
        resp.text = PAGE.format(assets=ASSETS)


class DocsInit:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/javascript; charset=utf-8"
        resp.text = INIT


def routes(document: OpenApiDocument) -> list[Route]:
    return [
        Route(
            f"{API}/openapi.json",
            document,
            (
                Operation(
                    "GET",
                    "OpenAPI document",
                    "docs",
                    (Reply(200, "This document", schema={"type": "object"}),),
                    auth="none",
                ),
            ),
        ),
        Route(
            "/docs",
            DocsPage(),
            (
                Operation(
                    "GET",
                    "Swagger UI",
                    "docs",
                    (
                        Reply(
                            200,
                            "Interactive documentation",
                            media="text/html",
                            schema={"type": "string"},
                        ),
                    ),
                    auth="none",
                ),
            ),
        ),
        Route(
            "/docs/init.js",
            DocsInit(),
            (
                Operation(
                    "GET",
                    "Swagger UI start-up script",
                    "docs",
                    (Reply(200, "Script", media="text/javascript", schema={"type": "string"}),),
                    auth="none",
                ),
            ),
        ),
    ]
