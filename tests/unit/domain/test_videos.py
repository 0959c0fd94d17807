"""Videos: the processing state machine, progress, events and metadata rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.unit.domain.builders import (
    LATER,
    MEDIA_INFO,
    NOW,
    OWNER_ID,
    RENDITION_720P,
    make_user,
    make_video,
)
from videoplatform.domain.errors import InvalidTransition, ValidationError
from videoplatform.domain.events import (
    DomainEvent,
    VideoDeleted,
    VideoFailed,
    VideoProcessingStarted,
    VideoProgressed,
    VideoReady,
    VideoRequeued,
    VideoUploaded,
)
from videoplatform.domain.ids import CategoryId, VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import (
    MAX_DESCRIPTION,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    MediaInfo,
    PlaybackAssets,
    Poster,
    Video,
    VideoStatus,
    Visibility,
    asset_content_type,
    clean_description,
    clean_tags,
    clean_title,
)

ASSETS = PlaybackAssets(
    prefix="videos/v1/out/j1/",
    master_playlist="master.m3u8",
    posters=(Poster(1280, 720, "poster-1280.jpg"),),
)

UPLOADED = VideoStatus.UPLOADED
PROCESSING = VideoStatus.PROCESSING
READY = VideoStatus.READY
FAILED = VideoStatus.FAILED


def _start_processing(video: Video) -> None:
    video.start_processing(LATER)


def _mark_ready(video: Video) -> None:
    video.mark_ready(media_info=MEDIA_INFO, renditions=[RENDITION_720P], assets=ASSETS, now=LATER)


def _mark_failed(video: Video) -> None:
    video.mark_failed("ffmpeg exited with 1", LATER)


def _requeue(video: Video) -> None:
    video.requeue(LATER)


# The one public operation that moves a video into each target status, and the event it
# records. Only a retry (requeue) moves a video back to "uploaded", and only a failed one.
MOVE_TO: dict[VideoStatus, tuple[Callable[[Video], None], type[DomainEvent]]] = {
    UPLOADED: (_requeue, VideoRequeued),
    PROCESSING: (_start_processing, VideoProcessingStarted),
    READY: (_mark_ready, VideoReady),
    FAILED: (_mark_failed, VideoFailed),
}

# Every (from, to) pair over the statuses, written out. True means allowed.
# fmt: off
TRANSITIONS: tuple[tuple[VideoStatus, VideoStatus, bool], ...] = (
    (UPLOADED,   UPLOADED,   False),
    (UPLOADED,   PROCESSING, True),
    (UPLOADED,   READY,      False),
    (UPLOADED,   FAILED,     True),
    (PROCESSING, UPLOADED,   False),
    (PROCESSING, PROCESSING, False),
    (PROCESSING, READY,      True),
    (PROCESSING, FAILED,     True),
    (READY,      UPLOADED,   False),
    (READY,      PROCESSING, False),
    (READY,      READY,      False),
    (READY,      FAILED,     False),
    (FAILED,     UPLOADED,   True),
    (FAILED,     PROCESSING, True),
    (FAILED,     READY,      False),
    (FAILED,     FAILED,     False),
)
# fmt: on


def _pair_id(source: VideoStatus, target: VideoStatus) -> str:
    return f"{source.value}->{target.value}"


ALLOWED = [pytest.param(s, t, id=_pair_id(s, t)) for s, t, allowed in TRANSITIONS if allowed]
FORBIDDEN_WITH_AN_OPERATION = [
    pytest.param(s, t, id=_pair_id(s, t))
    for s, t, allowed in TRANSITIONS
    if not allowed and t in MOVE_TO
]


def test_transition_table_covers_every_pair_of_statuses_once() -> None:
    pairs = [(s, t) for s, t, _ in TRANSITIONS]
    assert len(pairs) == len(set(pairs)) == len(VideoStatus) ** 2


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_allowed_transition_moves_the_video_and_records_its_event(
    source: VideoStatus, target: VideoStatus
) -> None:
    video = make_video(source)
    operation, event_type = MOVE_TO[target]
    operation(video)
    assert video.status is target
    assert video.updated_at == LATER
    events = video.pull_events()
    assert [type(e) for e in events] == [event_type]
    assert events[0].occurred_at == LATER


@pytest.mark.parametrize(("source", "target"), FORBIDDEN_WITH_AN_OPERATION)
def test_forbidden_transition_raises_and_changes_nothing(
    source: VideoStatus, target: VideoStatus
) -> None:
    video = make_video(source)
    before = (video.status, video.progress, video.last_error, video.processing_attempts)
    operation, _ = MOVE_TO[target]
    with pytest.raises(InvalidTransition) as caught:
        operation(video)
    assert caught.value.code == "invalid_transition"
    after = (video.status, video.progress, video.last_error, video.processing_attempts)
    assert after == before
    assert video.updated_at == NOW
    assert video.pull_events() == []


@pytest.mark.parametrize("source", list(VideoStatus), ids=lambda s: s.value)
def test_only_a_failed_video_is_ever_moved_back_to_uploaded(source: VideoStatus) -> None:
    for operation, _ in MOVE_TO.values():
        video = make_video(source)
        try:
            operation(video)
        except InvalidTransition:
            continue
        if video.status is UPLOADED:
            assert source is FAILED


def test_ready_is_final() -> None:
    for operation, _ in MOVE_TO.values():
        video = make_video(READY)
        with pytest.raises(InvalidTransition):
            operation(video)
        assert video.status is READY


def test_uploaded_video_cannot_become_ready_without_processing() -> None:
    video = make_video(UPLOADED)
    with pytest.raises(InvalidTransition):
        _mark_ready(video)
    assert video.status is UPLOADED
    assert video.renditions == ()
    assert video.media_info is None


def test_full_happy_path_uploaded_processing_ready() -> None:
    owner = make_user([Role.CREATOR], user_id=OWNER_ID)
    video = Video.upload(
        id=VideoId("video-7"),
        owner=owner,
        title="Holiday",
        description="",
        category_id=None,
        tags=[],
        visibility=Visibility.PUBLIC,
        source_key="sources/video-7",
        source_size=1234,
        source_sha256="ab" * 32,
        now=NOW,
    )
    video.start_processing(NOW)
    video.report_progress(50, NOW)
    _mark_ready(video)
    assert video.status is READY
    assert video.progress == 100
    assert video.pull_events() == [
        VideoUploaded(occurred_at=NOW, video_id=VideoId("video-7"), owner_id=OWNER_ID),
        VideoProcessingStarted(occurred_at=NOW, video_id=VideoId("video-7")),
        VideoProgressed(occurred_at=NOW, video_id=VideoId("video-7"), progress=50),
        VideoReady(occurred_at=LATER, video_id=VideoId("video-7")),
    ]


def test_upload_starts_in_uploaded_with_the_owner_and_cleaned_metadata() -> None:
    owner = make_user([Role.CREATOR], user_id=OWNER_ID)
    video = Video.upload(
        id=VideoId("video-7"),
        owner=owner,
        title="  My   first\tvideo ",
        description="  line one\nline two  ",
        category_id=CategoryId("cat-1"),
        tags=["Cats", "cats", " Funny  Pets "],
        visibility=Visibility.UNLISTED,
        source_key="sources/video-7",
        source_size=1234,
        source_sha256="ab" * 32,
        now=NOW,
    )
    assert video.status is UPLOADED
    assert video.owner_id == OWNER_ID
    assert video.title == "My first video"
    assert video.description == "line one\nline two"
    assert video.tags == ("cats", "funny pets")
    assert video.visibility is Visibility.UNLISTED
    assert video.category_id == CategoryId("cat-1")
    assert video.progress == 0
    assert video.processing_attempts == 0
    assert video.created_at == video.updated_at == NOW


def test_upload_with_an_invalid_title_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        Video.upload(
            id=VideoId("video-7"),
            owner=make_user(),
            title="   ",
            description="",
            category_id=None,
            tags=[],
            visibility=Visibility.PRIVATE,
            source_key="sources/video-7",
            source_size=1,
            source_sha256="",
            now=NOW,
        )
    assert set(caught.value.fields) == {"title"}


# -- ready needs renditions --------------------------------------------------------------


def test_mark_ready_without_renditions_is_refused_and_stays_processing() -> None:
    video = make_video(PROCESSING)
    with pytest.raises(InvalidTransition):
        video.mark_ready(media_info=MEDIA_INFO, renditions=[], assets=ASSETS, now=LATER)
    assert video.status is PROCESSING
    assert video.renditions == ()
    assert video.media_info is None
    assert video.pull_events() == []


def test_mark_ready_stores_media_info_renditions_thumbnail_and_full_progress() -> None:
    video = make_video(PROCESSING)
    info = MediaInfo(
        duration_seconds=3.0,
        width=640,
        height=360,
        video_codec="h264",
        audio_codec=None,
        fps=25.0,
        bitrate=800_000,
    )
    video.mark_ready(media_info=info, renditions=iter([RENDITION_720P]), assets=ASSETS, now=LATER)
    assert video.media_info == info
    assert video.renditions == (RENDITION_720P,)
    assert video.assets == ASSETS
    assert video.progress == 100


def test_media_info_knows_whether_there_is_audio() -> None:
    assert MEDIA_INFO.has_audio
    silent = MediaInfo(
        duration_seconds=1.0,
        width=2,
        height=2,
        video_codec="h264",
        audio_codec=None,
        fps=1.0,
        bitrate=1,
    )
    assert not silent.has_audio


# -- failure and retry -------------------------------------------------------------------


def test_mark_failed_keeps_the_reason() -> None:
    video = make_video(PROCESSING)
    video.mark_failed("decoder error", LATER)
    assert video.last_error == "decoder error"
    assert video.pull_events() == [
        VideoFailed(occurred_at=LATER, video_id=video.id, reason="decoder error")
    ]


def test_mark_failed_with_an_empty_reason_says_unknown_error() -> None:
    video = make_video(PROCESSING)
    video.mark_failed("", LATER)
    assert video.last_error == "unknown error"


def test_mark_failed_truncates_a_huge_reason_to_2000_characters() -> None:
    video = make_video(PROCESSING)
    video.mark_failed("x" * 5000, LATER)
    assert video.last_error == "x" * 2000


def test_processing_attempts_count_every_start_including_retries() -> None:
    video = make_video(UPLOADED)
    video.start_processing(NOW)
    assert video.processing_attempts == 1
    video.mark_failed("boom", NOW)
    video.start_processing(LATER)
    assert video.processing_attempts == 2
    video.mark_failed("boom again", LATER)
    video.start_processing(LATER)
    assert video.processing_attempts == 3


def test_refused_start_does_not_count_as_an_attempt() -> None:
    video = make_video(READY)
    with pytest.raises(InvalidTransition):
        video.start_processing(LATER)
    assert video.processing_attempts == 0


def test_retry_resets_progress_and_clears_the_last_error() -> None:
    video = make_video(UPLOADED)
    video.start_processing(NOW)
    video.report_progress(70, NOW)
    video.mark_failed("boom", NOW)
    assert video.progress == 70
    video.start_processing(LATER)
    assert video.progress == 0
    assert video.last_error is None


def test_uploaded_video_can_fail_before_processing_starts() -> None:
    video = make_video(UPLOADED)
    video.mark_failed("source unreadable", LATER)
    assert video.status is FAILED
    assert video.processing_attempts == 0


# -- progress ----------------------------------------------------------------------------


def test_progress_is_recorded_while_processing() -> None:
    video = make_video(PROCESSING)
    video.report_progress(42, LATER)
    assert video.progress == 42
    assert video.updated_at == LATER


@pytest.mark.parametrize(("reported", "kept"), [(150, 100), (101, 100), (100, 100), (-5, 0)])
def test_progress_is_clamped_to_0_through_100(reported: int, kept: int) -> None:
    video = make_video(PROCESSING)
    video.report_progress(reported, LATER)
    assert video.progress == kept


def test_progress_never_goes_backwards() -> None:
    video = make_video(PROCESSING)
    video.report_progress(60, NOW)
    video.report_progress(30, LATER)
    assert video.progress == 60
    video.report_progress(-10, LATER)
    assert video.progress == 60
    video.report_progress(61, LATER)
    assert video.progress == 61


@pytest.mark.parametrize("status", [UPLOADED, READY, FAILED], ids=lambda s: s.value)
def test_progress_is_refused_unless_processing(status: VideoStatus) -> None:
    video = make_video(status)
    before = video.progress
    with pytest.raises(InvalidTransition):
        video.report_progress(50, LATER)
    assert video.progress == before
    assert video.updated_at == NOW


def test_mark_deleted_records_video_deleted() -> None:
    video = make_video(READY)
    video.mark_deleted(LATER)
    assert video.pull_events() == [VideoDeleted(occurred_at=LATER, video_id=video.id)]


# -- title -------------------------------------------------------------------------------


def test_title_whitespace_is_collapsed_and_trimmed() -> None:
    assert clean_title("  Hello \n\t World  ") == "Hello World"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t "])
def test_blank_title_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        clean_title(raw)
    assert caught.value.fields == {"title": "must be 1 to 200 characters"}


def test_title_of_200_characters_is_accepted_and_201_refused() -> None:
    assert MAX_TITLE == 200
    assert clean_title("t" * 200) == "t" * 200
    with pytest.raises(ValidationError):
        clean_title("t" * 201)


# -- description -------------------------------------------------------------------------


def test_description_keeps_newlines_and_tabs_inside_and_trims_the_ends() -> None:
    assert clean_description("\n  a\tb\nc  \n") == "a\tb\nc"


def test_empty_description_is_allowed() -> None:
    assert clean_description("") == ""


def test_description_of_10000_characters_is_accepted_and_10001_refused() -> None:
    assert MAX_DESCRIPTION == 10_000
    assert clean_description("d" * 10_000) == "d" * 10_000
    with pytest.raises(ValidationError) as caught:
        clean_description("d" * 10_001)
    assert set(caught.value.fields) == {"description"}


@pytest.mark.parametrize("raw", ["a\x00b", "bell\x07", "esc\x1b[31m"])
def test_description_with_control_characters_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        clean_description(raw)
    assert caught.value.fields == {"description": "must not contain control characters"}


# -- tags --------------------------------------------------------------------------------


def test_tags_are_case_folded_trimmed_deduplicated_in_first_seen_order() -> None:
    raw = ["  Zebra ", "apple", "ZEBRA", "Mango", "apple", "  big   CAT "]
    assert clean_tags(raw) == ("zebra", "apple", "mango", "big cat")


def test_tags_are_unicode_case_folded() -> None:
    # "Case-folded" (str.casefold), not merely lower-cased: these are one tag.
    assert clean_tags(["Straße", "STRASSE"]) == ("strasse",)


def test_blank_tags_are_dropped() -> None:
    assert clean_tags(["", "  ", "music", "\t"]) == ("music",)


def test_no_tags_give_an_empty_tuple() -> None:
    assert clean_tags([]) == ()


def test_tag_of_40_characters_is_accepted_and_41_refused() -> None:
    assert MAX_TAG == 40
    assert clean_tags(["t" * 40]) == ("t" * 40,)
    with pytest.raises(ValidationError) as caught:
        clean_tags(["t" * 41])
    assert set(caught.value.fields) == {"tags"}


def test_tag_with_a_control_character_is_refused() -> None:
    with pytest.raises(ValidationError):
        clean_tags(["ok", "bad\x00tag"])


def test_30_distinct_tags_are_accepted_and_31_refused() -> None:
    assert MAX_TAGS == 30
    thirty = [f"tag{i}" for i in range(30)]
    assert len(clean_tags(thirty)) == 30
    with pytest.raises(ValidationError) as caught:
        clean_tags([*thirty, "one-too-many"])
    assert caught.value.fields == {"tags": "at most 30 tags"}


def test_duplicate_tags_do_not_count_towards_the_limit() -> None:
    thirty = [f"tag{i}" for i in range(30)]
    assert len(clean_tags(thirty + [t.upper() for t in thirty])) == 30


# -- metadata updates --------------------------------------------------------------------


def test_update_metadata_changes_only_the_given_fields() -> None:
    video = make_video(READY, visibility=Visibility.PRIVATE)
    video.category_id = CategoryId("cat-1")
    video.update_metadata(now=LATER, title="  New   title ", tags=["A", "a", "B"])
    assert video.title == "New title"
    assert video.tags == ("a", "b")
    assert video.description == ""
    assert video.visibility is Visibility.PRIVATE
    assert video.category_id == CategoryId("cat-1")
    assert video.updated_at == LATER


def test_update_metadata_sets_and_clears_the_category_and_visibility() -> None:
    video = make_video(READY)
    video.update_metadata(now=LATER, category_id=CategoryId("cat-2"), visibility=Visibility.PUBLIC)
    assert video.category_id == CategoryId("cat-2")
    assert video.visibility is Visibility.PUBLIC
    video.update_metadata(now=LATER, clear_category=True)
    assert video.category_id is None


def test_clear_category_wins_over_a_category_given_in_the_same_update() -> None:
    video = make_video(READY)
    video.update_metadata(now=LATER, category_id=CategoryId("cat-2"), clear_category=True)
    assert video.category_id is None


def test_update_metadata_with_an_invalid_field_changes_nothing() -> None:
    video = make_video(READY)
    with pytest.raises(ValidationError):
        video.update_metadata(now=LATER, title="Fine title", description="bad\x00")
    assert video.title == "A video"
    assert video.description == ""
    assert video.updated_at == NOW


# -- playback paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("master.m3u8", "application/vnd.apple.mpegurl"),
        ("720p/index.m3u8", "application/vnd.apple.mpegurl"),
        ("720p/segment_00001.ts", "video/mp2t"),
        ("poster-1280.jpg", "image/jpeg"),
        ("storyboard.vtt", "text/vtt"),
    ],
)
def test_playback_paths_map_under_the_assets_prefix(path: str, content_type: str) -> None:
    assert asset_content_type(path) == content_type
    assert ASSETS.key(path) == "videos/v1/out/j1/" + path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "../source",
        "720p/../../source",
        "720p/..",
        "/etc/passwd",
        ".hidden.ts",
        "720p//segment.ts",
        "segment.exe",
        "source",
        "a\\b.ts",
        "a/b/c/d/e.ts",
        "x" * 65 + ".ts",
        "seg\x00.ts",
    ],
)
def test_playback_paths_outside_the_safe_shape_are_refused(path: str) -> None:
    assert asset_content_type(path) is None
    assert ASSETS.key(path) is None


def test_poster_time_is_validated_before_anything_changes() -> None:
    video = make_video(UPLOADED)
    with pytest.raises(ValidationError):
        video.update_metadata(now=LATER, title="new", poster_at_seconds=-1.0)
    with pytest.raises(ValidationError):
        video.update_metadata(now=LATER, poster_at_seconds=float("nan"))
    assert video.poster_at_seconds is None
    video.update_metadata(now=LATER, poster_at_seconds=12.5)
    assert video.poster_at_seconds == 12.5


# -- restarts, retries and the attempt that holds the claim -------------------------------


def test_a_video_stuck_processing_is_restarted_as_a_new_attempt() -> None:
    video = make_video(UPLOADED)
    video.start_processing(NOW)
    video.report_progress(40, NOW)
    video.pull_events()
    video.restart_processing(LATER)
    assert video.status is PROCESSING
    assert (video.progress, video.processing_attempts, video.updated_at) == (0, 2, LATER)
    assert video.pull_events() == [VideoProcessingStarted(occurred_at=LATER, video_id=video.id)]


@pytest.mark.parametrize("source", [UPLOADED, READY, FAILED], ids=lambda s: s.value)
def test_only_a_processing_video_can_be_restarted(source: VideoStatus) -> None:
    video = make_video(source)
    with pytest.raises(InvalidTransition):
        video.restart_processing(LATER)
    assert (video.status, video.processing_attempts) == (source, 0)
    assert video.pull_events() == []


def test_only_the_latest_attempt_holds_the_video() -> None:
    video = make_video(UPLOADED)
    video.start_processing(NOW)
    assert video.holds_attempt(1)
    video.restart_processing(LATER)
    assert not video.holds_attempt(1)
    assert video.holds_attempt(2)
    _mark_ready(video)
    assert not video.holds_attempt(2)  # finished: nobody holds it any more


def test_a_failed_attempt_keeps_its_reason_while_the_video_waits_for_the_next() -> None:
    video = make_video(UPLOADED)
    video.start_processing(NOW)
    video.note_failed_attempt("ffmpeg timed out", LATER)
    assert (video.status, video.last_error) == (PROCESSING, "ffmpeg timed out")
    video.restart_processing(LATER)
    assert (video.processing_attempts, video.last_error) == (2, "ffmpeg timed out")
    _mark_ready(video)
    assert (video.status, video.last_error) == (READY, None)
    with pytest.raises(InvalidTransition):
        video.note_failed_attempt("too late", LATER)


def test_a_retried_video_waits_as_uploaded_with_a_fresh_attempt_budget() -> None:
    video = make_video(UPLOADED)
    video.start_processing(NOW)
    video.report_progress(30, NOW)
    video.mark_failed("decoder error", NOW)
    video.requeue(LATER)
    assert video.status is UPLOADED
    assert (video.progress, video.run_attempts) == (0, 0)
    assert (video.status, video.last_error) == (UPLOADED, "decoder error")  # until it restarts
    video.start_processing(LATER)
    assert (video.run_attempts, video.last_error) == (1, None)
    # The claim number never goes back: the failed run's attempt 1 cannot finish it.
    assert video.processing_attempts == 2
    assert not video.holds_attempt(1) and video.holds_attempt(2)


@pytest.mark.parametrize(
    ("chosen", "duration", "expected"),
    [
        (None, 12.0, 4.0),  # a third of the way in
        (None, 600.0, 10.0),  # ... but never later than ten seconds
        (None, 0.9, 0.3),  # a very short clip: still not its first frame
        (5.0, 12.0, 5.0),  # the owner's choice
        (0.0, 12.0, 0.0),  # ... even the very first frame
        (12.0, 12.0, 4.0),  # a choice at or past the end falls back to the default
        (90.0, 12.0, 4.0),
    ],
)
def test_poster_time(chosen: float | None, duration: float, expected: float) -> None:
    video = make_video(PROCESSING)
    video.poster_at_seconds = chosen
    assert video.poster_time(duration) == pytest.approx(expected)
