"""Aggregates built through the domain's own constructors, and the stored audit chain."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from videoplatform.adapters.sql import mapping, tables
from videoplatform.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.ids import AuditEventId, UserId, VideoId
from videoplatform.domain.users import Email, Role, User
from videoplatform.domain.videos import Video, Visibility

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

# The columns an audit event's hash covers (adapters.sql.mapping.audit_content).
AUDIT_CONTENT = (
    "id",
    "occurred_at",
    "actor_id",
    "action",
    "resource_type",
    "resource_id",
    "result",
    "ip",
    "user_agent",
    "metadata",
)

ChainRow = tuple[Mapping[str, Any], str, str]


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def a_user(now: datetime = T0) -> User:
    user_id = UserId(new_id("u"))
    return User.register(
        id=user_id,
        email=Email.parse(f"{user_id}@example.com"),
        display_name=f"User {user_id}",
        password_hash="$argon2id$not-a-real-hash",
        roles=frozenset({Role.CREATOR}),
        now=now,
        verified=True,
    )


def user_row_before_0019(user: User) -> dict[str, Any]:
    """A user's row as the schema held it before 0019 (no two-factor login, no change
    of address waiting), for migration tests that write rows into an older schema."""
    row = {**mapping.user_row(user), "version": 1}
    for later in ("pending_email", "bio", "avatar", "mail_on_processing"):  # 0020, 0021
        del row[later]
    for column in ("totp_secret", "totp_confirmed_at", "totp_last_step", "recovery_codes"):
        del row[column]
    return row


def user_row_before_0016(user: User) -> dict[str, Any]:
    """A user's row as the schema held it before 0016 (no default visibility either)."""
    row = user_row_before_0019(user)
    del row["default_visibility"]
    return row


def a_video(owner: User, *, title: str = "A video", now: datetime = T0) -> Video:
    video_id = VideoId(new_id("v"))
    return Video.upload(
        id=video_id,
        owner=owner,
        title=title,
        description="A video used by the integration tests.",
        category_id=None,
        tags=("cats", "integration"),
        visibility=Visibility.PUBLIC,
        source_key=f"sources/{video_id}",
        source_size=1024,
        source_sha256="0" * 64,
        now=now,
    )


def an_event(n: int, *, actor: UserId | None = None, occurred_at: datetime = T0) -> AuditEvent:
    return AuditEvent(
        id=AuditEventId(new_id("e")),
        occurred_at=occurred_at,
        actor_id=actor,
        action=AuditAction.VIDEO_UPDATE,
        resource_type="video",
        resource_id=f"v-{n}",
        result=AuditResult.SUCCESS,
        ip="127.0.0.1",
        user_agent="pytest",
        metadata={"n": str(n)},
    )


def stored_video(factory: SqlUnitOfWorkFactory) -> Video:
    """A committed owner and one of their videos (the owner first: foreign key)."""
    owner = a_user()
    video = a_video(owner)
    with factory() as uow:
        uow.users.add(owner)
        uow.commit()
    with factory() as uow:
        uow.videos.add(video)
        uow.commit()
    return video


def chain_rows(engine: Engine) -> list[ChainRow]:
    """Every stored audit event as ``(content, prev_hash, hash)``, in append (seq) order."""
    t = tables.audit_events
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.seq)).mappings().all()
    return [({k: row[k] for k in AUDIT_CONTENT}, row["prev_hash"], row["hash"]) for row in rows]
