"""SQL persistence (SQLAlchemy Core): SQLite for the embedded profile, PostgreSQL through
psycopg 3 in production. Tables, row mapping, repositories, the unit of work, the
outbox, migrations (Alembic) and the audit chain live here; the domain knows none of it.
"""
