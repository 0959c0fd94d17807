"""Users: email and display-name rules, password policy, the status machine, events."""

from __future__ import annotations

import pytest

from tests.unit.domain.builders import LATER, NOW, make_user
from videoplatform.domain.errors import InvalidTransition, ValidationError
from videoplatform.domain.events import (
    RolesChanged,
    UserActivated,
    UserDisabled,
    UserEnabled,
    UserProfileChanged,
    UserRegistered,
)
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Email,
    Permission,
    Role,
    User,
    UserStatus,
    check_password_policy,
)
from videoplatform.domain.visibility import Visibility

# -- email -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@Example.COM", "alice@example.com"),
        ("  bob@example.org\n", "bob@example.org"),
        ("\tCAROL+tag@Mail.Example.co.uk ", "carol+tag@mail.example.co.uk"),
        ("first.last@sub-domain.example.com", "first.last@sub-domain.example.com"),
    ],
)
def test_email_is_trimmed_and_case_folded(raw: str, normalized: str) -> None:
    email = Email.parse(raw)
    assert email.value == normalized
    assert str(email) == normalized


def test_emails_differing_only_in_case_are_the_same_account() -> None:
    assert Email.parse("Alice@X.example") == Email.parse("alice@x.EXAMPLE")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "alice",
        "alice@",
        "@example.com",
        "alice@@example.com",
        "al@ice@example.com",
        "alice@example",
        "al ice@example.com",
        "alice@exa mple.com",
        "alice@-example.com",
        "alice@example-.com",
        "alice@example..com",
        "alice@.example.com",
        "alice@example.com.",
        "alice@exam_ple.com",
        "ali\x00ce@example.com",
        "ali\x7fce@example.com",
        "alice@example.com\nbob@example.com",
    ],
)
def test_email_of_invalid_shape_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Email.parse(raw)
    assert caught.value.fields == {"email": "not a valid email address"}


def _address_of_length(total: int) -> str:
    local = "a" * 64
    tail_label = "d" * (total - (64 + 1 + 63 + 1 + 63 + 1 + 4))
    address = f"{local}@{'b' * 63}.{'c' * 63}.{tail_label}.com"
    assert len(address) == total
    return address


def test_email_of_254_characters_is_accepted() -> None:
    address = _address_of_length(254)
    assert Email.parse(address).value == address


def test_email_longer_than_254_characters_is_refused() -> None:
    with pytest.raises(ValidationError):
        Email.parse(_address_of_length(255))


def test_surrounding_whitespace_does_not_count_towards_the_email_length() -> None:
    address = _address_of_length(254)
    assert Email.parse(f"   {address}   ").value == address


def test_email_local_part_longer_than_64_characters_is_refused() -> None:
    assert Email.parse(f"{'a' * 64}@example.com").value.startswith("a" * 64)
    with pytest.raises(ValidationError):
        Email.parse(f"{'a' * 65}@example.com")


def test_email_domain_label_longer_than_63_characters_is_refused() -> None:
    assert Email.parse(f"a@{'b' * 63}.com")
    with pytest.raises(ValidationError):
        Email.parse(f"a@{'b' * 64}.com")


# -- display name ------------------------------------------------------------------------


def _register(display_name: str = "Ada", *, verified: bool = True) -> User:
    return User.register(
        id=UserId("user-1"),
        email=Email.parse("ada@example.com"),
        display_name=display_name,
        password_hash="argon2-hash",
        roles=frozenset({Role.CREATOR}),
        now=NOW,
        verified=verified,
    )


def test_display_name_whitespace_is_trimmed_and_collapsed() -> None:
    assert _register("  Ada \t  Lovelace\n").display_name == "Ada Lovelace"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t"])
def test_blank_display_name_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _register(raw)
    assert set(caught.value.fields) == {"display_name"}


def test_display_name_of_100_characters_is_accepted_and_101_refused() -> None:
    assert _register("x" * 100).display_name == "x" * 100
    with pytest.raises(ValidationError) as caught:
        _register("x" * 101)
    assert set(caught.value.fields) == {"display_name"}


@pytest.mark.parametrize("raw", ["Ada\x00", "A\x07da", "Ada\x7f", "\x1bAda"])
def test_display_name_with_control_characters_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _register(raw)
    assert caught.value.fields == {"display_name": "must not contain control characters"}


