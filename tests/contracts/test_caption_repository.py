"""The caption repository keeps the persistence port's contract on every adapter.

See ``CaptionRepository`` in application/ports/persistence.py: one track per language of
a video (``caption_exists``), languages compared exactly, a video's tracks listed by
language in code-point order, optimistic versions, copies out, deletion one by one or
per video, and nothing visible until commit. Videos are stored before their tracks, so
the adapters with foreign keys run the same scenarios.
"""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest

from tests.contracts.test_unit_of_work import T0, a_user, a_video, at, conflict_code, read, store
from videoplatform.application.ports.persistence import (
    STALE_VERSION,
    UnitOfWork,
    UnitOfWorkFactory,
)
from videoplatform.domain.captions import CaptionKind, CaptionOrigin, CaptionTrack
from videoplatform.domain.errors import Conflict, NotFound
from videoplatform.domain.ids import CaptionId, VideoId

V1, V2 = VideoId("v1"), VideoId("v2")


def a_track(
    track_id: str,
    video_id: str = "v1",
    language: str = "en",
    *,
    label: str | None = None,
    created_at: datetime = T0,
) -> CaptionTrack:
    return CaptionTrack(
        id=CaptionId(track_id),
        video_id=VideoId(video_id),
        language=language,
        label=label or f"Track {track_id}",
        storage_key=f"captions/{video_id}/{track_id}.vtt",
        cue_count=12,
        size=480,
        created_at=created_at,
        updated_at=created_at,
    )


def add_tracks(factory: UnitOfWorkFactory, *tracks: CaptionTrack) -> None:
    with factory() as uow:
        for track in tracks:
            uow.captions.add(track)
        uow.commit()


def languages(uow: UnitOfWork, video_id: VideoId = V1) -> list[str]:
    return [t.language for t in uow.captions.list_for_video(video_id)]


