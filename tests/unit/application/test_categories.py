"""Categories: administrators manage them, anyone lists them."""

from __future__ import annotations

import pytest

from tests.unit.application.conftest import Studio, Trail, only_event
from tests.unit.conftest import MakeUser
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.video_commands import UpdateVideo
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from videoplatform.domain.ids import CategoryId
from videoplatform.domain.users import Role
from videoplatform.entrypoints.bootstrap import Platform


def test_admin_creates_a_category_with_a_slug(
    platform: Platform, admin: Caller, trail: Trail
) -> None:
    category = platform.categories.create(admin, "  Science &   Technology ")

    assert category.name == "Science & Technology"
    assert category.slug == "science-technology"
    assert [c.id for c in platform.categories.list()] == [category.id]
    event = only_event(trail, AuditAction.CATEGORY_CREATE, AuditResult.SUCCESS, category.id)
    assert event.actor_id == admin.user_id
    assert event.resource_type == "category"
    assert event.metadata["name"] == "Science & Technology"


def test_duplicate_slug_is_a_conflict(platform: Platform, admin: Caller, trail: Trail) -> None:
    platform.categories.create(admin, "Music")

    with pytest.raises(Conflict) as refused:
        platform.categories.create(admin, "  MUSIC! ")

    assert refused.value.code == "category_exists"
    assert [c.name for c in platform.categories.list()] == ["Music"]
    assert len(trail(AuditFilter(action=AuditAction.CATEGORY_CREATE))) == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_category_names_are_validated(platform: Platform, admin: Caller, name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        platform.categories.create(admin, name)
    assert "name" in refused.value.fields


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CREATOR, Role.MODERATOR])
def test_non_admins_cannot_manage_categories_and_are_audited(
    platform: Platform, make_user: MakeUser, admin: Caller, trail: Trail, role: Role
) -> None:
    actor = make_user(role)
    existing = platform.categories.create(admin, "News")

    with pytest.raises(PermissionDenied):
        platform.categories.create(actor, "Sports")
    with pytest.raises(PermissionDenied):
        platform.categories.rename(actor, existing.id, "Olds")
    with pytest.raises(PermissionDenied):
        platform.categories.delete(actor, existing.id)

    assert [c.name for c in platform.categories.list()] == ["News"]
    created = only_event(trail, AuditAction.CATEGORY_CREATE, AuditResult.DENIED)
    assert created.actor_id == actor.user_id
    assert created.metadata["reason"] == "permission_denied"
    for action in (AuditAction.CATEGORY_RENAME, AuditAction.CATEGORY_DELETE):
        event = only_event(trail, action, AuditResult.DENIED, existing.id)
        assert event.actor_id == actor.user_id


def test_anonymous_cannot_create_categories(platform: Platform, trail: Trail) -> None:
    with pytest.raises(AuthenticationFailed):
        platform.categories.create(Caller.anonymous(), "Sports")

    event = only_event(trail, AuditAction.CATEGORY_CREATE, AuditResult.DENIED)
    assert event.metadata["reason"] == "authentication_failed"


def test_admin_renames_a_category(platform: Platform, admin: Caller, trail: Trail) -> None:
    category = platform.categories.create(admin, "Musik")

    renamed = platform.categories.rename(admin, category.id, "Music Videos")

    assert (renamed.name, renamed.slug) == ("Music Videos", "music-videos")
    assert [c.name for c in platform.categories.list()] == ["Music Videos"]
    event = only_event(trail, AuditAction.CATEGORY_RENAME, AuditResult.SUCCESS, category.id)
    assert event.metadata["from"] == "Musik"
    assert event.metadata["to"] == "Music Videos"


def test_rename_onto_a_taken_slug_is_a_conflict(platform: Platform, admin: Caller) -> None:
    platform.categories.create(admin, "Music")
    other = platform.categories.create(admin, "Film")

    with pytest.raises(Conflict) as refused:
        platform.categories.rename(admin, other.id, "music")

    assert refused.value.code == "category_exists"
    assert sorted(c.name for c in platform.categories.list()) == ["Film", "Music"]


def test_renaming_or_deleting_a_missing_category_is_not_found(
    platform: Platform, admin: Caller
) -> None:
    missing = CategoryId("01NOSUCHCATEGORY000000000")

    with pytest.raises(NotFound):
        platform.categories.rename(admin, missing, "X")
    with pytest.raises(NotFound):
        platform.categories.delete(admin, missing)


def test_admin_deletes_an_unused_category(platform: Platform, admin: Caller, trail: Trail) -> None:
    category = platform.categories.create(admin, "Temporary")

    platform.categories.delete(admin, category.id)

    assert platform.categories.list() == []
    event = only_event(trail, AuditAction.CATEGORY_DELETE, AuditResult.SUCCESS, category.id)
    assert event.metadata["name"] == "Temporary"


def test_a_category_in_use_cannot_be_deleted(
    platform: Platform, make_user: MakeUser, admin: Caller, studio: Studio
) -> None:
    creator = make_user()
    category = platform.categories.create(admin, "Used")
    video = studio.upload(creator, category_id=category.id)

    with pytest.raises(Conflict) as refused:
        platform.categories.delete(admin, category.id)

    assert refused.value.code == "category_in_use"
    assert [c.id for c in platform.categories.list()] == [category.id]

    platform.videos.update(creator, video.id, UpdateVideo(clear_category=True))
    platform.categories.delete(admin, category.id)
    assert platform.categories.list() == []


def test_categories_are_listed_in_slug_order_ignoring_case(
    platform: Platform, admin: Caller
) -> None:
    for name in ("Travel", "animals", "Music", "Zoo", "cooking"):
        platform.categories.create(admin, name)

    assert [c.name for c in platform.categories.list()] == [
        "animals",
        "cooking",
        "Music",
        "Travel",
        "Zoo",
    ]