def test_rename_applies_the_display_name_rules_and_touches_updated_at() -> None:
    user = _register("Ada")
    user.pull_events()
    user.change_profile(LATER, display_name="  Ada   King ")
    assert user.display_name == "Ada King"
    assert user.updated_at == LATER
    assert user.pull_events() == [UserProfileChanged(LATER, user.id, renamed=True)]


def test_rename_to_an_invalid_display_name_is_refused_and_keeps_the_old_one() -> None:
    user = _register("Ada")
    with pytest.raises(ValidationError):
        user.change_profile(LATER, display_name="   ")
    assert user.display_name == "Ada"
    assert user.updated_at == NOW


def test_the_default_visibility_of_uploads_is_a_preference_of_the_account() -> None:
    user = _register("Ada")
    assert user.default_visibility == Visibility.PRIVATE
    user.pull_events()
    user.change_profile(LATER, default_visibility=Visibility.PUBLIC)
    assert user.default_visibility.value == "public"
    assert user.pull_events() == [UserProfileChanged(LATER, user.id, renamed=False)]
    user.change_profile(LATER, display_name="Ada", default_visibility=Visibility.PUBLIC)
    assert user.pull_events() == []  # nothing changed, nothing said


# -- password policy ---------------------------------------------------------------------


def test_password_policy_bounds_are_10_and_1024() -> None:
    assert MIN_PASSWORD_LENGTH == 10
    assert MAX_PASSWORD_LENGTH == 1024


@pytest.mark.parametrize(
    "length", [MIN_PASSWORD_LENGTH, 11, MAX_PASSWORD_LENGTH - 1, MAX_PASSWORD_LENGTH]
)
def test_password_within_the_bounds_is_accepted(length: int) -> None:
    check_password_policy("p" * length)


@pytest.mark.parametrize("length", [0, 1, MIN_PASSWORD_LENGTH - 1])
def test_password_that_is_too_short_is_refused(length: int) -> None:
    with pytest.raises(ValidationError) as caught:
        check_password_policy("p" * length)
    assert caught.value.fields == {"password": "must be at least 10 characters"}


@pytest.mark.parametrize("length", [MAX_PASSWORD_LENGTH + 1, 10 * MAX_PASSWORD_LENGTH])
def test_password_that_is_too_long_is_refused(length: int) -> None:
    with pytest.raises(ValidationError) as caught:
        check_password_policy("p" * length)
    assert caught.value.fields == {"password": "must be at most 1024 characters"}


# -- registration and the status machine -------------------------------------------------


def test_verified_registration_makes_an_active_user() -> None:
    user = _register(verified=True)
    assert user.status is UserStatus.ACTIVE
    assert user.is_active
    assert user.created_at == NOW
    assert user.updated_at == NOW


def test_unverified_registration_makes_a_pending_user_who_cannot_act() -> None:
    user = _register(verified=False)
    assert user.status is UserStatus.PENDING
    assert not user.is_active
    assert not user.can(Permission.VIDEO_VIEW)


def test_registration_records_user_registered_with_the_normalized_email() -> None:
    user = User.register(
        id=UserId("user-9"),
        email=Email.parse(" Ada@Example.COM "),
        display_name="Ada",
        password_hash="argon2-hash",
        roles=frozenset({Role.VIEWER}),
        now=NOW,
        verified=False,
    )
    assert user.pull_events() == [
        UserRegistered(occurred_at=NOW, user_id=UserId("user-9"), email="ada@example.com")
    ]


def test_pull_events_drains_the_recorded_events() -> None:
    user = _register()
    assert len(user.pull_events()) == 1
    assert user.pull_events() == []


def test_activate_moves_a_pending_user_to_active_and_records_it() -> None:
    user = _register(verified=False)
    user.pull_events()
    user.activate(LATER)
    assert user.status is UserStatus.ACTIVE
    assert user.updated_at == LATER
    assert user.can(Permission.VIDEO_UPLOAD)
    assert user.pull_events() == [UserActivated(occurred_at=LATER, user_id=user.id)]


def test_activating_an_active_user_raises_invalid_transition() -> None:
    user = _register(verified=True)
    user.pull_events()
    with pytest.raises(InvalidTransition):
        user.activate(LATER)
    assert user.status is UserStatus.ACTIVE
    assert user.updated_at == NOW
    assert user.pull_events() == []


