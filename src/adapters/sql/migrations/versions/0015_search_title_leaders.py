"""Completions at scale: for each word of the titles, the most viewed videos everyone
may see whose title holds it (``search_title_leaders``). A completion of a common word
("sh") read every title holding one of the words it begins; it now reads a few rows.

Each document keeps the version of the video it was made from
(``search_documents.version``, 0 for those indexed before): a rebuild that read a video
before an edit no longer writes its older document over the edit's.

The table is filled here from the documents already indexed (the titles' words as the
full-text tables hold them): no rebuild of the index is needed.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LEADERS = 16
"""adapters/sql/search.py's TITLE_LEADERS when this migration was written."""

LISTED = "videos.visibility = 'public' AND videos.status = 'ready' AND NOT videos.owner_disabled"


def upgrade() -> None:
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "search_title_leaders",
        sa.Column("word", sa.String(length=64), nullable=False),
        sa.Column("doc", id_type, nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("word", "doc", name=op.f("pk_search_title_leaders")),
    )
    op.create_index(
        op.f("ix_search_title_leaders_doc"), "search_title_leaders", ["doc"], unique=False
    )
    with op.batch_alter_table("search_documents") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Each title's words, as FTS5 holds them (folded, unstemmed).
        op.execute(
            "CREATE VIRTUAL TABLE temp.title_terms USING fts5vocab(main, search_titles, instance)"
        )
        titled = "SELECT DISTINCT term AS word, doc AS doc FROM temp.title_terms"
    else:
        titled = (
            "SELECT DISTINCT unnest(tsvector_to_array(title_words)) AS word, id AS doc"
            " FROM search_text"
        )
    op.execute(
        "INSERT INTO search_title_leaders (word, doc, views) SELECT word, doc, views FROM ("
        " SELECT t.word, t.doc, videos.view_count AS views, row_number() OVER ("
        "  PARTITION BY t.word ORDER BY videos.view_count DESC, t.doc DESC) AS place"
        f" FROM ({titled}) AS t"
        " JOIN search_documents ON search_documents.id = t.doc"
        " JOIN videos ON videos.id = search_documents.video_id"
        f" WHERE {LISTED} AND length(t.word) <= 64) AS ranked"
        f" WHERE place <= {LEADERS}"
    )
    if sqlite:
        op.execute("DROP TABLE temp.title_terms")


def downgrade() -> None:
    op.drop_index(op.f("ix_search_title_leaders_doc"), table_name="search_title_leaders")
    op.drop_table("search_title_leaders")
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("version")
