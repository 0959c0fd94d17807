"""Accounts: registration, verification, login, sessions, personal tokens, roles."""

from __future__ import annotations

import re
import string
from datetime import timedelta

import attrs
import pytest

from tests.unit.application.conftest import Trail, only_event
from tests.unit.conftest import CHEAP_ARGON2, PASSWORD, MakeUser
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.users import IssuedToken, Login, RegisterUser
from videoplatform.domain.audit import AuditAction, AuditResult
from videoplatform.domain.credentials import digest_token
from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from videoplatform.domain.ids import TokenId, UserId
from videoplatform.domain.users import ALL_SCOPES, Role, Scope, UserStatus
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.settings import Settings
from videoplatform.entrypoints.worker import settle_events

URLSAFE = set(string.ascii_letters + string.digits + "-_")


def register(platform: Platform, email: str, password: str = PASSWORD) -> UserId:
    return platform.users.register(RegisterUser(email, password, "Someone")).id


# -- registration ------------------------------------------------------------------------


def test_register_gives_an_active_creator_with_a_normalized_email(
    platform: Platform, trail: Trail
) -> None:
    user = platform.users.register(RegisterUser("  Alice@Example.COM ", PASSWORD, " Alice  A "))

    assert user.email.value == "alice@example.com"
    assert user.roles == frozenset({Role.CREATOR})
    assert user.status is UserStatus.ACTIVE
    assert user.display_name == "Alice A"
    event = only_event(trail, AuditAction.USER_REGISTER, AuditResult.SUCCESS, user.id)
    assert event.actor_id == user.id
    assert event.resource_type == "user"
    assert event.metadata["roles"] == "creator"


