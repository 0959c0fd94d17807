"""Plain constructors for domain objects in a known state, shared by the domain specs.

They build aggregates directly (no use case, no adapter) so each spec states exactly the
state it starts from.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from videoplatform.domain.ids import FileId, ShareId, UserId, VideoId
from videoplatform.domain.users import Email, Role, User, UserStatus
from videoplatform.domain.videos import MediaInfo, Rendition, Video, VideoStatus, Visibility

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
ONE_MICROSECOND = timedelta(microseconds=1)

OWNER_ID = UserId("user-owner")
VIDEO_ID = VideoId("video-1")
FILE_ID = FileId("file-1")
SHARE_ID = ShareId("share-1")

RENDITION_720P = Rendition(
    name="720p",
    width=1280,
    height=720,
    bitrate=2_500_000,
    codecs="avc1.64001f,mp4a.40.2",
    playlist_key="videos/video-1/720p/index.m3u8",
)

MEDIA_INFO = MediaInfo(
    duration_seconds=12.5,
    width=1920,
    height=1080,
    video_codec="h264",
    audio_codec="aac",
    fps=30.0,
    bitrate=5_000_000,
)


def make_user(
    roles: Iterable[Role] = (Role.CREATOR,),
    *,
    user_id: str = "user-1",
    status: UserStatus = UserStatus.ACTIVE,
) -> User:
    return User(
        id=UserId(user_id),
        email=Email.parse(f"{user_id}@example.com"),
        display_name="Test User",
        password_hash="argon2-hash",
        roles=frozenset(roles),
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def make_video(
    status: VideoStatus = VideoStatus.UPLOADED,
    *,
    visibility: Visibility = Visibility.PRIVATE,
    owner_id: UserId = OWNER_ID,
) -> Video:
    ready = status is VideoStatus.READY
    return Video(
        id=VIDEO_ID,
        owner_id=owner_id,
        title="A video",
        visibility=visibility,
        status=status,
        source_key="sources/video-1",
        media_info=MEDIA_INFO if ready else None,
        renditions=(RENDITION_720P,) if ready else (),
        progress=100 if ready else 0,
        created_at=NOW,
        updated_at=NOW,
    )
