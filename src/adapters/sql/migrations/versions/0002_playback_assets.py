"""Playback assets: a ready video's outputs (prefix, master playlist, posters,
storyboard) replace the single thumbnail key, and the owner may choose the poster's time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assets", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("poster_at_seconds", sa.Float(), nullable=True))
        batch_op.drop_column("thumbnail_key")


def downgrade() -> None:
    # Going back drops the assets: videos keep their outputs in storage, without a key.
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thumbnail_key", sa.String(length=300), nullable=True))
        batch_op.drop_column("poster_at_seconds")
        batch_op.drop_column("assets")