def test_password_is_stored_only_as_an_argon2id_hash(
    platform: Platform, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    user_id = register(platform, "hash@example.com")

    with uow_factory() as uow:
        stored = uow.users.get(user_id)
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


def test_registering_a_taken_email_in_any_case_is_a_conflict(platform: Platform) -> None:
    register(platform, "bob@example.com")

    with pytest.raises(Conflict) as refused:
        register(platform, "BOB@example.com")
    assert refused.value.code == "email_taken"


def test_weak_password_is_refused_with_the_field_named(
    platform: Platform, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    with pytest.raises(ValidationError) as refused:
        register(platform, "weak@example.com", password="short")
    assert "password" in refused.value.fields
    with uow_factory() as uow:
        assert uow.users.find_by_email("weak@example.com") is None


def test_malformed_email_is_refused(platform: Platform) -> None:
    with pytest.raises(ValidationError) as refused:
        register(platform, "not-an-email")
    assert "email" in refused.value.fields


# -- email verification ------------------------------------------------------------------


class TestEmailVerification:
    @pytest.fixture
    def settings(self) -> Settings:
        return attrs.evolve(CHEAP_ARGON2, require_email_verification=True)

    @staticmethod
    def code_in(platform: Platform, mailer: MemoryMailer, address: str) -> str:
        settle_events(platform)  # the account-mail handler sends it, after the request
        (message,) = [m for m in mailer.sent if m.to == address]
        match = re.search(r"^([A-Za-z0-9_-]{22,})$", message.body, re.MULTILINE)
        assert match is not None, message.body
        return match.group(1)

    def test_new_account_is_pending_and_mailed_a_code(
        self, platform: Platform, mailer: MemoryMailer
    ) -> None:
        user = platform.users.register(RegisterUser("Pending@Example.com", PASSWORD, "P"))

        assert user.status is UserStatus.PENDING
        with pytest.raises(AuthenticationFailed):
            platform.users.me(Caller(user.id))
        assert mailer.sent == []  # registering does not wait on a mail server
        settle_events(platform)
        (message,) = mailer.sent
        assert message.to == "pending@example.com"
        assert len(self.code_in(platform, mailer, "pending@example.com")) >= 22

    def test_pending_account_cannot_log_in(
        self, platform: Platform, mailer: MemoryMailer, trail: Trail
    ) -> None:
        user = platform.users.register(RegisterUser("p@example.com", PASSWORD, "P"))

        with pytest.raises(AuthenticationFailed) as refused:
            platform.users.login(Login("p@example.com", PASSWORD))
        assert str(refused.value) == "invalid email or password"
        event = only_event(trail, AuditAction.USER_LOGIN, AuditResult.FAILURE, user.id)
        assert event.metadata["reason"] == "account_pending"

    def test_verifying_with_the_mailed_code_activates_the_account(
        self, platform: Platform, mailer: MemoryMailer, trail: Trail
    ) -> None:
        user = platform.users.register(RegisterUser("v@example.com", PASSWORD, "V"))

        verified = platform.users.verify_email(self.code_in(platform, mailer, "v@example.com"))

        assert verified.id == user.id
        assert verified.status is UserStatus.ACTIVE
        issued = platform.users.login(Login("v@example.com", PASSWORD))
        assert platform.users.authenticate(issued.token).user_id == user.id
        event = only_event(trail, AuditAction.USER_VERIFY, AuditResult.SUCCESS, user.id)
        assert event.actor_id == user.id

    def test_a_code_works_only_once(self, platform: Platform, mailer: MemoryMailer) -> None:
        platform.users.register(RegisterUser("once@example.com", PASSWORD, "O"))
        code = self.code_in(platform, mailer, "once@example.com")
        platform.users.verify_email(code)

        with pytest.raises(ValidationError) as refused:
            platform.users.verify_email(code)
        assert "token" in refused.value.fields

    def test_wrong_code_is_refused_and_the_account_stays_pending(
        self, platform: Platform, mailer: MemoryMailer, uow_factory: MemoryUnitOfWorkFactory
    ) -> None:
        user = platform.users.register(RegisterUser("w@example.com", PASSWORD, "W"))

        with pytest.raises(ValidationError) as refused:
            platform.users.verify_email("A" * 43)
        assert "token" in refused.value.fields
        with uow_factory() as uow:
            assert uow.users.get(user.id).status is UserStatus.PENDING

    def test_expired_code_is_refused(
        self, platform: Platform, mailer: MemoryMailer, clock: ManualClock
    ) -> None:
        platform.users.register(RegisterUser("late@example.com", PASSWORD, "L"))
        code = self.code_in(platform, mailer, "late@example.com")
        clock.advance(timedelta(days=2))

        with pytest.raises(ValidationError):
            platform.users.verify_email(code)

    def test_verification_code_is_not_a_bearer_token(
        self, platform: Platform, mailer: MemoryMailer
    ) -> None:
        platform.users.register(RegisterUser("b@example.com", PASSWORD, "B"))

        with pytest.raises(AuthenticationFailed):
            platform.users.authenticate(self.code_in(platform, mailer, "b@example.com"))

    def test_administrators_made_by_the_operator_need_no_verification(
        self, platform: Platform, mailer: MemoryMailer
    ) -> None:
        root = platform.users.create_admin(RegisterUser("op@example.com", PASSWORD, "Op"))

        assert root.status is UserStatus.ACTIVE
        assert mailer.sent == []


# -- login, sessions, logout -------------------------------------------------------------


def test_login_issues_a_high_entropy_token_that_authenticates(
    platform: Platform, trail: Trail
) -> None:
    user_id = register(platform, "carol@example.com")

    issued = platform.users.login(Login("CAROL@example.com", PASSWORD))
    again = platform.users.login(Login("carol@example.com", PASSWORD))

    assert len(issued.token) >= 22  # 128 bits in url-safe base64
    assert set(issued.token) <= URLSAFE
    assert issued.token != again.token
    assert issued.user_id == user_id
    principal = platform.users.authenticate(issued.token)
    assert principal.user_id == user_id
    assert principal.roles == frozenset({Role.CREATOR})
    assert principal.token_id == issued.token_id
    logins = trail(AuditFilter(action=AuditAction.USER_LOGIN, result=AuditResult.SUCCESS))
    assert [e.actor_id for e in logins] == [user_id, user_id]


def test_session_secret_is_stored_only_as_a_digest(
    platform: Platform, uow_factory: MemoryUnitOfWorkFactory
) -> None:
    register(platform, "digest@example.com")
    issued = platform.users.login(Login("digest@example.com", PASSWORD))

    with uow_factory() as uow:
        record = uow.tokens.get(issued.token_id)
    assert record.token_hash == digest_token(issued.token)
    assert issued.token not in repr(attrs.asdict(record))


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("nobody@example.com", PASSWORD, "unknown_email"),
        ("dave@example.com", "wrong password!", "wrong_password"),
        ("disabled@example.com", PASSWORD, "account_disabled"),
    ],
)
def test_every_login_failure_looks_the_same_and_is_audited_with_its_reason(
    platform: Platform,
    admin: Caller,
    trail: Trail,
    email: str,
    password: str,
    reason: str,
) -> None:
    register(platform, "dave@example.com")
    platform.users.disable(admin, register(platform, "disabled@example.com"))

    with pytest.raises(AuthenticationFailed) as refused:
        platform.users.login(Login(email, password), Caller.anonymous(ip="203.0.113.9"))

    assert str(refused.value) == "invalid email or password"
    assert refused.value.code == "authentication_failed"
    (event,) = trail(AuditFilter(action=AuditAction.USER_LOGIN, result=AuditResult.FAILURE))
    assert event.metadata["reason"] == reason
    assert event.metadata["email"] == email
    assert event.ip == "203.0.113.9"
    assert event.resource_type == "user"


