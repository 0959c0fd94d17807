"""Videos of a disabled owner: a flag set for all of an owner's videos at once, so lists,
reads and playback hide them without looking the owner up, and re-enabling the owner
shows them again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("owner_disabled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Owners disabled before this revision: their videos are hidden from now on.
    op.execute(
        "UPDATE videos SET owner_disabled = true "
        "WHERE owner_id IN (SELECT id FROM users WHERE status = 'disabled')"
    )


def downgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_column("owner_disabled")
