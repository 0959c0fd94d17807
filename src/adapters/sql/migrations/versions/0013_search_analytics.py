"""Search analytics: each search's query and how many videos matched, and each opened
result; no user and no address.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _ordered(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "search_queries",
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        sa.Column("query", sa.String(400), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("searched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_queries")),
    )
    op.create_index(op.f("ix_search_queries_searched_at"), "search_queries", ["searched_at"])
    op.create_table(
        "search_clicks",
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        sa.Column("query", sa.String(400), nullable=False),
        sa.Column("video_id", _ordered(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_clicks")),
    )
    op.create_index(op.f("ix_search_clicks_clicked_at"), "search_clicks", ["clicked_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_search_clicks_clicked_at"), table_name="search_clicks")
    op.drop_table("search_clicks")
    op.drop_index(op.f("ix_search_queries_searched_at"), table_name="search_queries")
    op.drop_table("search_queries")
