"""Checking the stored audit trail against its hash chain."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Engine, select

from videoplatform.adapters.sql import tables
from videoplatform.adapters.sql.audit_chain import ChainReport, verify_chain
from videoplatform.domain.audit import AUDIT_FIELDS


def verify_audit_trail(engine: Engine, batch: int = 5000) -> ChainReport:
    """Walk every stored event in append order and check each link of the chain."""

    def rows() -> Iterator[tuple[Mapping[str, Any], str, str]]:
        t = tables.audit_events
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # One snapshot for the whole walk, in a transaction (the engine's
                # connections autocommit; a server-side cursor needs one).
                conn.execution_options(isolation_level="REPEATABLE READ")
            result = conn.execution_options(yield_per=batch).execute(select(t).order_by(t.c.seq))
            for row in result:
                data = row._mapping
                yield {k: data[k] for k in AUDIT_FIELDS}, data["prev_hash"], data["hash"]

    return verify_chain(rows())
