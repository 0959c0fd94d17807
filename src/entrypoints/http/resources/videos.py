"""Videos: streaming upload, filtered keyset lists, metadata, deletion, views, processing.

An upload is either a raw body (any Content-Type but multipart; the metadata in the query
string) or ``multipart/form-data`` whose metadata fields come before the part named
``file``. Either way the bytes stream into storage, and what they are is decided from
their first bytes: anything that is not a video container or a sound recording is
refused with 415 before a byte is stored.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

import falcon
from attrs import evolve, field, frozen
from prometheus_client import Gauge

from videoplatform.application.context import Caller
from videoplatform.application.following import ProgressFollower
from videoplatform.application.ports.persistence import VideoSort
from videoplatform.application.ports.storage import ReadableStream
from videoplatform.application.processing import ProcessingService
from videoplatform.application.video_commands import UpdateVideo, UploadVideo, VideoFilter
from videoplatform.application.videos import VideoService
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import CategoryId, UserId, VideoId
from videoplatform.domain.users import Scope
from videoplatform.domain.videos import (
    MAX_DESCRIPTION,
    MAX_POSTER_AT,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    Video,
    VideoStatus,
    Visibility,
    control_in_description,
    control_in_tag,
)
from videoplatform.entrypoints.http.convert import json_bytes, read_json
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Param, Reply, Route
from videoplatform.entrypoints.http.read_cache import PublicVideoCache
from videoplatform.entrypoints.http.resources.common import (
    API,
    CURSOR,
    CURSOR_LENGTH,
    LIMIT,
    HttpContext,
    enum_param,
    no_content,
    query_choice,
    query_int,
    query_str,
    reply,
)
from videoplatform.entrypoints.http.schema import END, Schema, char_class, text_rules
from videoplatform.entrypoints.http.sse import EVENT_STREAM, EventStream, StreamSlots
from videoplatform.entrypoints.http.uploads import (
    authenticated,
    file_name,
    form_only,
    form_parts,
    is_multipart,
    query_fields,
    read_fields,
    request_body,
    split_list,
)
from videoplatform.entrypoints.http.views import ProcessingView, VideoView
from videoplatform.entrypoints.settings import Settings

VisibilityName = Literal["public", "unlisted", "private"]
UPLOAD_FIELDS = frozenset({"title", "description", "category_id", "tags", "visibility"})
VIDEO_MEDIA = (
    falcon.MEDIA_MULTIPART,
    "video/*",
    "application/octet-stream",
)


@frozen
class VideoPage:
    """One page of videos; send ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[VideoView]
    next_cursor: str | None = None


class _Unchanged(str):
    """The default of a PATCH field the client left out (JSON can never produce one)."""

    __slots__ = ()


UNCHANGED = _Unchanged()


@functools.cache
def description_rules() -> Schema:
    return {
        "maxLength": MAX_DESCRIPTION,
        "pattern": f"^[^{char_class('description_refused', control_in_description)}]*{END}",
    }


@functools.cache
def _tag_refused() -> str:
    # Whitespace is collapsed first, so only the other controls are refused.
    return char_class("tag_refused", lambda c: control_in_tag(c) and not c.isspace())


def tag_list_rules() -> Schema:
    return {
        "maxItems": MAX_TAGS,
        "items": {"type": "string", "maxLength": MAX_TAG, "pattern": f"^[^{_tag_refused()}]*{END}"},
    }


def tags_text_rules() -> Schema:
    """Tags as one comma-separated text (a query or form field)."""
    tag = f"[^,{_tag_refused()}]{{0,{MAX_TAG}}}"
    return {"type": "string", "pattern": f"^{tag}(?:,{tag}){{0,{MAX_TAGS - 1}}}{END}"}


@frozen
class VideoPatch:
    """The fields to change; a field left out (or null, except category_id) is unchanged."""

    title: str | None = field(default=None, metadata={"schema": text_rules(MAX_TITLE)})
    description: str | None = field(default=None, metadata={"schema": lambda: description_rules()})
    category_id: str | None = field(
        default=UNCHANGED, metadata={"doc": "a category id, or null to remove the category"}
    )
    tags: list[str] | None = field(default=None, metadata={"schema": lambda: tag_list_rules()})
    visibility: VisibilityName | None = None
    poster_at_seconds: float | None = field(
        default=None,
        metadata={
            "doc": "when to take the poster at the next processing, in seconds",
            "schema": {"minimum": 0, "maximum": MAX_POSTER_AT},
        },
    )


