"""Durable events: the outbox gets a commit-order ``seq`` and an ``aggregate`` ordering
key (a domain event's aggregate), and ``event_receipts`` records what each durable
subscription did with each event.

The outbox is rebuilt (SQLite cannot add an autoincrementing column): its rows are
copied in their old order, so unsent messages keep their place. On PostgreSQL the old
table is locked for the whole migration, so a platform still writing waits for it; on
SQLite, migrate with the platform stopped (serve and the embedded profile migrate before
they start).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APP_ROLE = "videoplatform_app"
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLUMNS = "id, topic, payload, created_at, sent_at, claimed_until, attempts"


def _ordered(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def _common_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", _ordered(64), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
    ]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():
        # Writers wait until the rebuilt table is committed, rather than write rows
        # into the old one between the copy and the drop.
        op.execute("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
    op.execute(f"CREATE TABLE outbox_before_0006 AS SELECT {COLUMNS} FROM outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_sent_at_created_at_id")
    op.drop_table("outbox")
    op.create_table(
        "outbox",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        *_common_columns(),
        sa.Column("aggregate", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_sent_at_seq"), ["sent_at", "seq"])
        batch_op.create_index(batch_op.f("ix_outbox_aggregate_seq"), ["aggregate", "seq"])
    op.execute(
        f"INSERT INTO outbox ({COLUMNS}) SELECT {COLUMNS} FROM outbox_before_0006 "
        "ORDER BY created_at, id"
    )
    op.drop_table("outbox_before_0006")

    op.create_table(
        "event_receipts",
        sa.Column("subscription", sa.String(length=100), nullable=False),
        sa.Column("event_id", _ordered(64), nullable=False),
        sa.Column("aggregate", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscription", "event_id", name=op.f("pk_event_receipts")),
    )
    with op.batch_alter_table("event_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_receipts_subscription_aggregate_state_seq"),
            ["subscription", "aggregate", "state", "seq"],
        )
        batch_op.create_index(
            batch_op.f("ix_event_receipts_state_recorded_at"), ["state", "recorded_at"]
        )
    if _postgres():
        # The tables are new: the application role's grants (0001) are given again.
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON outbox, event_receipts TO {APP_ROLE}")
        op.execute(f"GRANT USAGE ON SEQUENCE outbox_seq_seq TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("event_receipts")
    op.execute(f"CREATE TABLE outbox_before_0006 AS SELECT {COLUMNS} FROM outbox")
    op.drop_table("outbox")
    op.create_table(
        "outbox",
        *_common_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_sent_at_created_at_id"), ["sent_at", "created_at", "id"]
        )
    op.execute(f"INSERT INTO outbox ({COLUMNS}) SELECT {COLUMNS} FROM outbox_before_0006")
    op.drop_table("outbox_before_0006")
    if _postgres():
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO {APP_ROLE}")