def test_logout_revokes_the_session_and_is_idempotent(platform: Platform, trail: Trail) -> None:
    user_id = register(platform, "erin@example.com")
    issued = platform.users.login(Login("erin@example.com", PASSWORD))

    platform.users.logout(issued.token)

    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(issued.token)
    platform.users.logout(issued.token)
    platform.users.logout("never-issued-token-at-all")
    (event,) = trail(AuditFilter(action=AuditAction.USER_LOGOUT))
    assert event.result is AuditResult.SUCCESS
    assert event.actor_id == user_id
    assert event.resource_id == issued.token_id


def test_logout_leaves_other_sessions_alone(platform: Platform) -> None:
    register(platform, "two@example.com")
    first = platform.users.login(Login("two@example.com", PASSWORD))
    second = platform.users.login(Login("two@example.com", PASSWORD))

    platform.users.logout(first.token)

    assert platform.users.authenticate(second.token).token_id == second.token_id


def test_session_expires_after_its_lifetime(
    platform: Platform, clock: ManualClock, settings: Settings
) -> None:
    register(platform, "frank@example.com")
    issued = platform.users.login(Login("frank@example.com", PASSWORD))
    ttl = timedelta(seconds=settings.session_ttl_seconds)
    assert issued.expires_at == clock.now() + ttl

    clock.advance(ttl - timedelta(seconds=1))
    platform.users.authenticate(issued.token)
    clock.advance(timedelta(seconds=1))

    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(issued.token)


def test_unknown_token_does_not_authenticate(platform: Platform) -> None:
    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate("x" * 43)


# -- personal API tokens -----------------------------------------------------------------


def test_personal_tokens_are_created_listed_without_secrets_and_revoked(
    platform: Platform, make_user: MakeUser, clock: ManualClock, trail: Trail
) -> None:
    me = make_user(email="tokens@example.com")
    first = platform.users.create_api_token(me, "  ci   script ")
    clock.advance(timedelta(seconds=1))
    second = platform.users.create_api_token(me, "backup", timedelta(days=7))
    session = platform.users.login(Login("tokens@example.com", PASSWORD))

    listed = platform.users.list_api_tokens(me)

    assert [t.id for t in listed] == [second.token_id, first.token_id]  # no session
    assert platform.users.authenticate(session.token).user_id == me.user_id
    assert [t.name for t in listed] == ["backup", "ci script"]
    assert second.expires_at == clock.now() + timedelta(days=7)
    for record in listed:
        dump = repr(attrs.asdict(record))
        assert first.token not in dump
        assert second.token not in dump
    assert platform.users.authenticate(first.token).user_id == me.user_id

    platform.users.revoke_api_token(me, first.token_id)

    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(first.token)
    assert platform.users.authenticate(second.token).token_id == second.token_id
    created = only_event(trail, AuditAction.TOKEN_CREATE, AuditResult.SUCCESS, first.token_id)
    assert created.metadata["name"] == "ci script"
    revoked = only_event(trail, AuditAction.TOKEN_REVOKE, AuditResult.SUCCESS, first.token_id)
    assert revoked.actor_id == me.user_id


