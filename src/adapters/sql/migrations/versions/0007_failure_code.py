"""A failed video's reason as a stable code beside the message for its owner.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_code", sa.String(40), nullable=True))
    # Videos that failed before this revision: no finer cause was recorded.
    op.execute("UPDATE videos SET failure_code = 'processing_error' WHERE last_error IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_column("failure_code")
