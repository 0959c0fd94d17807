"""Integration tests of the SQL adapter against real PostgreSQL and real SQLite files."""
