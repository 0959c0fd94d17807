"""Caption and subtitle tracks: the owner (or a moderator) uploads WebVTT or SRT per
language, anyone who may see the video lists and reads them, and processing adopts the
text subtitle streams it finds in the source. Every version is stored under a key of its
own (``videos/<id>/captions/<track>.vtt``), so replacing one never changes bytes a
player is reading; the old object goes after the commit that replaced it."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import datetime

from attrs import frozen

from videoplatform.application.context import Caller, current_user, require_user
from videoplatform.application.essentials import Essentials, UseCases
from videoplatform.application.ports.media import SubtitleText
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.ports.storage import ObjectStorage, ReadableStream
from videoplatform.application.ports.system import IdGenerator
from videoplatform.application.video_access import managed_video, visible_video
from videoplatform.application.video_jobs import video_prefix
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.caption_text import MAX_CAPTION_BYTES, CaptionDocument, parse_captions
from videoplatform.domain.captions import (
    MAX_TRACKS,
    CaptionKind,
    CaptionOrigin,
    CaptionTrack,
    clean_label,
    normalize_language,
)
from videoplatform.domain.errors import (
    Conflict,
    NotFound,
    QuotaExceeded,
    ValidationError,
)
from videoplatform.domain.ids import CaptionId, VideoId
from videoplatform.domain.videos import Video

log = logging.getLogger(__name__)

TOO_MANY = "too_many_captions"
CAPTION_NOT_FOUND = "caption_not_found"


@frozen
class PutCaptions:
    """A track to add, or to replace the one in its language: WebVTT or SRT bytes."""

    language: str
    source: ReadableStream
    label: str | None = None
    kind: CaptionKind | str = CaptionKind.SUBTITLES
    """A :class:`CaptionKind` or its value ("subtitles", "captions")."""


@frozen
class StoredCaptions:
    track: CaptionTrack
    created: bool
    """False when it replaced the video's track in that language."""


def caption_key(video_id: VideoId, track_id: CaptionId) -> str:
    return f"{video_prefix(video_id)}captions/{track_id}.vtt"


@frozen
class PreparedCaptions:
    language: str
    document: CaptionDocument
    key: str
    track_id: CaptionId


