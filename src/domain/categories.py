"""Categories that videos are filed under."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

from attrs import define

from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.ids import CategoryId
from videoplatform.domain.text import one_line

MAX_CATEGORY_NAME = 80


def clean_category_name(raw: str) -> str:
    return one_line(raw, "name", MAX_CATEGORY_NAME)


def slugify(name: str) -> str:
    """The name's letters and digits in ASCII (``Café Life`` is ``cafe-life``); a name with
    none (``日本``, ``♫``) gets a slug made from its digest, so any name can be a category
    and the slug still decides which names are the same category."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug:
        folded = unicodedata.normalize("NFKC", name).casefold().encode()
        slug = "c-" + hashlib.sha256(folded).hexdigest()[:16]
    return slug


@define(eq=False, kw_only=True)
class Category(Aggregate):
    id: CategoryId
    name: str
    slug: str
    created_at: datetime

    @classmethod
    def create(cls, *, id: CategoryId, name: str, now: datetime) -> Category:
        clean = clean_category_name(name)
        return cls(id=id, name=clean, slug=slugify(clean), created_at=now)

    def rename(self, name: str) -> None:
        clean = clean_category_name(name)
        self.name, self.slug = clean, slugify(clean)
