"""A ready video being processed again: a flag beside its state, so it stays ready (and
playable) while new renditions are made, and recovery finds it when its job is lost; and
the attempts made before the current run, so that a retry or a reprocessing gets a fresh
budget without the attempt counter (the claim) ever going back.

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
        batch_op.add_column(
            sa.Column("attempt_base", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_videos_reprocessing_created_at_id"),
            ["reprocessing", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_videos_reprocessing_created_at_id"))
        batch_op.drop_column("attempt_base")
        batch_op.drop_column("reprocessing")
