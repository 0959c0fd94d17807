"""Subtitle streams found in a source become caption tracks when the video is published:
one per language, an uploaded track in the same language winning, replaced (old bytes
removed) when the video is processed again."""

from __future__ import annotations

import io

from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.media import synthetic_clip
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.application.captions import PutCaptions
from videoplatform.application.context import Caller
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.captions import CaptionOrigin
from videoplatform.domain.ids import VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform


def upload(platform: Platform, owner: Caller, **clip: object) -> VideoId:
    video = platform.videos.upload(
        owner,
        UploadVideo(
            "Subtitled",
            io.BytesIO(synthetic_clip(**clip)),  # type: ignore[arg-type]
            visibility=Visibility.PUBLIC,
        ),
    )
    return video.id


def caption_keys(storage: MemoryObjectStorage, video: VideoId) -> set[str]:
    return {k for k in storage._objects if k.startswith(f"videos/{video}/captions/")}


def test_each_language_found_in_the_source_becomes_a_track(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    owner = make_user(Role.CREATOR)
    video = upload(
        platform,
        owner,
        duration=4.0,
        subtitles=[
            {"language": "eng", "text": "Hello"},
            {"language": "fre", "text": "Bonjour"},
            {"language": "eng", "text": "Second English"},
            "xx!",
        ],
    )
    assert platform.processing.process("job-1", video) is ProcessingOutcome.READY
    tracks = platform.captions.list(owner, video)
    assert [(t.language, t.label, t.origin, t.cue_count) for t in tracks] == [
        ("en", "English", CaptionOrigin.EMBEDDED, 1),
        ("fr", "Français", CaptionOrigin.EMBEDDED, 1),
        ("und", "Unknown language", CaptionOrigin.EMBEDDED, 1),
    ]
    _, text = platform.captions.text(owner, video, "en")
    assert text == "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nHello\n"
    assert len(caption_keys(storage, video)) == 3  # nothing stored for the second "eng"


def test_an_uploaded_track_wins_and_reprocessing_refreshes_embedded_ones(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    owner = make_user(Role.CREATOR)
    video = upload(
        platform,
        owner,
        subtitles=[
            {"language": "eng", "text": "From the file"},
            {"language": "spa", "text": "Hola"},
        ],
    )
    assert platform.processing.process("job-1", video) is ProcessingOutcome.READY
    mine = b"WEBVTT\n\n00:01.000 --> 00:02.000\nMine\n"
    platform.captions.put(owner, video, PutCaptions("en", io.BytesIO(mine)))
    before = {t.language: t.storage_key for t in platform.captions.list(owner, video)}

    platform.processing.reprocess(owner, video)
    assert platform.processing.process("job-2", video) is ProcessingOutcome.READY
    after = {t.language: t for t in platform.captions.list(owner, video)}
    assert after["en"].origin is CaptionOrigin.UPLOADED
    assert after["en"].storage_key == before["en"]  # the owner's track is untouched
    assert after["es"].origin is CaptionOrigin.EMBEDDED
    assert after["es"].storage_key != before["es"]  # a fresh copy of the source's
    assert caption_keys(storage, video) == {t.storage_key for t in after.values()}
    assert "Mine" in platform.captions.text(owner, video, "en")[1]


def test_a_video_without_subtitle_streams_gets_no_tracks(
    platform: Platform, make_user: MakeUser, storage: MemoryObjectStorage
) -> None:
    owner = make_user(Role.CREATOR)
    video = upload(platform, owner)
    assert platform.processing.process("job-1", video) is ProcessingOutcome.READY
    assert platform.captions.list(owner, video) == []
    assert caption_keys(storage, video) == set()
