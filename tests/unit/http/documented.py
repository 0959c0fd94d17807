"""Checking real responses against the OpenAPI document the app publishes."""

from __future__ import annotations

import re
from typing import Any

import jsonschema


class Documented:
    """Validates a response body against the schema the document declares for it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._patterns = [
            (re.compile("^" + re.sub(r"{\w+}", "[^/]+", path) + "$"), path)
            for path in document["paths"]
        ]

    def template_of(self, path: str) -> str:
        matches = [template for pattern, template in self._patterns if pattern.match(path)]
        assert matches, f"{path} is not in the OpenAPI document"
        # The most specific template (fewest parameters) wins, as in the router.
        best: str = min(matches, key=lambda t: t.count("{"))
        return best

    def check(self, method: str, path: str, status: int, body: Any, media: str) -> None:
        operation = self.document["paths"][self.template_of(path)].get(method.lower())
        assert operation is not None, f"{method} {path} is not documented"
        reply = operation["responses"].get(str(status))
        assert reply is not None, f"{method} {path} answered {status}, which is not documented"
        content = reply.get("content")
        if content is None:
            assert body in (None, "", b""), f"{method} {path} {status} should have no body"
            return
        assert media in content, f"{method} {path} {status}: {media} not in {list(content)}"
        schema = {**content[media]["schema"], "components": self.document["components"]}
        jsonschema.Draft202012Validator(schema).validate(body)