class CaptionService(UseCases):
    def __init__(self, essentials: Essentials, storage: ObjectStorage) -> None:
        super().__init__(essentials)
        self._storage = storage

    # -- reading ------------------------------------------------------------------------

    def list(self, caller: Caller, video_id: VideoId) -> list[CaptionTrack]:
        """The tracks of a video the caller may see, by language; NotFound otherwise."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_READ, "video", video_id),
            self._uow() as uow,
        ):
            self._visible(uow, caller, video_id)
            return uow.captions.list_for_video(video_id)

    def text(self, caller: Caller, video_id: VideoId, language: str) -> tuple[CaptionTrack, str]:
        """A track and its WebVTT, for a caller who may see the video."""
        with (
            self._audit.refusals(caller, AuditAction.VIDEO_READ, "video", video_id),
            self._uow() as uow,
        ):
            self._visible(uow, caller, video_id)
            track = self._track(uow, video_id, language)
        return track, self.read(track)

    def read(self, track: CaptionTrack) -> str:
        """The stored WebVTT of ``track`` (sanitised when it was stored)."""
        try:
            return b"".join(self._storage.get(track.storage_key)).decode("utf-8")
        except NotFound:
            raise NotFound("no captions in that language", code=CAPTION_NOT_FOUND) from None

    # -- changing -----------------------------------------------------------------------

    def put(self, caller: Caller, video_id: VideoId, command: PutCaptions) -> StoredCaptions:
        """Add the video's track in ``command.language``, or replace it. The caller's
        right is settled before the file is read; the file is converted to sanitised
        WebVTT (ValidationError on the field ``file`` when it is neither WebVTT nor SRT
        or breaks a limit; QuotaExceeded over ``MAX_CAPTION_BYTES``). Conflict
        (``too_many_captions``) past ``MAX_TRACKS`` languages."""
        with (
            self._audit.refusals(caller, AuditAction.CAPTION_UPLOAD, "video", video_id),
            self._uow() as uow,
        ):
            self._managed(uow, caller, video_id)
        language = normalize_language(command.language)
        label = clean_label(command.label, language)
        kind = _kind(command.kind)
        raw = command.source.read(MAX_CAPTION_BYTES + 1)
        if len(raw) > MAX_CAPTION_BYTES:
            raise QuotaExceeded(
                f"a captions file may be at most {MAX_CAPTION_BYTES // (1024 * 1024)} MiB",
                code="payload_too_large",
            )
        document = parse_captions(raw)
        track_id = CaptionId(self._ids.new_id())
        key = caption_key(video_id, track_id)
        self._store(key, document)
        try:
            stored, old_key = self._record(
                caller, video_id, language, label, kind, document, key, track_id
            )
        except BaseException:
            self._storage.delete(key)
            raise
        if old_key is not None:
            self._forget(old_key)
        return stored

    def _record(
        self,
        caller: Caller,
        video_id: VideoId,
        language: str,
        label: str,
        kind: CaptionKind,
        document: CaptionDocument,
        key: str,
        track_id: CaptionId,
    ) -> tuple[StoredCaptions, str | None]:
        with (
            self._audit.refusals(caller, AuditAction.CAPTION_UPLOAD, "video", video_id),
            self._uow() as uow,
        ):
            self._managed(uow, caller, video_id)  # again: it may have changed meanwhile
            now = self._clock.now()
            existing = uow.captions.find(video_id, language)
            size = len(document.webvtt.encode("utf-8"))
            old_key: str | None = None
            if existing is None:
                if len(uow.captions.list_for_video(video_id)) >= MAX_TRACKS:
                    raise Conflict(
                        f"a video may have captions in at most {MAX_TRACKS} languages",
                        code=TOO_MANY,
                    )
                track = CaptionTrack.new(
                    id=track_id,
                    video_id=video_id,
                    language=language,
                    label=label,
                    kind=kind,
                    origin=CaptionOrigin.UPLOADED,
                    storage_key=key,
                    cue_count=document.cue_count,
                    size=size,
                    now=now,
                )
                uow.captions.add(track)
            else:
                track = existing
                old_key = track.replace(
                    label=label,
                    kind=kind,
                    origin=CaptionOrigin.UPLOADED,
                    storage_key=key,
                    cue_count=document.cue_count,
                    size=size,
                    now=now,
                )
                uow.captions.save(track)
            self._audit.record(
                uow,
                caller,
                AuditAction.CAPTION_UPLOAD,
                "video",
                video_id,
                metadata={
                    "language": language,
                    "cues": str(document.cue_count),
                    "format": document.source_format,
                    "replaced": "true" if existing is not None else "false",
                },
            )
            uow.commit()
        return StoredCaptions(track, existing is None), old_key

    def delete(self, caller: Caller, video_id: VideoId, language: str) -> None:
        """Remove the video's track in ``language``; NotFound when it has none."""
        with (
            self._audit.refusals(caller, AuditAction.CAPTION_DELETE, "video", video_id),
            self._uow() as uow,
        ):
            self._managed(uow, caller, video_id)
            track = self._track(uow, video_id, language)
            uow.captions.delete(track.id)
            self._audit.record(
                uow,
                caller,
                AuditAction.CAPTION_DELETE,
                "video",
                video_id,
                metadata={"language": track.language, "origin": track.origin.value},
            )
            uow.commit()
        self._forget(track.storage_key)

    # -- helpers ------------------------------------------------------------------------

    def _store(self, key: str, document: CaptionDocument) -> None:
        _store(self._storage, key, document)

    def _forget(self, key: str) -> None:
        _forget(self._storage, key)

    @staticmethod
    def _visible(uow: UnitOfWork, caller: Caller, video_id: VideoId) -> Video:
        return visible_video(uow, current_user(uow, caller), video_id)

    @staticmethod
    def _managed(uow: UnitOfWork, caller: Caller, video_id: VideoId) -> Video:
        return managed_video(
            uow,
            require_user(uow, caller),
            video_id,
            "only the owner or a moderator may change captions",
        )

    @staticmethod
    def _track(uow: UnitOfWork, video_id: VideoId, language: str) -> CaptionTrack:
        try:
            wanted = normalize_language(language)
        except ValidationError:
            wanted = ""
        track = uow.captions.find(video_id, wanted) if wanted else None
        if track is None:
            raise NotFound("no captions in that language", code=CAPTION_NOT_FOUND)
        return track