def test_activating_a_disabled_user_raises_invalid_transition() -> None:
    user = make_user(status=UserStatus.DISABLED)
    with pytest.raises(InvalidTransition):
        user.activate(LATER)
    assert user.status is UserStatus.DISABLED


@pytest.mark.parametrize("start", [UserStatus.ACTIVE, UserStatus.PENDING], ids=lambda s: s.value)
def test_disable_stops_a_user_and_records_user_disabled(start: UserStatus) -> None:
    user = make_user([Role.ADMIN], status=start)
    user.disable(LATER)
    assert user.status is UserStatus.DISABLED
    assert user.updated_at == LATER
    assert user.permissions() == frozenset()
    assert user.pull_events() == [UserDisabled(occurred_at=LATER, user_id=user.id)]


@pytest.mark.parametrize("start", [UserStatus.ACTIVE, UserStatus.PENDING], ids=lambda s: s.value)
def test_enabling_a_disabled_user_makes_it_active_and_records_user_enabled(
    start: UserStatus,
) -> None:
    user = make_user([Role.CREATOR], status=start)
    user.disable(NOW)
    user.pull_events()
    user.enable(LATER)
    assert user.status is UserStatus.ACTIVE
    assert user.updated_at == LATER
    assert Permission.VIDEO_UPLOAD in user.permissions()
    assert user.pull_events() == [UserEnabled(occurred_at=LATER, user_id=user.id)]


@pytest.mark.parametrize("start", [UserStatus.ACTIVE, UserStatus.PENDING], ids=lambda s: s.value)
def test_enabling_a_user_who_is_not_disabled_raises_invalid_transition(start: UserStatus) -> None:
    user = make_user(status=start)
    with pytest.raises(InvalidTransition):
        user.enable(LATER)
    assert user.status is start
    assert user.pull_events() == []


def test_disabling_a_disabled_user_raises_invalid_transition() -> None:
    user = make_user()
    user.disable(NOW)
    user.pull_events()
    with pytest.raises(InvalidTransition):
        user.disable(LATER)
    assert user.status is UserStatus.DISABLED
    assert user.updated_at == NOW
    assert user.pull_events() == []


def test_change_roles_replaces_the_roles_and_records_them_sorted() -> None:
    user = make_user([Role.VIEWER])
    user.change_roles(frozenset({Role.MODERATOR, Role.CREATOR}), LATER)
    assert user.roles == frozenset({Role.MODERATOR, Role.CREATOR})
    assert user.updated_at == LATER
    assert user.can(Permission.AUDIT_READ)
    assert user.pull_events() == [
        RolesChanged(occurred_at=LATER, user_id=user.id, roles=("creator", "moderator"))
    ]


def test_change_roles_to_an_empty_set_is_refused_and_changes_nothing() -> None:
    user = make_user([Role.CREATOR])
    with pytest.raises(ValidationError) as caught:
        user.change_roles(frozenset(), LATER)
    assert caught.value.fields == {"roles": "at least one role is required"}
    assert user.roles == frozenset({Role.CREATOR})
    assert user.updated_at == NOW
    assert user.pull_events() == []


def test_events_accumulate_in_order_until_pulled() -> None:
    user = _register(verified=False)
    user.activate(LATER)
    user.change_roles(frozenset({Role.VIEWER}), LATER)
    user.disable(LATER)
    assert [type(e) for e in user.pull_events()] == [
        UserRegistered,
        UserActivated,
        RolesChanged,
        UserDisabled,
    ]
    assert user.pull_events() == []


def test_change_password_hash_replaces_the_hash_and_touches_updated_at() -> None:
    user = make_user()
    user.change_password_hash("new-hash", LATER)
    assert user.password_hash == "new-hash"
    assert user.updated_at == LATER


def test_password_hash_is_not_shown_in_repr() -> None:
    assert "argon2-hash" not in repr(make_user())


@pytest.mark.parametrize("raw", ["ali\u200bce@example.com", "alice\u2028@example.com"])
def test_invisible_characters_in_an_email_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        Email.parse(raw)


def test_emails_are_compared_in_one_unicode_form() -> None:
    composed = Email.parse("jos\u00e9@example.com")
    decomposed = Email.parse("jose\u0301@example.com")
    assert composed == decomposed
