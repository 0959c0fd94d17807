"""Stored files: folder paths and file names are validated once, here, and files are
private to their owner (administrators may reach them to moderate)."""

from __future__ import annotations

import pytest

from tests.unit.domain.builders import FILE_ID, LATER, NOW, OWNER_ID, make_user
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.events import FileDeleted, FileStored
from videoplatform.domain.files import (
    MAX_FOLDER_DEPTH,
    MAX_FOLDER_LENGTH,
    MAX_NAME,
    FolderPath,
    StoredFile,
    clean_file_name,
)
from videoplatform.domain.users import Role, User, UserStatus

# -- folder paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("//a//b/", "/a/b"),
        ("/a/b", "/a/b"),
        ("a/b", "/a/b"),
        ("/projects/2026/", "/projects/2026"),
        ("", "/"),
        ("/", "/"),
        ("////", "/"),
        ("/my files/été", "/my files/été"),
        ("/...", "/..."),
        ("/.hidden/a..b", "/.hidden/a..b"),
    ],
)
def test_folder_path_is_normalized(raw: str, normalized: str) -> None:
    folder = FolderPath.parse(raw)
    assert folder.value == normalized
    assert str(folder) == normalized


def test_folder_segments_are_nfc_normalized() -> None:
    decomposed = "/cafe\u0301"
    assert FolderPath.parse(decomposed).value == "/caf\u00e9"
    assert FolderPath.parse(decomposed) == FolderPath.parse("/caf\u00e9")


def test_root_is_the_slash() -> None:
    assert FolderPath.root() == FolderPath.parse("/")
    assert FolderPath.root().segments == ()


def test_segments_list_the_folder_names() -> None:
    assert FolderPath.parse("//a//b/").segments == ("a", "b")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("/a/../b", id="dot-dot"),
        pytest.param("..", id="bare-dot-dot"),
        pytest.param("/a/./b", id="dot"),
        pytest.param("/.", id="bare-dot"),
        pytest.param("/a\x00b", id="nul"),
        pytest.param("/a\x1fb", id="unit-separator"),
        pytest.param("/a\nb", id="newline"),
        pytest.param("/a\tb", id="tab"),
        pytest.param("/a\x7fb", id="del"),
        pytest.param("/a\x85b", id="c1-control"),
        pytest.param("/a\\b", id="backslash"),
        pytest.param("/..\\etc", id="backslash-traversal"),
        pytest.param("/a\u200bb", id="zero-width-space"),
        pytest.param("/a\u200db", id="zero-width-joiner"),
        pytest.param("/\ufeffa", id="byte-order-mark"),
        pytest.param("/evil\u202etxt.exe", id="right-to-left-override"),
        pytest.param("/a\u2066b", id="bidi-isolate"),
        pytest.param("/a\ue000b", id="private-use"),
        pytest.param("/ a", id="leading-space"),
        pytest.param("/a /b", id="trailing-space"),
        pytest.param("/\u00a0a", id="leading-no-break-space"),
    ],
)
def test_folder_path_with_a_dangerous_segment_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FolderPath.parse(raw)
    assert set(caught.value.fields) == {"folder"}


def test_folder_32_levels_deep_is_accepted_and_33_refused() -> None:
    assert MAX_FOLDER_DEPTH == 32
    assert len(FolderPath.parse("/a" * 32).segments) == 32
    with pytest.raises(ValidationError) as caught:
        FolderPath.parse("/a" * 33)
    assert caught.value.fields == {"folder": "at most 32 levels deep"}


def test_folder_of_1024_characters_is_accepted_and_1025_refused() -> None:
    assert MAX_FOLDER_LENGTH == 1024
    longest = "/" + "/".join(["x" * 31] * 32)
    assert len(longest) == 1024
    assert FolderPath.parse(longest).value == longest
    with pytest.raises(ValidationError) as caught:
        FolderPath.parse(longest + "x")
    assert caught.value.fields == {"folder": "at most 1024 characters"}


