"""A ready video being processed again: a flag beside its state, so it stays ready (and
playable) while new renditions are made, and recovery finds it when its job is lost.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reprocessing", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_videos_reprocessing_created_at_id"),
            ["reprocessing", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_videos_reprocessing_created_at_id"))
        batch_op.drop_column("reprocessing")
