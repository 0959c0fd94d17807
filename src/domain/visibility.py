"""Who may watch a video: everyone and in lists, everyone with its address, or its owner
(and moderators) only. Its own module because accounts name it too (the visibility of
their new uploads) and videos know accounts."""

from __future__ import annotations

import enum


class Visibility(enum.Enum):
    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"
