"""Tag completions without counting: each document says whether everyone could see its
video when it was written (``search_documents.listed``), and each tag how many such
documents carry it (``search_tags.listed``), so that completing a tag for someone
signed out reads its count instead of counting the videos that carry it.

Both are filled here from the videos as they are: no rebuild of the index is needed.

PostgreSQL: the GIN indexes of search_text keep short pending lists (words added
since the last merge, which every search reads whole): 64 kB for the titles' words,
256 kB for the documents (4 MB, the server's default, is read by every completion).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

PENDING_LISTS = {"search_text_title_words": 64, "search_text_document": 256}


def upgrade() -> None:
    with op.batch_alter_table("search_documents") as batch:
        batch.add_column(sa.Column("listed", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("search_tags") as batch:
        batch.add_column(sa.Column("listed", sa.Integer(), nullable=False, server_default="0"))
    everyone = "1" if op.get_bind().dialect.name == "sqlite" else "true"
    op.execute(
        f"UPDATE search_documents SET listed = {everyone} WHERE video_id IN (SELECT id"
        " FROM videos WHERE visibility = 'public' AND status = 'ready'"
        f" AND owner_disabled = {'0' if everyone == '1' else 'false'})"
    )
    listed_tags = (
        "SELECT video_tags.tag AS tag, count(*) AS n FROM video_tags JOIN search_documents"
        " ON search_documents.video_id = video_tags.video_id"
        f" WHERE search_documents.listed = {everyone} GROUP BY video_tags.tag"
    )
    # One pass over the tags (a count per tag would read them all again for each);
    # SQLite has UPDATE ... FROM since 3.33 (the trigram tokenizer needs 3.34).
    op.execute(
        f"UPDATE search_tags SET listed = counted.n FROM ({listed_tags}) AS counted"
        " WHERE counted.tag = search_tags.tag"
    )
    if op.get_bind().dialect.name == "postgresql":
        for index, kilobytes in PENDING_LISTS.items():
            op.execute(f"ALTER INDEX {index} SET (gin_pending_list_limit = {kilobytes})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for index in PENDING_LISTS:
            op.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")
    with op.batch_alter_table("search_tags") as batch:
        batch.drop_column("listed")
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("listed")