UNTITLED = "Untitled"


def title_from_file_name(name: str | None) -> str | None:
    """A title for a form upload that gives none: its file's name, without folders or
    extension and with printable characters only; None if nothing is left."""
    if not name:
        return None
    base = re.split(r"[/\\]", name)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    text = " ".join("".join(c if c.isprintable() else " " for c in stem).split())
    return text[:MAX_TITLE] or None


def upload_command(fields: dict[str, str], source: ReadableStream) -> UploadVideo:
    """The upload's metadata, checked for presence and shape before any byte is read
    (the rules on length and content are the domain's, applied by the service)."""
    problems: dict[str, str] = {}
    title = fields.get("title") or UNTITLED
    visibility = None  # the uploader's default
    if chosen := fields.get("visibility", "").strip().lower():  # blank: the default
        try:
            visibility = Visibility(chosen)
        except ValueError:
            problems["visibility"] = "must be one of public, unlisted, private"
    if problems:
        raise ValidationError("the upload's metadata is invalid", fields=problems)
    category = fields.get("category_id", "").strip()
    return UploadVideo(
        title=title,
        source=source,
        description=fields.get("description", ""),
        category_id=CategoryId(category) if category else None,
        tags=split_list(fields.get("tags", "")),
        visibility=visibility,
    )


class Videos:
    def __init__(self, videos: VideoService, settings: Settings) -> None:
        self._videos = videos
        self._settings = settings

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = caller_of(req)
        owner = query_str(req, "owner")
        if owner == "me":
            owner = authenticated(req).user_id
        filters = VideoFilter(
            owner_id=UserId(owner) if owner else None,
            category_id=CategoryId(c) if (c := query_str(req, "category")) else None,
            tag=query_str(req, "tag"),
            visibility=query_choice(req, "visibility", Visibility),
            status=query_choice(req, "status", VideoStatus),
            sort=query_choice(req, "sort", VideoSort) or VideoSort.NEWEST,
        )
        page = self._videos.list_documents(
            caller, filters, query_str(req, "cursor", CURSOR_LENGTH), query_int(req, "limit")
        )
        # The videos come as JSON text already (their stored documents): joined, not
        # parsed and written again.
        resp.content_type = falcon.MEDIA_JSON
        resp.data = b"".join(
            (
                b'{"items":[',
                ",".join(page.items).encode(),
                b'],"next_cursor":',
                json_bytes(page.next_cursor),
                b"}",
            )
        )

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = authenticated(req)
        limit = self._settings.max_upload_bytes
        if is_multipart(req):
            form_only(req, UPLOAD_FIELDS)
            fields, file_part = read_fields(form_parts(req, limit), UPLOAD_FIELDS)
            if file_part is None:
                raise ValidationError.field("file", "is required (after the metadata fields)")
            if "title" not in fields and (title := title_from_file_name(file_name(file_part))):
                fields["title"] = title
            video = self._upload(caller, upload_command(fields, file_part.stream))
        else:
            command = upload_command(query_fields(req, UPLOAD_FIELDS), request_body(req, limit))
            # A raw body's Content-Length is the video's size: checked against the quota
            # before a byte is read.
            video = self._upload(caller, evolve(command, declared_size=req.content_length))
        resp.location = f"{API}/videos/{video.id}"
        reply(resp, VideoView.of(video), 201)

    def _upload(self, caller: Caller, command: UploadVideo) -> Video:
        return self._videos.upload(caller, command)


