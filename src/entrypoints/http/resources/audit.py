"""Audit endpoints."""

from __future__ import annotations

from entrypoints.http.openapi import Route
from entrypoints.http.resources.common import HttpContext


def routes(c: HttpContext) -> list[Route]:
    return []
