"""Comparing two sets of published marts by content, for the equivalence tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb


def open_published(published: Path) -> duckdb.DuckDBPyConnection:
    """The published DuckDB file, or a published version's Parquet directory (opskpi/publish.py keeps the
    Parquet files of the recent versions, the DuckDB file of the current one only) as views in `marts`."""
    if not published.is_dir():
        return duckdb.connect(str(published), read_only=True)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    for part in sorted(published.glob("*.parquet")):
        con.execute(f"CREATE VIEW marts.\"{part.stem}\" AS SELECT * FROM read_parquet('{part}')")
    return con


def without_float_noise(row: tuple) -> tuple:
    """Floats to 9 decimals: DuckDB's parallel sums and means add in a different order from run to run, so the
    same data can differ in the last bit (92.9056988536155 and 92.90569885361553)."""
    return tuple(round(v, 9) if isinstance(v, float) else v for v in row)


def table_digests(published: Path) -> dict[str, str]:
    """Order-independent content hash of every published mart except the per-run history, as `<rows>:<sha256>`
    (the row count up front, so that a test can tell an empty mart from a compared one)."""
    digests = {}
    with open_published(published) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
            "UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts' ORDER BY 1").fetchall()]
        for table in tables:
            if table in ("kpi_daily_snapshot", "mart_security_coverage") or table.startswith("pipeline_"):
                continue  # what each night saw, and run bookkeeping: per-run history, differs by design
            rows = [without_float_noise(row) for row in con.execute(f'SELECT * FROM marts."{table}"').fetchall()]
            digest = hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()
            digests[table] = f"{len(rows)}:{digest}"
    return digests
