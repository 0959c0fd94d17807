"""Each video as lists show it (``video_documents``), kept beside the video.

The table starts empty: ``adapters.sql.documents.refresh`` writes the documents after
every upgrade (a video without one is read the slower way meanwhile).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

APP_ROLE = "videoplatform_app"


def _ordered(length: int) -> sa.types.TypeEngine[str]:
    """As in 0001: code-point order on PostgreSQL whatever the default collation."""
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "video_documents",
        sa.Column("video_id", _ordered(64), nullable=False),
        sa.Column("shape", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_video_documents_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("video_id", name=op.f("pk_video_documents")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # The table is new: the application role's grants (0001) are given for it too.
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON video_documents TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE ALL ON video_documents FROM {APP_ROLE}")
    op.drop_table("video_documents")
