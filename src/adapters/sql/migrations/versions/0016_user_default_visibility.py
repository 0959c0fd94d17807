"""Each account's visibility for its new uploads (``users.default_visibility``), a
preference set on its profile; private for every existing account, as uploads were.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("default_visibility", sa.String(16), nullable=False, server_default="private")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("default_visibility")
