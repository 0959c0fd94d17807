"""Caption and subtitle tracks of a video, one per language: list them, read one as
WebVTT, add or replace one by sending WebVTT or SRT, delete one. Players find them in the
signed master playlist (see playback)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import falcon
from attrs import frozen

from videoplatform.application.captions import CaptionService, PutCaptions
from videoplatform.domain.caption_text import MAX_CAPTION_BYTES, MAX_CUE_CHARS, MAX_CUES
from videoplatform.domain.captions import MAX_LABEL, MAX_TRACKS, CaptionKind, CaptionTrack
from videoplatform.domain.ids import VideoId
from videoplatform.domain.users import Scope
from videoplatform.entrypoints.http.middleware import caller_of
from videoplatform.entrypoints.http.openapi import Body, Operation, Param, Reply, Route
from videoplatform.entrypoints.http.resources.common import (
    API,
    HttpContext,
    no_content,
    reply,
)
from videoplatform.entrypoints.http.uploads import LaterBody, authenticated

VTT = "text/vtt"
CAPTION_MEDIA = (VTT, "application/x-subrip", "text/plain", "application/octet-stream")


@frozen
class CaptionView:
    """One caption track. ``origin`` says whether it was uploaded or found in the
    source by processing."""

    language: str
    label: str
    kind: Literal["subtitles", "captions"]
    origin: Literal["uploaded", "embedded"]
    cue_count: int
    size: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, track: CaptionTrack) -> CaptionView:
        return cls(
            track.language,
            track.label,
            track.kind.value,
            track.origin.value,
            track.cue_count,
            track.size,
            track.created_at,
            track.updated_at,
        )


class Captions:
    def __init__(self, captions: CaptionService) -> None:
        self._captions = captions

    def on_get(self, req: falcon.Request, resp: falcon.Response, video_id: str) -> None:
        tracks = self._captions.list(caller_of(req), VideoId(video_id))
        reply(resp, [CaptionView.of(t) for t in tracks])


class CaptionTrackResource:
    def __init__(self, captions: CaptionService) -> None:
        self._captions = captions

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, video_id: str, language: str
    ) -> None:
        track, text = self._captions.text(caller_of(req), VideoId(video_id), language)
        resp.content_type = f"{VTT}; charset=utf-8"
        resp.set_header("Content-Language", track.language)
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.text = text

    def on_put(
        self, req: falcon.Request, resp: falcon.Response, video_id: str, language: str
    ) -> None:
        caller = authenticated(req)
        command = PutCaptions(
            language=language,
            source=LaterBody(req, MAX_CAPTION_BYTES),
            # Read as sent: the service judges them once the caller's right is settled.
            label=req.get_param("label"),
            kind=req.get_param("kind") or CaptionKind.SUBTITLES,
        )
        stored = self._captions.put(caller, VideoId(video_id), command)
        reply(resp, CaptionView.of(stored.track), 201 if stored.created else 200)

    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, video_id: str, language: str
    ) -> None:
        self._captions.delete(authenticated(req), VideoId(video_id), language)
        no_content(resp)


LANGUAGE_NOTE = (
    "`language` is a BCP 47 tag (en, pt-BR, zh-Hant; a three-letter code with a "
    "two-letter equivalent becomes that: eng is en)."
)


def routes(c: HttpContext) -> list[Route]:
    tag = "captions"
    service = c.platform.captions
    return [
        Route(
            f"{API}/videos/{{video_id}}/captions",
            Captions(service),
            (
                Operation(
                    "GET",
                    "List caption tracks",
                    tag,
                    (Reply(200, "The video's tracks, by language", list[CaptionView]),),
                    auth="optional",
                    errors=(404,),
                    description="Anyone who may see the video; 404 for anyone else.",
                ),
            ),
        ),
        Route(
            f"{API}/videos/{{video_id}}/captions/{{language}}",
            CaptionTrackResource(service),
            (
                Operation(
                    "GET",
                    "Read a caption track",
                    tag,
                    (Reply(200, "The track as WebVTT", media=VTT, schema={"type": "string"}),),
                    auth="optional",
                    errors=(404,),
                    description=(
                        "Anyone who may see the video. The WebVTT as stored (sanitised), "
                        "cue times from 0. 404 not_found for a video the caller cannot "
                        f"see, caption_not_found for a language it has no track in. "
                        f"{LANGUAGE_NOTE}"
                    ),
                ),
                Operation(
                    "PUT",
                    "Add or replace a caption track",
                    tag,
                    (
                        Reply(201, "Added", CaptionView),
                        Reply(200, "Replaced the track in that language", CaptionView),
                    ),
                    params=(
                        Param(
                            "label",
                            "query",
                            {"type": "string", "maxLength": MAX_LABEL},
                            "what players' menus show (default: the language's name)",
                        ),
                        Param(
                            "kind",
                            "query",
                            {"type": "string", "enum": [k.value for k in CaptionKind]},
                            "subtitles (default) or captions (dialogue and sounds, for "
                            "viewers who cannot hear them)",
                        ),
                    ),
                    body=Body(
                        media=CAPTION_MEDIA,
                        description=(
                            f"WebVTT or SRT, UTF-8 (or UTF-16 with a BOM), at most "
                            f"{MAX_CAPTION_BYTES} bytes, {MAX_CUES} cues, "
                            f"{MAX_CUE_CHARS} characters a cue. The format is read from "
                            "the bytes, whatever the Content-Type says."
                        ),
                    ),
                    auth="required",
                    errors=(403, 404, 409, 413, 422),
                    description=(
                        "The owner or a moderator. The file is converted to WebVTT (SRT "
                        "timings and line breaks), and only WebVTT's own markup is kept "
                        "(<b>, <i>, <u>, <c>, <v>, <lang>, <ruby>, <rt>, timestamps): "
                        "anything else is removed, with its text kept. Audited. 403 "
                        "for someone who may see the video but not change it, 404 for "
                        "anyone else; 409 too_many_captions past "
                        f"{MAX_TRACKS} languages; 413 past the size limit; 422 "
                        "validation_failed on `file` (not WebVTT or SRT, no cues, a "
                        f"limit broken), `language`, `label` or `kind`. {LANGUAGE_NOTE}"
                    ),
                    scope=Scope.UPLOAD,
                ),
                Operation(
                    "DELETE",
                    "Delete a caption track",
                    tag,
                    (Reply(204, "Deleted"),),
                    auth="required",
                    errors=(403, 404),
                    description=(
                        "The owner or a moderator; audited. 404 caption_not_found when "
                        "the video has no track in that language."
                    ),
                ),
            ),
        ),
    ]
