"""A profile's "about" text (``users.bio``), its avatar (``users.avatar``: the version
of the pictures kept in storage, none for every account), and whether its owner is
mailed when a video of theirs is ready or failed (``users.mail_on_processing``, on for
every account).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("bio", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("avatar", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("mail_on_processing", sa.Boolean(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("mail_on_processing")
        batch.drop_column("avatar")
        batch.drop_column("bio")