def _kind(raw: CaptionKind | str) -> CaptionKind:
    try:
        return CaptionKind(raw)
    except ValueError:
        raise ValidationError.field("kind", "must be subtitles or captions") from None


def _store(storage: ObjectStorage, key: str, document: CaptionDocument) -> None:
    storage.put(key, io.BytesIO(document.webvtt.encode("utf-8")))


def _forget(storage: ObjectStorage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # the record is gone or moved on; old bytes are only an orphan
        log.warning("captions object %s not removed", key, exc_info=True)


class EmbeddedCaptions:
    """What processing does with the text subtitle streams it finds in a source: store
    them sanitised before publishing, and adopt them in the commit that publishes."""

    def __init__(self, storage: ObjectStorage, ids: IdGenerator) -> None:
        self._storage = storage
        self._ids = ids

    def prepare_embedded(
        self, video_id: VideoId, found: Sequence[SubtitleText]
    ) -> list[PreparedCaptions]:
        """Sanitise and store the text subtitle streams processing found (before the
        commit that adopts them). One per language, the first of each; those that are
        not valid captions are left out with a log line."""
        prepared: dict[str, PreparedCaptions] = {}
        for stream in found:
            try:
                language = normalize_language(stream.language)
            except ValidationError:
                language = "und"
            if language in prepared:
                log.info("video %s: a second %s subtitle stream left out", video_id, language)
                continue
            try:
                document = parse_captions(stream.webvtt.encode("utf-8"))
            except (ValidationError, QuotaExceeded) as refused:
                log.info("video %s: %s subtitles left out: %s", video_id, language, refused)
                continue
            track_id = CaptionId(self._ids.new_id())
            key = caption_key(video_id, track_id)
            _store(self._storage, key, document)
            prepared[language] = PreparedCaptions(language, document, key, track_id)
        return list(prepared.values())

    @staticmethod
    def adopt_embedded(
        uow: UnitOfWork, video: Video, prepared: Sequence[PreparedCaptions], now: datetime
    ) -> tuple[list[str], list[str]]:
        """In the unit of work that publishes ``video``: make the prepared streams its
        embedded tracks. A language with an uploaded track keeps it (the owner's choice
        wins); an embedded one is replaced. Returns the storage keys to remove after the
        commit (replaced versions) and those to remove if it fails or once it is done
        (prepared but not adopted)."""
        replaced: list[str] = []
        unused: list[str] = []
        count = len(uow.captions.list_for_video(video.id))
        for item in prepared:
            existing = uow.captions.find(video.id, item.language)
            size = len(item.document.webvtt.encode("utf-8"))
            if existing is not None and existing.origin is CaptionOrigin.UPLOADED:
                unused.append(item.key)
            elif existing is not None:
                replaced.append(
                    existing.replace(
                        label=existing.label,
                        kind=existing.kind,
                        origin=CaptionOrigin.EMBEDDED,
                        storage_key=item.key,
                        cue_count=item.document.cue_count,
                        size=size,
                        now=now,
                    )
                )
                uow.captions.save(existing)
            elif count >= MAX_TRACKS:
                unused.append(item.key)
            else:
                count += 1
                uow.captions.add(
                    CaptionTrack.new(
                        id=item.track_id,
                        video_id=video.id,
                        language=item.language,
                        label=clean_label(None, item.language),
                        origin=CaptionOrigin.EMBEDDED,
                        storage_key=item.key,
                        cue_count=item.document.cue_count,
                        size=size,
                        kind=CaptionKind.SUBTITLES,
                        now=now,
                    )
                )
        return replaced, unused

    def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            _forget(self._storage, key)
