"""Role-based access control: which role grants which permission, and who gets none."""

from __future__ import annotations

from itertools import combinations

import pytest

from tests.unit.domain.builders import make_user
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.users import ROLE_PERMISSIONS, Permission, Role, UserStatus, parse_roles

ROLES_IN_TABLE_ORDER = (Role.VIEWER, Role.CREATOR, Role.MODERATOR, Role.ADMIN)

# The expected matrix, written out by hand: a change to ROLE_PERMISSIONS must change this
# table too, on purpose.
# fmt: off
RBAC_MATRIX: tuple[tuple[str, bool, bool, bool, bool], ...] = (
    # permission         viewer  creator  moderator  admin
    ("video:view",       True,   True,    True,      True),
    ("video:upload",     False,  True,    True,      True),
    ("file:manage",      False,  True,    True,      True),
    ("share:create",     False,  True,    True,      True),
    ("video:moderate",   False,  False,   True,      True),
    ("audit:read",       False,  False,   True,      True),
    ("audit:accounts",   False,  False,   False,     True),
    ("file:moderate",    False,  False,   False,     True),
    ("user:manage",      False,  False,   False,     True),
    ("category:manage",  False,  False,   False,     True),
    ("health:read",      False,  False,   False,     True),
    ("search:analytics", False,  False,   False,     True),
)
# fmt: on

MATRIX_CASES = [
    pytest.param(role, Permission(row[0]), row[1 + column], id=f"{role.value}-{row[0]}")
    for row in RBAC_MATRIX
    for column, role in enumerate(ROLES_IN_TABLE_ORDER)
]

ALL_PAIRS = [
    pytest.param(role, permission, id=f"{role.value}-{permission.value}")
    for role in Role
    for permission in Permission
]


def test_the_matrix_names_every_permission_and_every_role_exactly_once() -> None:
    names = [row[0] for row in RBAC_MATRIX]
    assert sorted(names) == sorted(p.value for p in Permission)
    assert set(ROLES_IN_TABLE_ORDER) == set(Role)
    assert len(MATRIX_CASES) == len(Role) * len(Permission)


@pytest.mark.parametrize(("role", "permission", "expected"), MATRIX_CASES)
def test_active_user_with_one_role_has_exactly_the_permissions_of_the_matrix(
    role: Role, permission: Permission, expected: bool
) -> None:
    user = make_user([role])
    assert user.can(permission) is expected
    assert (permission in ROLE_PERMISSIONS[role]) is expected


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_permissions_of_an_active_user_are_the_row_of_the_matrix(role: Role) -> None:
    column = ROLES_IN_TABLE_ORDER.index(role)
    expected = {Permission(row[0]) for row in RBAC_MATRIX if row[1 + column]}
    assert make_user([role]).permissions() == expected


def test_admin_holds_every_permission() -> None:
    assert make_user([Role.ADMIN]).permissions() == frozenset(Permission)


@pytest.mark.parametrize("status", [UserStatus.DISABLED, UserStatus.PENDING], ids=lambda s: s.value)
@pytest.mark.parametrize(("role", "permission"), ALL_PAIRS)
def test_user_who_is_not_active_can_do_nothing(
    status: UserStatus, role: Role, permission: Permission
) -> None:
    user = make_user([role], status=status)
    assert user.can(permission) is False
    assert user.permissions() == frozenset()


@pytest.mark.parametrize(
    ("first", "second"),
    list(combinations(Role, 2)),
    ids=lambda r: r.value,
)
def test_multiple_roles_union_their_permissions(first: Role, second: Role) -> None:
    user = make_user([first, second])
    assert user.permissions() == ROLE_PERMISSIONS[first] | ROLE_PERMISSIONS[second]


def test_viewer_and_creator_together_may_upload_because_creator_grants_it() -> None:
    user = make_user([Role.VIEWER, Role.CREATOR])
    assert user.can(Permission.VIDEO_UPLOAD)
    assert not user.can(Permission.VIDEO_MODERATE)


def test_user_with_no_roles_has_no_permissions() -> None:
    assert make_user([]).permissions() == frozenset()


def test_permission_names_are_stable_strings() -> None:
    assert {p.value for p in Permission} == {
        "video:view",
        "video:upload",
        "video:moderate",
        "file:manage",
        "file:moderate",
        "share:create",
        "audit:read",
        "audit:accounts",
        "user:manage",
        "category:manage",
        "health:read",
        "search:analytics",
    }
    assert [r.value for r in Role] == ["viewer", "creator", "moderator", "admin"]


def test_parse_roles_accepts_known_names_trimmed_and_case_insensitive() -> None:
    assert parse_roles([" Admin ", "VIEWER"]) == frozenset({Role.ADMIN, Role.VIEWER})


def test_parse_roles_collapses_duplicates() -> None:
    assert parse_roles(["creator", "Creator", " creator"]) == frozenset({Role.CREATOR})


@pytest.mark.parametrize("names", [["wizard"], ["viewer", "root"], [""], ["   "]])
def test_parse_roles_refuses_unknown_names(names: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_roles(names)
    assert set(caught.value.fields) == {"roles"}
    assert "unknown role" in caught.value.fields["roles"]


def test_parse_roles_refuses_an_empty_list() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_roles([])
    assert caught.value.fields == {"roles": "at least one role is required"}
