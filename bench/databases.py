"""What several benchmarks share: throwaway databases and latency percentiles."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from videoplatform.adapters.sql.engine import create_database_engine


@contextmanager
def sqlite() -> Iterator[Engine]:
    """A SQLite database in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_database_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgres() -> Iterator[Engine]:
    """A throwaway database on the benchmark's PostgreSQL server
    (``VIDEOPLATFORM_BENCH_POSTGRES``, by default the local one), dropped afterwards."""
    base = os.environ.get("VIDEOPLATFORM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    name = f"vp_bench_{secrets.token_hex(4)}"
    admin = create_database_engine(f"{base}/postgres").execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_database_engine(f"{base}/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p95, p99 and the largest of ``samples`` (seconds), in milliseconds."""
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000

    return {
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": ordered[-1] * 1000,
    }
