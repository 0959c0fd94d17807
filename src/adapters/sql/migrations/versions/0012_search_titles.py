"""Typo candidates by first letter and length (trigrams miss an edit in the middle of
a short word), and titles' words as written (folded, not stemmed) for completing a
query as it is typed: a prefix of a stem finds nothing ("runni" is no prefix of "run").

SQLite: an FTS5 table over the titles (``unicode61``, no stemming), ``rowid`` =
``search_documents.id``. PostgreSQL: a ``simple`` tsvector of the title beside the
document, with a GIN index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


FIRST_LETTER = (
    "CREATE INDEX search_word_trigrams_first_letter"
    " ON search_words (substr(word, 1, 1), length(word))"
)


def upgrade() -> None:
    # Typo candidates beside the trigrams: words of the same first letter and length.
    op.execute(FIRST_LETTER)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_titles USING fts5("
            "title, tokenize = 'unicode61 remove_diacritics 2')"
        )
        op.execute("INSERT INTO search_titles (rowid, title) SELECT rowid, title FROM search_text")
        return
    op.execute("ALTER TABLE search_text ADD COLUMN title_words TSVECTOR")
    op.execute("CREATE INDEX search_text_title_words ON search_text USING GIN (title_words)")


def downgrade() -> None:
    op.execute("DROP INDEX search_word_trigrams_first_letter")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_titles")
        return
    op.execute("DROP INDEX search_text_title_words")
    op.execute("ALTER TABLE search_text DROP COLUMN title_words")