def test_folder_segment_longer_than_a_file_name_is_refused() -> None:
    assert FolderPath.parse("/" + "n" * MAX_NAME).segments == ("n" * MAX_NAME,)
    with pytest.raises(ValidationError):
        FolderPath.parse("/" + "n" * (MAX_NAME + 1))


@pytest.mark.parametrize(
    ("folder", "parent", "child"),
    [
        ("/a/b/c", "/a", "b"),
        ("/a/b", "/a", "b"),
        ("/a", "/", "a"),
        ("/a/b/c", "/", "a"),
        ("/a/b/c", "/a/b", "c"),
    ],
)
def test_child_of_names_the_immediate_subfolder_of_the_parent(
    folder: str, parent: str, child: str
) -> None:
    assert FolderPath.parse(folder).child_of(FolderPath.parse(parent)) == child


@pytest.mark.parametrize(
    ("folder", "parent"),
    [
        ("/a", "/a"),
        ("/", "/"),
        ("/a", "/a/b"),
        ("/", "/a"),
        ("/b/c", "/a"),
        ("/ab/c", "/a"),
    ],
)
def test_child_of_is_none_when_the_folder_is_not_below_the_parent(folder: str, parent: str) -> None:
    assert FolderPath.parse(folder).child_of(FolderPath.parse(parent)) is None


def test_folder_paths_order_by_their_text() -> None:
    paths = [FolderPath.parse(p) for p in ("/b", "/a/z", "/a")]
    assert [p.value for p in sorted(paths)] == ["/a", "/a/z", "/b"]


# -- file names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["report.pdf", "report (final) v2.pdf", "vidéo.mp4", ".bashrc", "a..b", "x" * MAX_NAME]
)
def test_ordinary_file_name_is_accepted(raw: str) -> None:
    assert clean_file_name(raw) == raw


def test_file_name_is_nfc_normalized() -> None:
    assert clean_file_name("cafe\u0301.txt") == "caf\u00e9.txt"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param(".", id="dot"),
        pytest.param("..", id="dot-dot"),
        pytest.param("a/b", id="slash"),
        pytest.param("/", id="bare-slash"),
        pytest.param("../etc/passwd", id="traversal"),
        pytest.param("a\\b", id="backslash"),
        pytest.param("a\x00.txt", id="nul"),
        pytest.param("a\r.txt", id="carriage-return"),
        pytest.param("a\u200b.txt", id="zero-width-space"),
        pytest.param("\u202etxt.exe", id="right-to-left-override"),
        pytest.param(" report.pdf", id="leading-space"),
        pytest.param("report.pdf ", id="trailing-space"),
        pytest.param("\u3000report.pdf", id="leading-ideographic-space"),
        pytest.param("x" * (MAX_NAME + 1), id="too-long"),
    ],
)
def test_bad_file_name_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        clean_file_name(raw)
    assert set(caught.value.fields) == {"name"}


# -- stored files ------------------------------------------------------------------------


def _store(owner: User | None = None, *, name: str = "clip.mp4") -> StoredFile:
    return StoredFile.store(
        id=FILE_ID,
        owner=owner or make_user([Role.CREATOR], user_id=OWNER_ID),
        name=name,
        folder=FolderPath.parse("/inbox"),
        size=2048,
        content_type="video/mp4",
        sha256="cd" * 32,
        storage_key="files/file-1",
        now=NOW,
    )


def test_store_keeps_the_owner_and_records_file_stored() -> None:
    stored = _store()
    assert stored.owner_id == OWNER_ID
    assert stored.folder == FolderPath.parse("/inbox")
    assert stored.created_at == stored.updated_at == NOW
    assert stored.pull_events() == [FileStored(occurred_at=NOW, file_id=FILE_ID, owner_id=OWNER_ID)]


def test_store_refuses_a_bad_file_name() -> None:
    with pytest.raises(ValidationError):
        _store(name="../secret")


def test_move_changes_folder_and_name() -> None:
    stored = _store()
    stored.move(folder=FolderPath.parse("/archive/2026"), name="renamed.mp4", now=LATER)
    assert stored.folder == FolderPath.parse("/archive/2026")
    assert stored.name == "renamed.mp4"
    assert stored.updated_at == LATER


