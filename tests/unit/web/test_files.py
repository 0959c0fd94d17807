"""My files: the folder browser, downloads, moving and renaming, deleting."""

from __future__ import annotations

import io

from tests.unit.web.conftest import Browser, MakeUser
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.domain.users import Role, User
from videoplatform.entrypoints.bootstrap import Platform


def store(platform: Platform, owner: User, name: str, folder: str = "/", data: bytes = b"x") -> str:
    stored = platform.files.store(
        Caller(owner.id),
        StoreFile(name, io.BytesIO(data), folder=folder, content_type="text/plain"),
    )
    return str(stored.id)


def test_the_browser_shows_a_folder_its_subfolders_and_breadcrumbs(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    owner = make_user()
    store(platform, owner, "readme.txt")
    store(platform, owner, "plan.txt", "/projects/2026")
    browser.log_in(owner.email.value)
    root = browser.get("/my/files")
    assert "readme.txt" in root.text and "plan.txt" not in root.text
    assert 'href="/my/files?folder=/projects">projects/</a>' in root.text.replace("%2F", "/")
    deep = browser.get("/my/files", params={"folder": "/projects/2026"})
    assert "plan.txt" in deep.text and "readme.txt" not in deep.text
    assert '<span aria-current="page">2026</span>' in deep.text
    assert 'data-kind="file" data-folder="/projects/2026"' in deep.text


def test_a_file_downloads_as_an_attachment_for_its_owner_only(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    owner, other = make_user(), make_user()
    file_id = store(platform, owner, "secret.txt", data=b"mine alone")
    browser.log_in(owner.email.value)
    got = browser.get(f"/my/files/{file_id}/download")
    assert got.status_code == 200 and got.content == b"mine alone"
    assert got.headers["content-disposition"].startswith('attachment; filename="secret.txt"')
    stranger = Browser(browser.client)
    stranger.log_in(other.email.value)
    assert stranger.get(f"/my/files/{file_id}/download").status_code == 404
    assert stranger.get(f"/my/files/{file_id}/move").status_code == 404


def test_moving_and_renaming_and_a_name_already_taken(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    owner = make_user()
    file_id = store(platform, owner, "draft.txt")
    store(platform, owner, "final.txt", "/done")
    browser.log_in(owner.email.value)
    browser.get(f"/my/files/{file_id}/move")
    taken = browser.post(f"/my/files/{file_id}/move", {"name": "final.txt", "folder": "/done"})
    assert taken.status_code == 422 and 'role="alert"' in taken.text
    assert 'value="final.txt"' in taken.text
    moved = browser.post(f"/my/files/{file_id}/move", {"name": "second.txt", "folder": "/done"})
    assert moved.status_code == 303
    assert "folder=%2Fdone" in moved.headers["location"]
    assert {f.name for f in platform.files.list_folder(Caller(owner.id), "/done").files.items} == {
        "final.txt",
        "second.txt",
    }


def test_deleting_a_file_asks_first(
    browser: Browser, make_user: MakeUser, platform: Platform
) -> None:
    owner = make_user()
    file_id = store(platform, owner, "old.txt", "/archive")
    browser.log_in(owner.email.value)
    assert "Delete it" in browser.get(f"/my/files/{file_id}/delete").text
    done = browser.post(f"/my/files/{file_id}/delete")
    assert done.status_code == 303 and "folder=%2Farchive" in done.headers["location"]
    assert browser.get(f"/my/files/{file_id}/download").status_code == 404


def test_a_viewer_keeps_no_files(browser: Browser, make_user: MakeUser) -> None:
    browser.log_in(make_user(Role.VIEWER).email.value)
    assert browser.get("/my/files").status_code == 403
