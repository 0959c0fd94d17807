"""Administration: reading accounts, roles (never the last administrator's), disabling
and enabling accounts."""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from videoplatform.application.context import Caller, Hidden, require_permission, require_user
from videoplatform.application.pagination import Page, clamp_limit, encode_cursor, time_keyset
from videoplatform.application.users.base import UserServiceBase
from videoplatform.application.users.commands import UpdateProfile
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.errors import NotFound, ValidationError
from videoplatform.domain.ids import UserId
from videoplatform.domain.users import Permission, Role, User, parse_roles

MAX_USER_SEARCH = 254
"""The longest text a user search takes (the longest address)."""


class Administration(UserServiceBase):
    def get(self, caller: Caller, user_id: UserId) -> User:
        """Users see themselves; administrators see anyone."""
        with (
            self._audit.refusals(caller, AuditAction.USER_LIST, "user", user_id),
            self._uow() as uow,
        ):
            me = require_user(uow, caller)
            if me.id != user_id and not me.can(Permission.USER_MANAGE):
                raise Hidden("user not found")
            return uow.users.get(user_id)

    def channel_names(self, user_ids: Iterable[UserId]) -> dict[UserId, str]:
        """The display names of the channels behind ``user_ids``, as anyone may see
        them: those of active accounts; a disabled or unknown account is left out."""
        names: dict[UserId, str] = {}
        with self._uow() as uow:
            for user_id in set(user_ids):
                try:
                    user = uow.users.get(user_id)
                except NotFound:
                    continue
                if user.is_active:
                    names[user_id] = user.display_name
        return names

    def channel(self, user_id: UserId) -> tuple[str, str, str | None] | None:
        """The display name, "about" text and avatar version of an active account's
        channel, as anyone may see them; None for a disabled or unknown account."""
        with self._uow() as uow:
            try:
                user = uow.users.get(user_id)
            except NotFound:
                return None
        return (user.display_name, user.bio, user.avatar) if user.is_active else None

    def update_profile(self, caller: Caller, command: UpdateProfile) -> User:
        """The caller's own display name and preferences (audited, with the fields
        changed)."""
        with self._uow() as uow:
            user = require_user(uow, caller)
            user.change_profile(
                self._clock.now(),
                display_name=command.display_name,
                default_visibility=command.default_visibility,
                bio=command.bio,
                mail_on_processing=command.mail_on_processing,
            )
            uow.users.save(user)
            changed = [
                name
                for name in ("display_name", "default_visibility", "bio", "mail_on_processing")
                if getattr(command, name) is not None
            ]
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_PROFILE_CHANGE,
                "user",
                user.id,
                metadata={"fields": ",".join(changed)},
            )
            uow.commit()
        return user

    def has_administrator(self) -> bool:
        """Whether any active account holds the administrator role."""
        with self._uow() as uow:
            return bool(uow.users.list_active_with_role(Role.ADMIN.value))

    def me(self, caller: Caller) -> User:
        with self._uow() as uow:
            return require_user(uow, caller)

    def list(
        self, caller: Caller, cursor: str | None = None, limit: int | None = None
    ) -> Page[User]:
        with self._audit.refusals(caller, AuditAction.USER_LIST, "user", None), self._uow() as uow:
            # Whether the caller may list users is settled before the input is read.
            require_permission(uow, caller, Permission.USER_MANAGE)
            size = clamp_limit(limit)
            after = time_keyset("users", cursor) if cursor else None
            rows = uow.users.list_page(after, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        nxt = (
            encode_cursor("users", [rows[-1].created_at.isoformat(), rows[-1].id]) if more else None
        )
        return Page(tuple(rows), nxt)

    def search(self, caller: Caller, text: str, limit: int | None = None) -> builtins.list[User]:
        """Accounts (any state) whose address or display name holds ``text``, newest
        first, for administrators."""
        wanted = " ".join(text.split())
        if not 1 <= len(wanted) <= MAX_USER_SEARCH:
            raise ValidationError.field("q", f"1 to {MAX_USER_SEARCH} characters")
        with self._audit.refusals(caller, AuditAction.USER_LIST, "user", None), self._uow() as uow:
            require_permission(uow, caller, Permission.USER_MANAGE)
            return uow.users.search(wanted, clamp_limit(limit))

    def ensure_manager(self, caller: Caller, user_id: UserId) -> None:
        """Refuse (and audit) a caller who may not manage users: for front ends that
        must settle who may ask before they read what is asked."""
        with (
            self._audit.refusals(caller, AuditAction.USER_ROLES_CHANGE, "user", user_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.USER_MANAGE)

    def change_roles(self, caller: Caller, user_id: UserId, roles: Iterable[str]) -> User:
        """Replace a user's roles. The last active administrator cannot lose the role."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_ROLES_CHANGE, "user", user_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.USER_MANAGE)
            wanted = parse_roles(roles)
            user = uow.users.get(user_id)
            before = ",".join(sorted(r.value for r in user.roles))
            self._keep_an_admin(uow, user, wanted, now)
            user.change_roles(wanted, now)
            uow.users.save(user)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_ROLES_CHANGE,
                "user",
                user_id,
                metadata={"from": before, "to": ",".join(sorted(r.value for r in wanted))},
            )
            uow.commit()
        return user

    def disable(self, caller: Caller, user_id: UserId) -> User:
        """Disable an account, in one transaction: every token it holds is revoked, and
        everything it owns disappears for everyone but moderators (its videos from
        lists, reads and playback; its share links stop working). Nothing is deleted:
        :meth:`enable` brings the content and the links back."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_DISABLE, "user", user_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.USER_MANAGE)
            user = uow.users.get(user_id)
            self._keep_an_admin(uow, user, None, now)
            user.disable(now)
            uow.users.save(user)
            revoked = len(self._revoke_all_tokens(uow, user.id, now))
            uow.videos.set_owner_disabled(user.id, True)
            self._audit.record(
                uow,
                caller,
                AuditAction.USER_DISABLE,
                "user",
                user_id,
                metadata={"tokens_revoked": str(revoked)},
            )
            uow.commit()
        return user

    def enable(self, caller: Caller, user_id: UserId) -> User:
        """Re-enable a disabled account: it may log in again (its old tokens stay
        revoked), and its videos and share links are back as they were."""
        now = self._clock.now()
        with (
            self._audit.refusals(caller, AuditAction.USER_ENABLE, "user", user_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.USER_MANAGE)
            user = uow.users.get(user_id)
            user.enable(now)
            uow.users.save(user)
            uow.videos.set_owner_disabled(user.id, False)
            self._audit.record(uow, caller, AuditAction.USER_ENABLE, "user", user_id)
            uow.commit()
        return user