def test_move_with_only_a_folder_keeps_the_name() -> None:
    stored = _store()
    stored.move(folder=FolderPath.root(), name=None, now=LATER)
    assert stored.folder == FolderPath.root()
    assert stored.name == "clip.mp4"


def test_move_with_only_a_name_keeps_the_folder() -> None:
    stored = _store()
    stored.move(folder=None, name="other.mp4", now=LATER)
    assert stored.folder == FolderPath.parse("/inbox")
    assert stored.name == "other.mp4"


def test_move_to_a_bad_name_is_refused() -> None:
    stored = _store()
    with pytest.raises(ValidationError):
        stored.move(folder=None, name="a/b", now=LATER)
    assert stored.name == "clip.mp4"
    assert stored.updated_at == NOW


def test_move_with_a_bad_name_changes_nothing_not_even_the_folder() -> None:
    stored = _store()
    with pytest.raises(ValidationError):
        stored.move(folder=FolderPath.parse("/elsewhere"), name="..", now=LATER)
    assert stored.folder == FolderPath.parse("/inbox")
    assert stored.name == "clip.mp4"
    assert stored.updated_at == NOW


def test_mark_deleted_records_file_deleted() -> None:
    stored = _store()
    stored.pull_events()
    stored.mark_deleted(LATER)
    assert stored.pull_events() == [FileDeleted(occurred_at=LATER, file_id=FILE_ID)]


# fmt: off
ACCESS: tuple[tuple[str, User | None, bool], ...] = (
    ("owner_creator",    make_user([Role.CREATOR], user_id=OWNER_ID),                      True),
    ("owner_moderator",  make_user([Role.MODERATOR], user_id=OWNER_ID),                    True),
    ("owner_admin",      make_user([Role.ADMIN], user_id=OWNER_ID),                        True),
    ("owner_viewer",     make_user([Role.VIEWER], user_id=OWNER_ID),                       False),
    ("admin",            make_user([Role.ADMIN], user_id="user-admin"),                    True),
    ("moderator",        make_user([Role.MODERATOR], user_id="user-mod"),                  False),
    ("other_creator",    make_user([Role.CREATOR], user_id="user-other"),                  False),
    ("viewer",           make_user([Role.VIEWER], user_id="user-viewer"),                  False),
    ("anonymous",        None,                                                             False),
    ("disabled_owner",   make_user([Role.CREATOR], user_id=OWNER_ID,
                                   status=UserStatus.DISABLED),                           False),
    ("pending_owner",    make_user([Role.CREATOR], user_id=OWNER_ID,
                                   status=UserStatus.PENDING),                            False),
    ("disabled_admin",   make_user([Role.ADMIN], user_id="user-admin",
                                   status=UserStatus.DISABLED),                           False),
)
# fmt: on


@pytest.mark.parametrize(
    ("user", "expected"),
    [pytest.param(user, expected, id=name) for name, user, expected in ACCESS],
)
def test_who_can_access_a_stored_file(user: User | None, expected: bool) -> None:
    assert _store().is_accessible_to(user) is expected


@pytest.mark.parametrize(
    "name",
    ["\uff0e\uff0e", "\u2024\u2024", "a\uff0fb", "a\uff3cb", "line\u2028break", "para\u2029"],
    ids=[
        "fullwidth-dots",
        "one-dot-leaders",
        "fullwidth-solidus",
        "fullwidth-backslash",
        "line-sep",
        "para-sep",
    ],
)
def test_look_alike_separators_and_dot_segments_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        clean_file_name(name)
    with pytest.raises(ValidationError):
        FolderPath.parse(f"/{name}")


@pytest.mark.parametrize("raw", ["/../etc", "/a/", "relative", "/a//b", "/a/\x00"])
def test_a_folder_path_cannot_be_built_unnormalized_even_without_parse(raw: str) -> None:
    with pytest.raises(ValidationError):
        FolderPath(raw)
