"""Caption tracks: one per language of a video (the WebVTT itself is in object storage),
removed with their video.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
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
        "caption_tracks",
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("video_id", _ordered(64), nullable=False),
        sa.Column("language", _ordered(35), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("cue_count", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_caption_tracks_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caption_tracks")),
        sa.UniqueConstraint(
            "video_id", "language", name=op.f("uq_caption_tracks_video_id_language")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # The table is new: the application role's grants (0001) are given for it too.
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON caption_tracks TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE ALL ON caption_tracks FROM {APP_ROLE}")
    op.drop_table("caption_tracks")
