"""Helpers for the use-case tests: reading the audit trail, publishing videos.

The platform, its ports and ``make_user`` come from ``tests/unit/conftest.py``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import pytest

from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.video_commands import UploadVideo
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.ids import CategoryId, VideoId
from videoplatform.domain.videos import MediaInfo, PlaybackAssets, Rendition, Video, Visibility
from videoplatform.entrypoints.bootstrap import Platform

Trail = Callable[[AuditFilter], list[AuditEvent]]


@pytest.fixture
def trail(platform: Platform, admin: Caller) -> Trail:
    """Every audit event matching the filter, newest first (all pages, read as admin)."""

    def search(filters: AuditFilter) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        cursor: str | None = None
        while True:
            page = platform.audit.search(admin, filters, cursor, 100)
            events.extend(page.items)
            if page.next_cursor is None:
                return events
            cursor = page.next_cursor

    return search


def only_event(
    trail: Trail,
    action: AuditAction,
    result: AuditResult,
    resource_id: str | None = None,
    actor_id: str | None = None,
) -> AuditEvent:
    """The single event with that action and result (and resource/actor when given)."""
    events = [
        e
        for e in trail(AuditFilter(action=action, result=result))
        if (resource_id is None or e.resource_id == resource_id)
        and (actor_id is None or e.actor_id == actor_id)
    ]
    assert len(events) == 1, events
    return events[0]


class Studio:
    """Uploads videos and drives them through processing via the domain, as a worker would."""

    def __init__(
        self, platform: Platform, uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock
    ) -> None:
        self.platform = platform
        self.uow_factory = uow_factory
        self.clock = clock

    def upload(
        self,
        caller: Caller,
        *,
        title: str = "A clip",
        data: bytes = b"\x00\x00\x00\x18ftypmp42 fake video bytes",
        visibility: Visibility = Visibility.PUBLIC,
        tags: Sequence[str] = (),
        category_id: CategoryId | None = None,
        description: str = "",
    ) -> Video:
        return self.platform.videos.upload(
            caller,
            UploadVideo(
                title=title,
                source=io.BytesIO(data),
                description=description,
                category_id=category_id,
                tags=tags,
                visibility=visibility,
            ),
        )

    def ready(self, video_id: VideoId) -> None:
        with self.uow_factory() as uow:
            video = uow.videos.get(video_id)
            now = self.clock.now()
            video.start_processing(now)
            video.mark_ready(
                media_info=MediaInfo(
                    duration_seconds=1.0,
                    width=320,
                    height=240,
                    video_codec="h264",
                    audio_codec=None,
                    fps=25.0,
                    bitrate=100_000,
                ),
                renditions=[
                    Rendition(
                        name="240p",
                        width=320,
                        height=240,
                        bitrate=100_000,
                        codecs="avc1.42E01E",
                        playlist_key="240p/index.m3u8",
                    )
                ],
                assets=PlaybackAssets(
                    prefix=f"videos/{video_id}/out/", master_playlist="master.m3u8"
                ),
                now=now,
            )
            uow.videos.save(video)
            uow.commit()

    def fail(self, video_id: VideoId, reason: str) -> None:
        """Processing starts, then fails for good with ``reason``."""
        with self.uow_factory() as uow:
            video = uow.videos.get(video_id)
            video.start_processing(self.clock.now())
            video.mark_failed(reason, self.clock.now())
            uow.videos.save(video)
            uow.commit()

    def start_processing(self, video_id: VideoId) -> None:
        with self.uow_factory() as uow:
            video = uow.videos.get(video_id)
            video.start_processing(self.clock.now())
            uow.videos.save(video)
            uow.commit()

    def publish(
        self,
        caller: Caller,
        *,
        title: str = "A clip",
        visibility: Visibility = Visibility.PUBLIC,
        tags: Sequence[str] = (),
        category_id: CategoryId | None = None,
    ) -> Video:
        """Upload and make ready; returns the stored (ready) video."""
        video = self.upload(
            caller, title=title, visibility=visibility, tags=tags, category_id=category_id
        )
        self.ready(video.id)
        with self.uow_factory() as uow:
            return uow.videos.get(video.id)


@pytest.fixture
def studio(platform: Platform, uow_factory: MemoryUnitOfWorkFactory, clock: ManualClock) -> Studio:
    return Studio(platform, uow_factory, clock)
