"""Two-factor login: each account's TOTP secret (sealed), when it was confirmed, the
last time step a code was accepted for, and the digests of its recovery codes. Off
for every existing account.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.Text(), nullable=True))
        batch.add_column(sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("totp_last_step", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("recovery_codes", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for column in ("recovery_codes", "totp_last_step", "totp_confirmed_at", "totp_secret"):
            batch.drop_column(column)