class VideoItem:
    def __init__(
        self, video_cache: PublicVideoCache | None, videos: VideoService, json_limit: int
    ) -> None:
        self._video_cache = video_cache
        self._videos = videos
        self._json_limit = json_limit

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        caller = caller_of(req)
        cache = self._video_cache
        multiprocess = bool(req.env.get("wsgi.multiprocess"))
        if caller.user_id is not None or cache is None or not cache.enabled_for(multiprocess):
            cache = None
        body = cache.get(video_id) if cache is not None else None
        if body is None:
            ticket = cache.ticket(video_id) if cache is not None else (0, 0)
            video = self._videos.get(caller, VideoId(video_id))
            body = json_bytes(VideoView.data(video))
            if cache is not None:
                cache.keep(video, body, ticket)
        resp.content_type = falcon.MEDIA_JSON
        resp.data = body

    def on_patch(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        body = read_json(req, VideoPatch, self._json_limit)
        category_id: CategoryId | None = None
        if body.category_id is not None and body.category_id is not UNCHANGED:
            category_id = CategoryId(body.category_id)
        command = UpdateVideo(
            title=body.title,
            description=body.description,
            category_id=category_id,
            clear_category=body.category_id is None,
            tags=body.tags,
            visibility=Visibility(body.visibility) if body.visibility else None,
            poster_at_seconds=body.poster_at_seconds,
        )
        video = self._videos.update(caller_of(req), VideoId(video_id), command)
        reply(resp, VideoView.of(video))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        self._videos.delete(caller_of(req), VideoId(video_id))
        no_content(resp)


class VideoViews:
    def __init__(self, videos: VideoService) -> None:
        self._videos = videos

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        self._videos.record_view(caller_of(req), VideoId(video_id))
        no_content(resp)


class VideoProgress:
    def __init__(self, processing: ProcessingService) -> None:
        self._processing = processing

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        state = self._processing.progress(caller_of(req), VideoId(video_id))
        reply(resp, ProcessingView.of(state))


class VideoEvents:
    def __init__(
        self, follower: ProgressFollower, stream_limit: int, open_streams: Gauge | None = None
    ) -> None:
        self._follower = follower
        self._slots = StreamSlots(stream_limit, open_streams)

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        self._slots.take()
        try:
            states = self._follower.follow(caller_of(req), VideoId(video_id))
        except BaseException:
            self._slots.give_back()
            raise
        resp.content_type = EVENT_STREAM
        resp.set_header("Cache-Control", "no-store")
        resp.set_header("X-Accel-Buffering", "no")  # nginx: pass each event on at once
        resp.stream = EventStream(states, self._slots)


class VideoRetry:
    def __init__(self, processing: ProcessingService) -> None:
        self._processing = processing

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        state = self._processing.retry(authenticated(req), VideoId(video_id))
        reply(resp, ProcessingView.of(state), 202)


class VideoReprocess:
    def __init__(self, processing: ProcessingService) -> None:
        self._processing = processing

    def on_post(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        state = self._processing.reprocess(authenticated(req), VideoId(video_id))
        reply(resp, ProcessingView.of(state), 202)


TEXT = {"type": "string"}
UPLOAD_PARAMS = (
    Param(
        "title",
        "query",
        lambda: {"type": "string", **text_rules(MAX_TITLE)()},
        f"raw body only: 1 to {MAX_TITLE} characters (default {UNTITLED})",
    ),
    Param(
        "description", "query", lambda: {"type": "string", **description_rules()}, "raw body only"
    ),
    Param("category_id", "query", TEXT, "raw body only"),
    Param("tags", "query", tags_text_rules, "raw body only: comma-separated tags"),
    enum_param(
        "visibility",
        Visibility,
        "raw body only (default: the uploader's default visibility, private unless changed)",
    ),
)
UPLOAD_DESCRIPTION = (
    "Send the video either as the raw request body, with its metadata in the query "
    "string, or as multipart/form-data with the text fields title (default: the file "
    f"part's file name without its extension, or {UNTITLED}), "
    "description, category_id, tags (comma-separated) and visibility FIRST, followed by "
    "the part named `file` (anything after the file part is ignored). The body streams "
    "into storage; its type is decided from its first bytes, never from a name or a "
    "Content-Type: anything but a video container (MP4, QuickTime, Matroska, WebM, AVI, "
    "MPEG-TS, MPEG-PS, FLV, Ogg, 3GP, ASF...) or a sound recording (MP3, AAC/M4A, FLAC, "
    "WAV, AIFF, Ogg Vorbis/Opus) is refused with 415 and nothing is stored. A recording "
    "becomes a video with one audio-only rendition (`kind: audio`). "
    "A Content-Length over the upload limit is refused with 413 before the body is read; "
    "a chunked body is stopped with 413 as soon as it passes the limit."
)
EVENTS_DESCRIPTION = (
    "Server-Sent Events. The first event (`status`) is the current state, then one event "
    "per change: `status` when the status changes, `progress` otherwise; each `data` is "
    "the JSON of GET .../progress and each `id` counts up from 1 within the stream. A "
    "comment is sent every 15 seconds while nothing changes. The stream ends after "
    "`ready` or `failed` (close the client then: an EventSource would reconnect), when "
    "the video can no longer be seen, or after 30 minutes (reconnect: the first event is "
    "again the current state; Last-Event-ID is not needed). Authenticate with the usual "
    "Authorization header (browsers: a fetch-based event-stream reader, since "
    "EventSource sends no headers; public videos need none). Each process serves a "
    "limited number of streams at once; beyond that, 503 `too_many_streams`."
)
EVENT_STREAM_SCHEMA: Schema = {
    "type": "string",
    "contentMediaType": EVENT_STREAM,
    "description": "Server-Sent Events (text/event-stream): first `retry: 5000`, then "
    "events of the fields `event` (a name below), `id` (1, 2, 3...) and `data` (one line "
    "of JSON, of the schema below for that name), and comment lines (`: ...`) as "
    "keep-alives. JSON Schema cannot describe a stream, so `x-events` names each event "
    "and the schema of its data.",
    "x-events": {
        "status": {"$ref": "#/components/schemas/ProcessingView"},
        "progress": {"$ref": "#/components/schemas/ProcessingView"},
    },
}
FILTER_PARAMS = (
    Param("owner", "query", TEXT, "a user id, or `me`"),
    Param("category", "query", TEXT, "a category id"),
    Param("tag", "query", TEXT, "one tag (case-insensitive)"),
)
"""Filters the video list and search share."""
LIST_PARAMS = (
    *FILTER_PARAMS,
    enum_param("visibility", Visibility, "only videos with this visibility"),
    enum_param("status", VideoStatus, "only videos in this processing state"),
    enum_param("sort", VideoSort, "order (default newest)"),
    CURSOR,
    LIMIT,
)


# `/processing` and `/progress` answered the same question; `/progress` stays.
PROCESSING_PATH_RETIRED = ("Sun, 06 Dec 2026 00:00:00 GMT", "Wed, 30 Jun 2027 00:00:00 GMT")


def routes(c: HttpContext) -> list[Route]:
    tag = "videos"
    return [
        Route(
            f"{API}/videos",
            Videos(c.platform.videos, c.platform.settings),
            (
                Operation(
                    "GET",
                    "List videos",
                    tag,
                    (Reply(200, "Videos the caller may see in lists", VideoPage),),
                    params=LIST_PARAMS,
                    errors=(401, 422),
                    description=(
                        "Public ready videos, plus the caller's own; moderators see all. "
                        "Keyset pages: pass next_cursor back as cursor with the same filters."
                    ),
                ),
                Operation(
                    "POST",
                    "Upload a video",
                    tag,
                    (
                        Reply(
                            201,
                            "Created; processing is queued",
                            VideoView,
                            headers={"Location": "the new video's URL"},
                        ),
                    ),
                    params=UPLOAD_PARAMS,
                    body=Body(
                        None,
                        VIDEO_MEDIA,
                        "the video: raw bytes, or a form (see description)",
                        min_length=1,
                        form=UPLOAD_PARAMS,
                    ),
                    auth="required",
                    errors=(403, 404, 413, 415, 422),
                    description=UPLOAD_DESCRIPTION,
                    scope=Scope.UPLOAD,
                ),
            ),
        ),
        Route(
            f"{API}/videos/{{video_id}}",
            VideoItem(c.video_cache, c.platform.videos, c.json_limit),
            (
                Operation(
                    "GET",
                    "Get a video",
                    tag,
                    (Reply(200, "The video", VideoView),),
                    errors=(401, 404),
                    description="Another user's private video is 404, exactly like a missing one.",
                ),
                Operation(
                    "PATCH",
                    "Update a video",
                    tag,
                    (Reply(200, "The updated video", VideoView),),
                    body=Body(VideoPatch),
                    auth="required",
                    errors=(403, 404),
                    description="Owner or moderator. Absent fields are unchanged.",
                ),
                Operation(
                    "DELETE",
                    "Delete a video",
                    tag,
                    (Reply(204, "Deleted, with its shares revoked and its bytes removed"),),
                    auth="required",
                    errors=(403, 404),
                ),
            ),
        ),
        Route(
            f"{API}/videos/{{video_id}}/views",
            VideoViews(c.platform.videos),
            (
                Operation(
                    "POST",
                    "Record a view",
                    tag,
                    (Reply(204, "Counted"),),
                    errors=(401, 404),
                    scope=Scope.READ,
                ),
            ),
        ),
        Route(
            f"{API}/videos/{{video_id}}/processing",
            VideoProgress(c.platform.processing),
            (
                Operation(
                    "GET",
                    "Processing progress (deprecated: use /progress)",
                    tag,
                    (Reply(200, "Status, progress, attempts and last error", ProcessingView),),
                    errors=(401, 404),
                    description=(
                        "The same answer as `GET /videos/{video_id}/progress`, which "
                        "replaces it; this path goes away at its Sunset date."
                    ),
                    deprecated=PROCESSING_PATH_RETIRED,
                ),
            ),
        ),
        Route(
            f"{API}/videos/{{video_id}}/progress",
            VideoProgress(c.platform.processing),
            (
                Operation(
                    "GET",
                    "Processing progress",
                    tag,
                    (Reply(200, "Status, progress, attempts and last error", ProcessingView),),
                    errors=(401, 404),
                    description="Whoever may see the video may follow its processing.",
                ),
            ),
        ),
        Route(
            f"{API}/videos/{{video_id}}/events",
            VideoEvents(
                c.platform.resolve(ProgressFollower),
                c.platform.settings.event_stream_limit,
                c.metrics.event_streams if c.metrics is not None else None,
            ),
            (
                Operation(
                    "GET",
                    "Follow processing",
                    tag,
                    (
                        Reply(
                            200,
                            "An event stream of the video's processing states",
                            media=EVENT_STREAM,
                            schema=EVENT_STREAM_SCHEMA,
                        ),
                    ),
                    errors=(401, 404, 503),
                    description=EVENTS_DESCRIPTION,
                ),
            ),
        ),
        Route(
            f"{API}/videos/{{video_id}}/retry",
            VideoRetry(c.platform.processing),
            (
                Operation(
                    "POST",
                    "Retry processing",
                    tag,
                    (Reply(202, "Queued to be processed again", ProcessingView),),
                    auth="required",
                    errors=(403, 404, 409),
                    description=(
                        "Moderators only. A failed video goes back to uploaded with a fresh "
                        "budget of attempts and is queued; any other state is 409 "
                        "`video_not_failed`."
                    ),
                ),
            ),
        ),
        Route(
            f"{API}/videos/{{video_id}}/reprocess",
            VideoReprocess(c.platform.processing),
            (
                Operation(
                    "POST",
                    "Process a ready video again",
                    tag,
                    (Reply(202, "Queued to be processed again", ProcessingView),),
                    auth="required",
                    errors=(403, 404, 409),
                    description=(
                        "The owner or a moderator. A ready video is processed again with "
                        "the current settings (ladder, posters, captions in the source). "
                        "It stays `ready` with `reprocessing: true` and keeps playing its "
                        "current renditions until the new ones replace them in one step; "
                        "playback URLs issued before then stop working at that moment "
                        "(issue new ones). Follow it with .../events. If it fails, the "
                        "video stays as it was, with `last_error` and `failure_code` "
                        "saying why. A video that is not ready is 409 `video_not_ready`; "
                        "one already queued is 409 `already_reprocessing`."
                    ),
                ),
            ),
        ),
    ]
