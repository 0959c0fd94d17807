"""A video as lists show it: its document, kept beside the video as JSON text.

The HTTP API writes a video the same way wherever it appears (a list, a single read, a
search result). Lists are the reads users hit most, and building twenty aggregates and
their views for every page cost several times the page's query. So each write of a
video also writes its document (everything the API shows but the view count, which
changes by atomic increments and is added on reading), in the same transaction: a list
reads twenty stored documents and joins them. It is a read model, not a cache: it is
never older than the video it describes.

``SHAPE`` names the document's fields: a document written under another shape (or none,
for a video written before documents were kept) is built again from the video.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from videoplatform.domain.videos import Video

SHAPE = 1
"""Raised whenever :func:`video_document` changes what it writes."""


def _instant(moment: datetime) -> str:
    return (moment if moment.tzinfo is UTC else moment.astimezone(UTC)).isoformat()


def _number(value: float | None) -> float | None:
    # JSON has no NaN or infinity; the API writes them as null.
    return value if value is None or math.isfinite(value) else None


def video_document(video: Video) -> dict[str, Any]:
    """Every field the API shows of ``video`` but ``view_count``, JSON-ready, in the
    order the API writes them (``view_count`` comes last)."""
    info = video.media_info
    failure = video.failure_code
    return {
        "id": video.id,
        "owner_id": video.owner_id,
        "title": video.title,
        "description": video.description,
        "category_id": video.category_id,
        "tags": list(video.tags),
        "visibility": video.visibility.value,
        "status": video.status.value,
        "reprocessing": video.reprocessing,
        "progress": video.progress,
        "last_error": video.last_error,
        "failure_code": None if failure is None else failure.value,
        "kind": None if info is None else "audio" if info.is_audio_only else "video",
        "size": video.source_size,
        "poster_at_seconds": _number(video.poster_at_seconds),
        "media_info": None
        if info is None
        else {
            "duration_seconds": _number(info.duration_seconds),
            "width": info.width,
            "height": info.height,
            "video_codec": info.video_codec,
            "audio_codec": info.audio_codec,
            "fps": _number(info.fps),
            "bitrate": info.bitrate,
            "rotation": info.rotation,
            "audio_channels": info.audio_channels,
            "subtitle_languages": list(info.subtitle_languages),
        },
        "renditions": [
            {
                "name": r.name,
                "width": r.width,
                "height": r.height,
                "bitrate": r.bitrate,
                "codecs": r.codecs,
            }
            for r in video.renditions
        ],
        "created_at": _instant(video.created_at),
        "updated_at": _instant(video.updated_at),
    }


def document_json(video: Video) -> str:
    """:func:`video_document` as the JSON text that is stored: one object, compact."""
    return json.dumps(
        video_document(video), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def listed_json(document: str, view_count: int) -> str:
    """A stored document with the video's ``view_count`` added as its last field: the
    video as the API writes it."""
    return f'{document[:-1]},"view_count":{view_count}}}'
