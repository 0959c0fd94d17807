"""Initial schema: users, tokens, categories, videos and tags, files, shares, the audit
trail with its hash-chain head, and the outbox. On PostgreSQL, also the application role's
grants that make the audit trail append-only, and the retention function.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APP_ROLE = "videoplatform_app"
DATA_TABLES = "users, api_tokens, categories, videos, video_tags, files, shares, outbox"

# The application connects as a member of APP_ROLE, which may read and write every table
# but may only INSERT into the audit trail: no UPDATE, DELETE or TRUNCATE. Old events are
# removed only by audit_retention(), a SECURITY DEFINER function running as the owner,
# which operators call (it is not granted to the application role).
POSTGRES_UPGRADE = (
    f"""
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} NOLOGIN;
        END IF;
    EXCEPTION
        -- Roles belong to the server, not to one database: a migration of another
        -- database of the same server created it meanwhile.
        WHEN unique_violation OR duplicate_object THEN NULL;
    END $$
    """,
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON {DATA_TABLES} TO {APP_ROLE}",
    f"GRANT SELECT, INSERT ON audit_events TO {APP_ROLE}",
    f"GRANT USAGE ON SEQUENCE audit_events_seq_seq TO {APP_ROLE}",
    f"GRANT SELECT, UPDATE ON audit_head TO {APP_ROLE}",
    f"GRANT SELECT ON alembic_version TO {APP_ROLE}",
)
# The function runs with a search_path of pg_catalog only (so that nobody can shadow what
# it calls), where current_schema() is pg_catalog: the schema of audit_events is written
# into it when it is created, as {schema} (already quoted).
RETENTION_FUNCTION = (
    """
    CREATE FUNCTION audit_retention(cutoff timestamptz) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DECLARE removed bigint;
    BEGIN
        DELETE FROM {schema}.audit_events WHERE occurred_at < cutoff;
        GET DIAGNOSTICS removed = ROW_COUNT;
        RETURN removed;
    END $$
    """,
    "REVOKE ALL ON FUNCTION audit_retention(timestamptz) FROM PUBLIC",
)
POSTGRES_DOWNGRADE = (
    "DROP FUNCTION IF EXISTS audit_retention(timestamptz)",
    f"REVOKE ALL ON audit_head, audit_events, alembic_version, {DATA_TABLES} FROM {APP_ROLE}",
    f"REVOKE ALL ON SEQUENCE audit_events_seq_seq FROM {APP_ROLE}",
)


def _ordered(length: int) -> sa.types.TypeEngine[str]:
    """Text that lists and keyset bounds order by: code-point order on PostgreSQL
    whatever the database's default collation, as on SQLite and in Python."""
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", _ordered(64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", _ordered(64), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_events_id")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_action_occurred_at_id"),
            ["action", "occurred_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_audit_events_actor_id_occurred_at_id"),
            ["actor_id", "occurred_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_audit_events_occurred_at_id"), ["occurred_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_events_resource_type_resource_id_occurred_at_id"),
            ["resource_type", "resource_id", "occurred_at", "id"],
            unique=False,
        )

    op.create_table(
        "audit_head",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("singleton = 1", name=op.f("ck_audit_head_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "categories",
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("slug", _ordered(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_categories_slug")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_sent_at_created_at_id"),
            ["sent_at", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "users",
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("roles", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_created_at_id"), ["created_at", "id"], unique=False
        )

    op.create_table(
        "api_tokens",
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("user_id", _ordered(64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_tokens_user_id_created_at_id"),
            ["user_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "files",
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("owner_id", _ordered(64), nullable=False),
        sa.Column("name", _ordered(255), nullable=False),
        sa.Column("folder", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_files_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint(
            "owner_id", "folder", "name", name=op.f("uq_files_owner_id_folder_name")
        ),
    )
    op.create_table(
        "shares",
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("owner_id", _ordered(64), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", _ordered(64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("use_count", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_shares_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_shares_token_hash")),
    )
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shares_owner_id_created_at_id"),
            ["owner_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_shares_target_kind_target_id"),
            ["target_kind", "target_id"],
            unique=False,
        )

    op.create_table(
        "videos",
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("owner_id", _ordered(64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category_id", _ordered(64), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=300), nullable=False),
        sa.Column("source_size", sa.BigInteger(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("media_info", sa.Text(), nullable=True),
        sa.Column("renditions", sa.Text(), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=300), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("view_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("processing_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_videos_progress_range")),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name=op.f("fk_videos_category_id_categories")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_videos_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_videos")),
    )
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_videos_category_id_created_at_id"),
            ["category_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_videos_owner_id_created_at_id"),
            ["owner_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_videos_owner_id_view_count_id"),
            ["owner_id", "view_count", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_videos_visibility_status_created_at_id"),
            ["visibility", "status", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_videos_visibility_status_view_count_id"),
            ["visibility", "status", "view_count", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_videos_created_at_id"), ["created_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_videos_view_count_id"), ["view_count", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_videos_status_created_at_id"),
            ["status", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "video_tags",
        sa.Column("video_id", _ordered(64), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_video_tags_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("video_id", "tag", name=op.f("pk_video_tags")),
    )
    with op.batch_alter_table("video_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_video_tags_tag_video_id"), ["tag", "video_id"], unique=False
        )

    op.execute("INSERT INTO audit_head (singleton, last_hash) VALUES (1, '" + "0" * 64 + "')")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in POSTGRES_UPGRADE:
            op.execute(statement)
        schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
        for statement in RETENTION_FUNCTION:
            op.execute(statement.replace("{schema}", schema))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DOWNGRADE:
            op.execute(statement)
    with op.batch_alter_table("video_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_tags_tag_video_id"))

    op.drop_table("video_tags")
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_videos_status_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_videos_view_count_id"))
        batch_op.drop_index(batch_op.f("ix_videos_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_videos_visibility_status_view_count_id"))
        batch_op.drop_index(batch_op.f("ix_videos_visibility_status_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_videos_owner_id_view_count_id"))
        batch_op.drop_index(batch_op.f("ix_videos_owner_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_videos_category_id_created_at_id"))

    op.drop_table("videos")
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shares_target_kind_target_id"))
        batch_op.drop_index(batch_op.f("ix_shares_owner_id_created_at_id"))

    op.drop_table("shares")
    op.drop_table("files")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id_created_at_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_created_at_id"))

    op.drop_table("users")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_sent_at_created_at_id"))

    op.drop_table("outbox")
    op.drop_table("categories")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_resource_type_resource_id_occurred_at_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_occurred_at_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_actor_id_occurred_at_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action_occurred_at_id"))

    op.drop_table("audit_events")