def test_personal_token_expires(
    platform: Platform, make_user: MakeUser, clock: ManualClock
) -> None:
    me = make_user()
    issued = platform.users.create_api_token(me, "short", timedelta(hours=1))
    clock.advance(timedelta(hours=1))

    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(issued.token)


@pytest.mark.parametrize("expires_in", [timedelta(0), timedelta(days=366), -timedelta(days=1)])
def test_personal_token_lifetime_is_bounded(
    platform: Platform, make_user: MakeUser, expires_in: timedelta
) -> None:
    me = make_user()

    with pytest.raises(ValidationError) as refused:
        platform.users.create_api_token(me, "bad", expires_in)
    assert "expires_in" in refused.value.fields


def test_anonymous_caller_cannot_create_a_token_and_is_audited(
    platform: Platform, trail: Trail
) -> None:
    with pytest.raises(AuthenticationFailed):
        platform.users.create_api_token(Caller.anonymous(), "nope")

    event = only_event(trail, AuditAction.TOKEN_CREATE, AuditResult.DENIED)
    assert event.actor_id is None
    assert event.metadata["reason"] == "authentication_failed"


def test_another_user_cannot_revoke_my_token(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    me, stranger = make_user(), make_user()
    issued = platform.users.create_api_token(me, "mine")

    with pytest.raises(NotFound):
        platform.users.revoke_api_token(stranger, issued.token_id)

    assert platform.users.authenticate(issued.token).user_id == me.user_id
    event = only_event(trail, AuditAction.TOKEN_REVOKE, AuditResult.DENIED, issued.token_id)
    assert event.actor_id == stranger.user_id
    assert event.metadata["reason"] == "not_found"


def test_an_administrator_may_revoke_anyones_token(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    me = make_user()
    issued = platform.users.create_api_token(me, "mine")

    platform.users.revoke_api_token(admin, issued.token_id)

    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(issued.token)


# -- scoped tokens -----------------------------------------------------------------------


def as_token(caller: Caller, issued: IssuedToken) -> Caller:
    """The caller as the HTTP layer makes it for a call with ``issued``."""
    return attrs.evolve(caller, token_id=issued.token_id)


def test_a_token_carries_the_scopes_it_was_given_and_every_one_by_default(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    me = make_user()
    reader = platform.users.create_api_token(me, "reader", scopes=frozenset({Scope.READ}))
    everything = platform.users.create_api_token(me, "all")
    session = platform.users.login(Login("user1@example.com", PASSWORD))

    assert platform.users.authenticate(reader.token).scopes == {Scope.READ}
    assert platform.users.authenticate(everything.token).scopes == ALL_SCOPES
    assert platform.users.authenticate(session.token).scopes == ALL_SCOPES
    listed = {t.name: t.scopes for t in platform.users.list_api_tokens(me)}
    assert listed == {"reader": {Scope.READ}, "all": ALL_SCOPES}
    made = only_event(trail, AuditAction.TOKEN_CREATE, AuditResult.SUCCESS, reader.token_id)
    assert made.metadata["scopes"] == "read"


def test_a_token_mints_tokens_within_its_own_scopes_and_life_only(
    platform: Platform, make_user: MakeUser, clock: ManualClock, trail: Trail
) -> None:
    me = make_user()
    parent = platform.users.create_api_token(
        me, "deploy", timedelta(days=10), frozenset({Scope.READ, Scope.UPLOAD})
    )
    with_parent = as_token(me, parent)

    with pytest.raises(PermissionDenied):
        platform.users.create_api_token(with_parent, "wider", scopes=frozenset({Scope.WRITE}))
    with pytest.raises(ValidationError) as longer:
        platform.users.create_api_token(with_parent, "longer", timedelta(days=11))
    child = platform.users.create_api_token(with_parent, "child", scopes=frozenset({Scope.READ}))
    inherited = platform.users.create_api_token(with_parent, "inherits")

    assert "expires_in" in longer.value.fields
    assert platform.users.authenticate(child.token).scopes == {Scope.READ}
    assert platform.users.authenticate(inherited.token).scopes == {Scope.READ, Scope.UPLOAD}
    # Without a lifetime, a child lives exactly as long as its parent.
    assert child.expires_at == parent.expires_at == clock.now() + timedelta(days=10)
    records = {t.name: t for t in platform.users.list_api_tokens(me)}
    assert records["child"].parent_id == parent.token_id
    assert records["deploy"].parent_id is None
    refused = only_event(trail, AuditAction.TOKEN_CREATE, AuditResult.DENIED)
    assert refused.metadata["reason"] == "permission_denied"


def test_tokens_minted_by_a_token_are_revoked_with_it(
    platform: Platform, make_user: MakeUser
) -> None:
    me = make_user()
    parent = platform.users.create_api_token(me, "parent")
    child = platform.users.create_api_token(as_token(me, parent), "child")
    grandchild = platform.users.create_api_token(as_token(me, child), "grandchild")
    sibling = platform.users.create_api_token(me, "made by the user")
    session = platform.users.login(Login("user1@example.com", PASSWORD))
    from_session = platform.users.create_api_token(
        attrs.evolve(me, token_id=session.token_id), "made in a session"
    )

    platform.users.revoke_api_token(me, parent.token_id)

    for dead in (parent, child, grandchild):
        with pytest.raises(AuthenticationFailed):
            platform.users.authenticate(dead.token)
    # Tokens made by the user (directly, or while logged in) live on.
    for alive in (sibling, from_session, session):
        assert platform.users.authenticate(alive.token).user_id == me.user_id


def test_a_revoked_or_expired_token_cannot_mint(
    platform: Platform, make_user: MakeUser, clock: ManualClock
) -> None:
    me = make_user()
    short = platform.users.create_api_token(me, "short", timedelta(hours=1))
    clock.advance(timedelta(hours=1))

    with pytest.raises(AuthenticationFailed):
        platform.users.create_api_token(as_token(me, short), "child")


def test_another_users_token_id_mints_nothing(platform: Platform, make_user: MakeUser) -> None:
    me, stranger = make_user(), make_user()
    theirs = platform.users.create_api_token(stranger, "theirs", scopes=frozenset({Scope.READ}))

    with pytest.raises(AuthenticationFailed):
        platform.users.create_api_token(as_token(me, theirs), "borrowed")


def test_a_personal_token_does_not_open_a_browser_session(
    platform: Platform, make_user: MakeUser
) -> None:
    me = make_user()
    issued = platform.users.create_api_token(me, "script")
    session = platform.users.login(Login("user1@example.com", PASSWORD))

    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(issued.token, session_only=True)
    assert platform.users.authenticate(session.token, session_only=True).user_id == me.user_id


# -- roles -------------------------------------------------------------------------------


def test_admin_changes_roles_and_it_is_audited(
    platform: Platform, make_user: MakeUser, admin: Caller, trail: Trail
) -> None:
    user = make_user()

    changed = platform.users.change_roles(admin, UserId(str(user.user_id)), ["Moderator", "viewer"])

    assert changed.roles == frozenset({Role.MODERATOR, Role.VIEWER})
    event = only_event(trail, AuditAction.USER_ROLES_CHANGE, AuditResult.SUCCESS, str(user.user_id))
    assert event.actor_id == admin.user_id
    assert event.metadata["from"] == "creator"
    assert event.metadata["to"] == "moderator,viewer"


def test_role_change_takes_effect_on_the_next_call(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    user = make_user()
    assert user.user_id is not None
    platform.users.change_roles(admin, user.user_id, ["admin"])

    assert platform.users.list(user).items  # now allowed


def test_unknown_role_is_refused(platform: Platform, make_user: MakeUser, admin: Caller) -> None:
    user = make_user()
    assert user.user_id is not None

    with pytest.raises(ValidationError) as refused:
        platform.users.change_roles(admin, user.user_id, ["superuser"])
    assert "roles" in refused.value.fields


@pytest.mark.parametrize("role", [Role.CREATOR, Role.MODERATOR])
def test_non_admin_cannot_change_roles_and_is_audited(
    platform: Platform, make_user: MakeUser, trail: Trail, role: Role
) -> None:
    actor = make_user(role)
    target = make_user()
    assert target.user_id is not None

    with pytest.raises(PermissionDenied):
        platform.users.change_roles(actor, target.user_id, ["admin"])

    event = only_event(trail, AuditAction.USER_ROLES_CHANGE, AuditResult.DENIED, target.user_id)
    assert event.actor_id == actor.user_id
    assert event.metadata["reason"] == "permission_denied"
    assert platform.users.get(target, target.user_id).roles == frozenset({Role.CREATOR})


def test_the_last_active_admin_keeps_the_role(
    platform: Platform, admin: Caller, trail: Trail
) -> None:
    assert admin.user_id is not None
    others = [u for u in platform.users.list(admin).items if u.id != admin.user_id]
    (root,) = [u for u in others if Role.ADMIN in u.roles]
    platform.users.change_roles(admin, root.id, ["creator"])  # two admins: allowed

    with pytest.raises(Conflict) as refused:
        platform.users.change_roles(admin, admin.user_id, ["creator"])

    assert refused.value.code == "last_admin"
    assert platform.users.get(admin, admin.user_id).roles == frozenset({Role.ADMIN})
    assert trail(AuditFilter(action=AuditAction.USER_ROLES_CHANGE, resource_id=admin.user_id)) == []


# -- disabling ---------------------------------------------------------------------------


def test_disabling_revokes_every_token_at_once(
    platform: Platform, make_user: MakeUser, admin: Caller, trail: Trail
) -> None:
    user = make_user(email="gina@example.com")
    assert user.user_id is not None
    session1 = platform.users.login(Login("gina@example.com", PASSWORD))
    session2 = platform.users.login(Login("gina@example.com", PASSWORD))
    personal = platform.users.create_api_token(user, "script")
    platform.users.logout(session2.token)  # already revoked: not counted again

    disabled = platform.users.disable(admin, user.user_id)

    assert disabled.status is UserStatus.DISABLED
    for token in (session1, session2, personal):
        with pytest.raises(AuthenticationFailed):
            platform.users.authenticate(token.token)
    event = only_event(trail, AuditAction.USER_DISABLE, AuditResult.SUCCESS, user.user_id)
    assert event.actor_id == admin.user_id
    assert event.metadata["tokens_revoked"] == "2"


def test_a_disabled_users_calls_are_refused(
    platform: Platform, make_user: MakeUser, admin: Caller
) -> None:
    user = make_user()
    assert user.user_id is not None
    platform.users.disable(admin, user.user_id)

    with pytest.raises(AuthenticationFailed):
        platform.users.me(user)
    with pytest.raises(AuthenticationFailed):
        platform.users.create_api_token(user, "after")


def test_disabled_users_token_stops_working_even_if_not_revoked(
    platform: Platform,
    make_user: MakeUser,
    admin: Caller,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
) -> None:
    user = make_user(email="hank@example.com")
    assert user.user_id is not None
    issued = platform.users.login(Login("hank@example.com", PASSWORD))
    # Disable the account directly, leaving the token unrevoked: the user check still bites.
    with uow_factory() as uow:
        record = uow.users.get(user.user_id)
        record.disable(clock.now())
        uow.users.save(record)
        uow.commit()

    with pytest.raises(AuthenticationFailed):
        platform.users.authenticate(issued.token)


def test_non_admin_cannot_disable_and_is_audited(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    actor, target = make_user(Role.MODERATOR), make_user()
    assert target.user_id is not None

    with pytest.raises(PermissionDenied):
        platform.users.disable(actor, target.user_id)

    assert platform.users.me(target).status is UserStatus.ACTIVE
    event = only_event(trail, AuditAction.USER_DISABLE, AuditResult.DENIED, target.user_id)
    assert event.actor_id == actor.user_id


def test_the_last_active_admin_cannot_be_disabled(platform: Platform, admin: Caller) -> None:
    assert admin.user_id is not None
    (root,) = [
        u
        for u in platform.users.list(admin).items
        if u.id != admin.user_id and Role.ADMIN in u.roles
    ]
    platform.users.disable(admin, root.id)

    with pytest.raises(Conflict) as refused:
        platform.users.disable(admin, admin.user_id)
    assert refused.value.code == "last_admin"


# -- reading users -----------------------------------------------------------------------


def test_users_see_themselves(platform: Platform, make_user: MakeUser) -> None:
    me = make_user(email="ivy@example.com")
    assert me.user_id is not None

    assert platform.users.get(me, me.user_id).email.value == "ivy@example.com"
    assert platform.users.me(me).id == me.user_id


def test_other_users_are_hidden_from_non_admins(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    me, other = make_user(Role.MODERATOR), make_user()
    assert other.user_id is not None

    with pytest.raises(NotFound) as hidden:
        platform.users.get(me, other.user_id)
    with pytest.raises(NotFound) as missing:
        platform.users.get(me, UserId("01NOSUCHUSER0000000000000"))

    assert str(hidden.value) == str(missing.value)
    event = only_event(trail, AuditAction.USER_LIST, AuditResult.DENIED, other.user_id)
    assert event.actor_id == me.user_id
    assert event.metadata["reason"] == "not_found"


def test_admin_sees_anyone(platform: Platform, make_user: MakeUser, admin: Caller) -> None:
    other = make_user(email="jack@example.com")
    assert other.user_id is not None

    assert platform.users.get(admin, other.user_id).email.value == "jack@example.com"


def test_listing_users_is_admin_only_and_audited(
    platform: Platform, make_user: MakeUser, trail: Trail
) -> None:
    creator = make_user()

    with pytest.raises(PermissionDenied):
        platform.users.list(creator)
    with pytest.raises(AuthenticationFailed):
        platform.users.list(Caller.anonymous())

    denied = trail(AuditFilter(action=AuditAction.USER_LIST, result=AuditResult.DENIED))
    assert [e.actor_id for e in denied] == [None, creator.user_id]


def test_user_list_pages_with_a_cursor_in_creation_order(
    platform: Platform, make_user: MakeUser, admin: Caller, clock: ManualClock
) -> None:
    for _ in range(5):
        clock.advance(timedelta(seconds=1))
        make_user()

    seen: list[UserId] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = platform.users.list(admin, cursor, limit=3)
        pages += 1
        assert len(page.items) <= 3
        seen.extend(u.id for u in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert pages == 3  # root, admin and five users: 3 + 3 + 1
    assert len(seen) == len(set(seen)) == 7
    with_times = platform.users.list(admin, limit=100).items
    assert [u.id for u in with_times] == seen
    assert [u.created_at for u in with_times] == sorted(u.created_at for u in with_times)


def test_user_list_refuses_a_malformed_cursor(platform: Platform, admin: Caller) -> None:
    with pytest.raises(ValidationError):
        platform.users.list(admin, "%%%not-a-cursor")


def test_revoking_an_unknown_token_is_not_found(platform: Platform, admin: Caller) -> None:
    with pytest.raises(NotFound):
        platform.users.revoke_api_token(admin, TokenId("01NOSUCHTOKEN000000000000"))
