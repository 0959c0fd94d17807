"""The schema, declared once. Alembic migrations create it; a test proves no drift."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from videoplatform.adapters.sql.types import FrozenJsonText, JsonText, UtcDateTime, ordered_string

ID = ordered_string(64)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("roles", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("default_visibility", String(16), nullable=False, server_default="private"),
    # Two-factor login: the TOTP secret sealed (SecretBox), when it was confirmed (on
    # from then), the last time step a code was accepted for, and the recovery codes'
    # digests, space-separated.
    Column("totp_secret", Text, nullable=True),
    Column("totp_confirmed_at", UtcDateTime, nullable=True),
    Column("totp_last_step", BigInteger, nullable=False, server_default="0"),
    Column("recovery_codes", Text, nullable=False, server_default=""),
    # The address the account is to move to once the code mailed there comes back.
    Column("pending_email", String(254), nullable=True),
    Column("bio", Text, nullable=False, server_default=""),
    # The version of the account's avatar pictures in storage (avatars/<user>/<version>/).
    Column("avatar", String(64), nullable=True),
    # Mail the user when a video of theirs is ready or failed.
    Column("mail_on_processing", Boolean, nullable=False, server_default="1"),
    Index(None, "created_at", "id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    # What a personal token may be used for: scope names, space-separated.
    Column("scopes", String(64), nullable=False, server_default="read write upload admin"),
    # The personal token that minted this one (revoked with it); null for the others.
    Column("parent_id", ID, nullable=True),
    Index(None, "user_id", "created_at", "id"),
)

categories = Table(
    "categories",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("slug", ordered_string(100), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)

videos = Table(
    "videos",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_id", ID, ForeignKey("users.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("category_id", ID, ForeignKey("categories.id"), nullable=True),
    Column("tags", FrozenJsonText, nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("source_key", String(300), nullable=False),
    Column("source_size", BigInteger, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("media_info", FrozenJsonText, nullable=True),
    Column("renditions", FrozenJsonText, nullable=False),
    Column("assets", FrozenJsonText, nullable=True),
    Column("poster_at_seconds", Float, nullable=True),
    Column("progress", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("failure_code", String(40), nullable=True),
    Column("view_count", BigInteger, nullable=False, server_default=text("0")),
    Column("processing_attempts", Integer, nullable=False),
    # A ready video being processed again (it plays its current renditions meanwhile).
    Column("reprocessing", Boolean, nullable=False, server_default=false()),
    # Attempts made before the current run (a retry or a reprocessing): its budget.
    Column("attempt_base", Integer, nullable=False, server_default=text("0")),
    # The owner's account is disabled: hidden from all but moderators (set owner-wide).
    Column("owner_disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
    # The public lists: newest and most viewed among public, ready videos.
    Index(None, "visibility", "status", "created_at", "id"),
    Index(None, "visibility", "status", "view_count", "id"),
    # A creator's own videos, and a category's.
    Index(None, "owner_id", "created_at", "id"),
    Index(None, "owner_id", "view_count", "id"),
    Index(None, "category_id", "created_at", "id"),
    # Moderators: every video, newest or most viewed, and the queue by state.
    Index(None, "created_at", "id"),
    Index(None, "view_count", "id"),
    Index(None, "status", "created_at", "id"),
    Index(None, "reprocessing", "created_at", "id"),
)

video_tags = Table(
    "video_tags",
    metadata,
    Column("video_id", ID, ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(40), primary_key=True),
    Index(None, "tag", "video_id"),
)

# Each video as lists show it (``application.video_documents``), written with the video
# in the same transaction; ``shape`` is the document's SHAPE when it was written.
video_documents = Table(
    "video_documents",
    metadata,
    Column("video_id", ID, ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True),
    Column("shape", Integer, nullable=False),
    Column("document", Text, nullable=False),
)

# A video's caption tracks, one per language (the WebVTT itself is in object storage).
caption_tracks = Table(
    "caption_tracks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("video_id", ID, ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
    # Code-point order, as the memory adapter lists them ("zh-HK" before "zh-Hant").
    Column("language", ordered_string(35), nullable=False),
    Column("label", String(80), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("storage_key", String(300), nullable=False),
    Column("cue_count", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # One track per language; the same index serves a video's list by language.
    UniqueConstraint("video_id", "language"),
)

files = Table(
    "files",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_id", ID, ForeignKey("users.id"), nullable=False),
    Column("name", ordered_string(255), nullable=False),
    Column("folder", String(1024), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(300), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # One name per folder per owner; the same index serves folder listings by name.
    UniqueConstraint("owner_id", "folder", "name"),
)

# Resumable uploads: the ordered parts (key, size) already in object storage, as JSON.
resumable_uploads = Table(
    "resumable_uploads",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_id", ID, ForeignKey("users.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("metadata", JsonText, nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("upload_offset", BigInteger, nullable=False),
    Column("parts", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("result_kind", String(16), nullable=True),
    Column("result_id", ID, nullable=True),
    Column("completing_since", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    CheckConstraint("upload_offset BETWEEN 0 AND length", name="offset_range"),
    # The expiry sweep walks this index.
    Index(None, "expires_at", "id"),
    # An owner's open uploads (the quota check at creation).
    Index(None, "owner_id", "expires_at"),
)

shares = Table(
    "shares",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_id", ID, ForeignKey("users.id"), nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("target_id", ID, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("password_hash", Text, nullable=True),
    Column("max_uses", Integer, nullable=True),
    Column("use_count", Integer, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Index(None, "owner_id", "created_at", "id"),
    Index(None, "target_kind", "target_id"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", ID, nullable=False, unique=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("actor_id", ID, nullable=True),
    Column("action", String(64), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", ID, nullable=True),
    Column("result", String(16), nullable=False),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("metadata", JsonText, nullable=False),
    # Each event's hash covers its content and the previous event's hash (see audit_chain).
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "occurred_at", "id"),
    Index(None, "actor_id", "occurred_at", "id"),
    Index(None, "action", "occurred_at", "id"),
    Index(None, "resource_type", "resource_id", "occurred_at", "id"),
)

# The chain's head: one row, locked by every appender so the chain never forks.
audit_head = Table(
    "audit_head",
    metadata,
    Column("singleton", Integer, primary_key=True, autoincrement=False),
    Column("last_hash", String(64), nullable=False),
    CheckConstraint("singleton = 1", name="one_row"),
)

outbox = Table(
    "outbox",
    metadata,
    # The relay publishes by it, and consumers order one key's events by it. It is given
    # at INSERT, which a unit of work does last (the journal writes events just before
    # commit), after writing the aggregate's row: writers of one aggregate wait on that
    # row's lock, so one key's numbers follow its commits.
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", ID, nullable=False, unique=True),
    Column("topic", String(100), nullable=False),
    # The ordering key (a domain event's aggregate): one relay at a time, in seq order.
    Column("aggregate", String(200), nullable=True),
    Column("payload", JsonText, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    # A relay's claim (or a failed publish's backoff): nobody else takes the row before.
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # The trace context of the work that wrote the message (W3C headers), continued by
    # the relay; NULL when tracing was off.
    Column("trace", JsonText, nullable=True),
    Index(None, "sent_at", "seq"),
    Index(None, "aggregate", "seq"),
)

# What each durable subscription did with an event: handled it, or holds it back (it
# failed and waits for a retry, or waits behind such an event of its aggregate).
event_receipts = Table(
    "event_receipts",
    metadata,
    Column("subscription", String(100), primary_key=True),
    Column("event_id", ID, primary_key=True),
    Column("aggregate", String(200), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("state", String(8), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index(None, "subscription", "aggregate", "state", "seq"),
    Index(None, "state", "recorded_at"),
)

# -- the search index (kept by the indexing handler; see adapters/sql/search.py) --------

search_documents = Table(
    "search_documents",
    metadata,
    # The row of the video's text in SEARCH_TEXT (its rowid on SQLite, its key on
    # PostgreSQL): a number, so that SQLite's full-text table is addressed directly.
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("video_id", ID, nullable=False, unique=True),
    # The distinct folded words of the document, space-separated: what to take out of
    # search_words when the document changes or goes.
    Column("words", Text, nullable=False),
    # The video's tags, one per line: what to take out of search_tags likewise.
    Column("tags", Text, nullable=False, server_default=""),
    # The video's version the document was made from: an older one is not written over it.
    Column("version", Integer, nullable=False, server_default="0"),
    # Whether everyone could see the video when the document was written: what to take
    # out of search_tags.listed.
    Column("listed", Boolean, nullable=False, server_default="0"),
)

search_words = Table(
    "search_words",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("word", String(64), nullable=False, unique=True),
    # Indexed videos whose text holds the word: which correction of a typo is likeliest.
    Column("videos", Integer, nullable=False),
)

search_tags = Table(
    "search_tags",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    # Ordered bytewise (C collation on PostgreSQL): completions read a range of them.
    Column("tag", ordered_string(40), nullable=False, unique=True),
    # Indexed videos carrying the tag: which completions come first.
    Column("videos", Integer, nullable=False),
    # Of those, the ones everyone may see (search_documents.listed): a completion's
    # count for someone signed out.
    Column("listed", Integer, nullable=False, server_default="0"),
)

search_title_leaders = Table(
    "search_title_leaders",
    metadata,
    # For each word of the titles, the most viewed videos everyone may see whose title
    # holds it (at most TITLE_LEADERS of adapters/sql/search.py): where completions of a
    # word being typed look first, a few rows read whatever the word's share of titles.
    Column("word", String(64), primary_key=True),
    Column(
        "doc", BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    ),  # search_documents.id
    # The video's views when it was last written here (the order is read live).
    Column("views", BigInteger, nullable=False),
    Index(None, "doc"),
)

SEARCH_TEXT = "search_text"
"""The weighted text of each document: an FTS5 table on SQLite (``rowid`` =
``search_documents.id``), a table with a ``tsvector`` on PostgreSQL."""
SEARCH_WORD_TRIGRAMS = "search_word_trigrams"
"""Trigrams of search_words for typo lookups: an FTS5 table with the trigram tokenizer
on SQLite (``rowid`` = ``search_words.id``), a pg_trgm GIN index on PostgreSQL."""
SEARCH_TITLES = "search_titles"
"""The titles' unstemmed words, for completions: an FTS5 table on SQLite (``rowid`` =
``search_documents.id``), the ``title_words`` column of search_text on PostgreSQL."""
UNDECLARED = (SEARCH_TEXT, SEARCH_WORD_TRIGRAMS, SEARCH_TITLES)
"""Relations the migrations make that cannot be declared here (full-text tables and
their shadow tables, operator-class indexes): names that start with these."""


def declared(name: str | None, kind: str, parents: object) -> bool:
    """Whether autogenerate compares a relation (Alembic's ``include_name``): not the
    full-text tables, their shadow tables and the indexes of :data:`UNDECLARED`."""
    return not (name and kind in ("table", "index") and name.startswith(UNDECLARED))


# -- search analytics (no user, no address: the query as the engine read it) ----------

search_queries = Table(
    "search_queries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("query", String(400), nullable=False),
    Column("results", Integer, nullable=False),
    Column("searched_at", UtcDateTime, nullable=False),
    Index(None, "searched_at"),
)

search_popular = Table(
    "search_popular",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    # A query whose results held a video everyone may see, as the engine read it.
    Column("query", ordered_string(400), nullable=False, unique=True),
    Column("searches", Integer, nullable=False),
    Column("last_searched_at", UtcDateTime, nullable=False),
    Index(None, "last_searched_at"),
)

search_clicks = Table(
    "search_clicks",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("query", String(400), nullable=False),
    Column("video_id", ID, nullable=False),
    Column("position", Integer, nullable=False),
    Column("clicked_at", UtcDateTime, nullable=False),
    Index(None, "clicked_at"),
)
