"""Scoped personal tokens: what each may be used for (``api_tokens.scopes``, every
scope for the tokens that exist, as they could do everything), and the personal token
that minted one (``api_tokens.parent_id``), which revokes it with itself.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _ordered(length: int) -> sa.types.TypeEngine[str]:
    """As in 0001: code-point order on PostgreSQL whatever the default collation."""
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column(
                "scopes", sa.String(64), nullable=False, server_default="read write upload admin"
            )
        )
        batch.add_column(sa.Column("parent_id", _ordered(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("parent_id")
        batch.drop_column("scopes")