@pytest.fixture
def videos(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """A stored owner with two stored videos, v1 and v2."""
    store(uow_factory, a_user("u1"))
    store(uow_factory, a_video("v1", "u1"), a_video("v2", "u1"))
    return uow_factory


def fields(track: CaptionTrack) -> dict[str, object]:
    return attrs.asdict(track, filter=lambda a, _: not a.name.startswith("_"))


# -- round trip and look-ups -----------------------------------------------------------


def test_a_track_is_stored_with_every_field_and_version_one(videos: UnitOfWorkFactory) -> None:
    track = attrs.evolve(
        a_track("c1", language="pt-BR", label="Português (Brasil) — “SDH”"),
        kind=CaptionKind.CAPTIONS,
        origin=CaptionOrigin.EMBEDDED,
        size=5_000_000_000,  # beyond 32 bits
        updated_at=at(5),
    )
    add_tracks(videos, track)
    assert track.version == 1
    stored = read(videos, lambda u: u.captions.get(CaptionId("c1")))
    assert fields(stored) == {**fields(track), "version": 1}


def test_a_missing_track_is_not_found_by_get_and_none_by_find(videos: UnitOfWorkFactory) -> None:
    with pytest.raises(NotFound):
        read(videos, lambda u: u.captions.get(CaptionId("missing")))
    assert read(videos, lambda u: u.captions.find(V1, "en")) is None
    assert read(videos, lambda u: u.captions.list_for_video(V1)) == []


def test_find_matches_the_video_and_the_language_exactly(videos: UnitOfWorkFactory) -> None:
    add_tracks(videos, a_track("c-en", "v1", "en"), a_track("c-pt", "v2", "pt-BR"))
    found = read(videos, lambda u: u.captions.find(V1, "en"))
    assert found is not None
    assert found.id == "c-en"
    # Tags arrive normalised: another case, a prefix or another video's tag is not a match.
    assert read(videos, lambda u: u.captions.find(V1, "EN")) is None
    assert read(videos, lambda u: u.captions.find(V1, "en-US")) is None
    assert read(videos, lambda u: u.captions.find(V2, "pt")) is None
    assert read(videos, lambda u: u.captions.find(V1, "pt-BR")) is None


def test_a_videos_tracks_are_listed_by_language_in_code_point_order(
    videos: UnitOfWorkFactory,
) -> None:
    add_tracks(
        videos,
        a_track("c1", "v1", "zh-Hant"),
        a_track("c2", "v1", "pt-BR"),
        a_track("c3", "v1", "zh-HK"),
        a_track("c4", "v1", "en"),
        a_track("c5", "v1", "pt"),
        a_track("c6", "v2", "de"),
    )
    # "zh-HK" before "zh-Hant" ("K" < "a"), whatever the database's default collation.
    assert read(videos, languages) == ["en", "pt", "pt-BR", "zh-HK", "zh-Hant"]
    assert read(videos, lambda u: languages(u, V2)) == ["de"]


# -- one track per language ------------------------------------------------------------


def test_a_second_track_in_one_language_is_refused_with_caption_exists(
    videos: UnitOfWorkFactory,
) -> None:
    add_tracks(videos, a_track("c1", "v1", "en"))
    # The same language on another video, or another language on this one, is fine.
    add_tracks(videos, a_track("c2", "v2", "en"), a_track("c3", "v1", "en-GB"))
    with videos() as uow:
        clash = a_track("c4", "v1", "en")
        assert conflict_code(lambda: uow.captions.add(clash), uow) == "caption_exists"
    with pytest.raises(NotFound):
        read(videos, lambda u: u.captions.get(CaptionId("c4")))
    assert read(videos, languages) == ["en", "en-GB"]


def test_two_units_of_work_adding_one_language_the_second_commit_fails(
    videos: UnitOfWorkFactory,
) -> None:
    with videos() as first, videos() as second:
        first.captions.add(a_track("first", "v1", "fr"))
        second.captions.add(a_track("second", "v1", "fr"))
        first.commit()
        with pytest.raises(Conflict) as caught:
            second.commit()
    assert caught.value.code == "caption_exists"
    found = read(videos, lambda u: u.captions.find(V1, "fr"))
    assert found is not None
    assert found.id == "first"


def test_a_deleted_tracks_language_can_be_reused_in_the_same_unit_of_work(
    videos: UnitOfWorkFactory,
) -> None:
    add_tracks(videos, a_track("old", "v1", "en"))
    with videos() as uow:
        uow.captions.delete(CaptionId("old"))
        uow.captions.add(a_track("new", "v1", "en"))
        uow.commit()
    assert [t.id for t in read(videos, lambda u: u.captions.list_for_video(V1))] == ["new"]


# -- versions and copies ---------------------------------------------------------------


def replace(track: CaptionTrack, key: str, minutes: float) -> str:
    return track.replace(
        label=f"Label {key}",
        kind=CaptionKind.CAPTIONS,
        origin=CaptionOrigin.UPLOADED,
        storage_key=key,
        cue_count=3,
        size=99,
        now=at(minutes),
    )


def test_a_saved_replacement_is_stored_and_bumps_the_version(videos: UnitOfWorkFactory) -> None:
    add_tracks(videos, a_track("c1"))
    with videos() as uow:
        track = uow.captions.get(CaptionId("c1"))
        old_key = replace(track, "captions/v1/c1-2.vtt", 1)
        uow.captions.save(track)
        uow.commit()
    assert old_key == "captions/v1/c1.vtt"
    assert track.version == 2
    stored = read(videos, lambda u: u.captions.get(CaptionId("c1")))
    assert fields(stored) == fields(track)


def test_saving_a_track_changed_since_it_was_read_conflicts_with_stale_version(
    videos: UnitOfWorkFactory,
) -> None:
    add_tracks(videos, a_track("c1"))
    with videos() as slow:
        stale = slow.captions.get(CaptionId("c1"))
        with videos() as fast:
            fresh = fast.captions.get(CaptionId("c1"))
            replace(fresh, "captions/v1/fast.vtt", 1)
            fast.captions.save(fresh)
            fast.commit()
        replace(stale, "captions/v1/slow.vtt", 2)
        assert conflict_code(lambda: slow.captions.save(stale), slow) == STALE_VERSION
    stored = read(videos, lambda u: u.captions.get(CaptionId("c1")))
    assert (stored.storage_key, stored.version) == ("captions/v1/fast.vtt", 2)


def test_returned_tracks_are_copies_that_change_nothing_unless_saved(
    videos: UnitOfWorkFactory,
) -> None:
    with videos() as uow:
        added = a_track("c1", label="Original")
        uow.captions.add(added)
        added.label = "Changed after add"
        uow.commit()
    with videos() as uow:
        got = uow.captions.get(CaptionId("c1"))
        got.label = "Changed by get"
        (listed,) = uow.captions.list_for_video(V1)
        listed.label = "Changed by list"
        found = uow.captions.find(V1, "en")
        assert found is not None
        assert found.label == "Original"
        uow.commit()
    assert read(videos, lambda u: u.captions.get(CaptionId("c1"))).label == "Original"


# -- deletion --------------------------------------------------------------------------


def test_a_deleted_track_is_gone_and_deleting_a_missing_one_is_not_found(
    videos: UnitOfWorkFactory,
) -> None:
    add_tracks(videos, a_track("c1", "v1", "en"), a_track("c2", "v1", "fr"))
    with videos() as uow:
        uow.captions.delete(CaptionId("c1"))
        with pytest.raises(NotFound):
            uow.captions.get(CaptionId("c1"))
        assert languages(uow) == ["fr"]
        uow.commit()
    assert read(videos, languages) == ["fr"]
    with videos() as uow, pytest.raises(NotFound):
        uow.captions.delete(CaptionId("c1"))


def test_delete_for_video_removes_every_track_of_that_video_only(
    videos: UnitOfWorkFactory,
) -> None:
    add_tracks(
        videos, a_track("c1", "v1", "en"), a_track("c2", "v1", "fr"), a_track("c3", "v2", "en")
    )
    with videos() as uow:
        uow.captions.delete_for_video(V1)
        assert languages(uow) == []
        uow.commit()
    assert read(videos, languages) == []
    assert read(videos, lambda u: languages(u, V2)) == ["en"]
    with videos() as uow:  # a video without tracks: nothing to do, no error
        uow.captions.delete_for_video(V1)
        uow.commit()


def test_deleting_a_video_deletes_its_tracks(videos: UnitOfWorkFactory) -> None:
    add_tracks(videos, a_track("c1", "v1", "en"), a_track("c2", "v2", "en"))
    with videos() as uow:
        uow.videos.delete(V1)
        uow.commit()
    with pytest.raises(NotFound):
        read(videos, lambda u: u.captions.get(CaptionId("c1")))
    assert read(videos, lambda u: languages(u, V2)) == ["en"]


# -- transactions ----------------------------------------------------------------------


def test_nothing_is_visible_to_others_before_commit_and_all_of_it_after(
    videos: UnitOfWorkFactory,
) -> None:
    add_tracks(videos, a_track("c1", "v1", "en"), a_track("c2", "v1", "fr"))
    with videos() as writer:
        writer.captions.add(a_track("c3", "v1", "de"))
        writer.captions.delete(CaptionId("c2"))
        track = writer.captions.get(CaptionId("c1"))
        replace(track, "captions/v1/c1-2.vtt", 1)
        writer.captions.save(track)
        assert languages(writer) == ["de", "en"]
        assert read(videos, languages) == ["en", "fr"]
        assert read(videos, lambda u: u.captions.get(CaptionId("c1"))).version == 1
        writer.commit()
    assert read(videos, languages) == ["de", "en"]
    assert read(videos, lambda u: u.captions.get(CaptionId("c1"))).version == 2


def test_leaving_without_commit_rolls_back_adds_saves_and_deletes(
    videos: UnitOfWorkFactory,
) -> None:
    add_tracks(videos, a_track("c1", "v1", "en"), a_track("c2", "v2", "en"))
    with videos() as uow:
        uow.captions.add(a_track("c3", "v1", "de"))
        track = uow.captions.get(CaptionId("c1"))
        replace(track, "captions/v1/c1-2.vtt", 1)
        uow.captions.save(track)
        uow.captions.delete_for_video(V2)
    after = read(videos, lambda u: u.captions.get(CaptionId("c1")))
    assert (after.storage_key, after.version) == ("captions/v1/c1.vtt", 1)
    assert read(videos, languages) == ["en"]
    assert read(videos, lambda u: languages(u, V2)) == ["en"]
