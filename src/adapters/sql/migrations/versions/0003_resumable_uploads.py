"""Resumable uploads: what each upload becomes, its declared length, the offset reached,
the ordered parts already in object storage and the completion claim.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APP_ROLE = "videoplatform_app"


def _ordered(length: int) -> sa.types.TypeEngine[str]:
    """As in 0001: code-point order on PostgreSQL whatever the default collation."""
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "resumable_uploads",
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("owner_id", _ordered(64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("upload_offset", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result_kind", sa.String(length=16), nullable=True),
        sa.Column("result_id", _ordered(64), nullable=True),
        sa.Column("completing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "upload_offset BETWEEN 0 AND length",
            name=op.f("ck_resumable_uploads_offset_range"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_resumable_uploads_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resumable_uploads")),
    )
    with op.batch_alter_table("resumable_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resumable_uploads_expires_at_id"), ["expires_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resumable_uploads_owner_id_expires_at"),
            ["owner_id", "expires_at"],
            unique=False,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON resumable_uploads TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE ALL ON resumable_uploads FROM {APP_ROLE}")
    with op.batch_alter_table("resumable_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resumable_uploads_owner_id_expires_at"))
        batch_op.drop_index(batch_op.f("ix_resumable_uploads_expires_at_id"))
    op.drop_table("resumable_uploads")
