"""Search completions at scale: tags counted by the indexed videos that carry them (and
each document's tags, to count them down again), and the queries searched with
results everyone may see, for completing queries as they are typed.

The tags of documents indexed before are counted from the videos' tags here: no
rebuild of the index is needed.

SQLite: the titles' full-text table gets prefix indexes of two and three characters
(a completion of "sh" otherwise merges the posting lists of every word beginning so).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _ordered(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def _titles(prefix: str) -> None:
    """Make SQLite's search_titles again, with ``prefix`` indexes (none when empty)."""
    option = f", prefix = '{prefix}'" if prefix else ""
    op.execute(
        "CREATE VIRTUAL TABLE search_titles_next USING fts5("
        f"title, tokenize = 'unicode61 remove_diacritics 2'{option})"
    )
    op.execute(
        "INSERT INTO search_titles_next (rowid, title) SELECT rowid, title FROM search_titles"
    )
    op.execute("DROP TABLE search_titles")
    op.execute("ALTER TABLE search_titles_next RENAME TO search_titles")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _titles("2 3")
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    with op.batch_alter_table("search_documents") as batch:
        batch.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "search_tags",
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        sa.Column("tag", _ordered(40), nullable=False),
        sa.Column("videos", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_tags")),
        sa.UniqueConstraint("tag", name=op.f("uq_search_tags_tag")),
    )
    op.create_table(
        "search_popular",
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        sa.Column("query", _ordered(400), nullable=False),
        sa.Column("searches", sa.Integer(), nullable=False),
        sa.Column("last_searched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_popular")),
        sa.UniqueConstraint("query", name=op.f("uq_search_popular_query")),
    )
    op.create_index(
        op.f("ix_search_popular_last_searched_at"), "search_popular", ["last_searched_at"]
    )
    joined = (
        "group_concat(tag, char(10))"
        if op.get_bind().dialect.name == "sqlite"
        else "string_agg(tag, E'\\n' ORDER BY tag)"
    )
    op.execute(
        "UPDATE search_documents SET tags = coalesce((SELECT "
        + joined
        + " FROM video_tags WHERE video_tags.video_id = search_documents.video_id), '')"
    )
    op.execute(
        "INSERT INTO search_tags (tag, videos) SELECT tag, count(*) FROM video_tags"
        " WHERE video_id IN (SELECT video_id FROM search_documents) GROUP BY tag"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_search_popular_last_searched_at"), table_name="search_popular")
    op.drop_table("search_popular")
    op.drop_table("search_tags")
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("tags")
    if op.get_bind().dialect.name == "sqlite":
        _titles("")
