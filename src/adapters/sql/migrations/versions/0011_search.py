"""The search index: each video's weighted text, the words of all of it (for typo
corrections) and their trigrams.

SQLite: FTS5 tables (the ``porter unicode61`` tokenizer over text folded by the
application, and the ``trigram`` tokenizer over words). PostgreSQL: a ``tsvector`` per
video with a GIN index, and pg_trgm's trigram GIN index over the words; the extension
is created here, which needs a role that may create it (see ``_pg_trgm``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "search_documents",
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        sa.Column("video_id", sa.String(64), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
        sa.UniqueConstraint("video_id", name=op.f("uq_search_documents_video_id")),
    )
    op.create_table(
        "search_words",
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        sa.Column("word", sa.String(64), nullable=False),
        sa.Column("videos", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_words")),
        sa.UniqueConstraint("word", name=op.f("uq_search_words_word")),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_text USING fts5("
            "title, tags, category, owner_name, description, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE VIRTUAL TABLE search_word_trigrams USING fts5(word, tokenize = 'trigram')"
        )
        return
    _pg_trgm()
    op.execute(
        "CREATE TABLE search_text ("
        " id BIGINT PRIMARY KEY REFERENCES search_documents (id) ON DELETE CASCADE,"
        " document TSVECTOR NOT NULL)"
    )
    op.execute("CREATE INDEX search_text_document ON search_text USING GIN (document)")
    op.execute("CREATE INDEX search_word_trigrams ON search_words USING GIN (word gin_trgm_ops)")


def _pg_trgm() -> None:
    bind = op.get_bind()
    present = bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first()
    if present:
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as error:
        raise RuntimeError(
            "search needs PostgreSQL's pg_trgm extension, and this database role may not "
            "create it: have a superuser run `CREATE EXTENSION pg_trgm;` in this database "
            "(the contrib package provides it), then run `videoplatform migrate upgrade` "
            f"again ({type(error.orig).__name__}: {error.orig})"
        ) from None


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_word_trigrams")
        op.execute("DROP TABLE search_text")
    else:
        op.execute("DROP INDEX search_word_trigrams")
        op.execute("DROP TABLE search_text")
        # pg_trgm goes with the index that needed it, unless something else in the
        # database uses it (then it stays: DROP EXTENSION refuses).
        bind = op.get_bind()
        try:
            with bind.begin_nested():
                bind.execute(sa.text("DROP EXTENSION IF EXISTS pg_trgm"))
        except sa.exc.DBAPIError:
            pass
    op.drop_table("search_words")
    op.drop_table("search_documents")
