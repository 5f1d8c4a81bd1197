"""Fingerprints of published marts and checks of warehouse invariants, shared by the reliability tests."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

# Columns that describe the run rather than the data: when, and by which run or batch, a row was computed.
VOLATILE_COLUMNS = frozenset({"run_id", "batch_id", "_batch_id", "computed_at", "checked_at", "extracted_at",
                              "last_loaded_at", "loaded_at", "_loaded_at", "published_at"})

# Tables that record how the run went (its timings, the age of each source when it was checked), not what the
# data says: two runs over the same data differ in them by design.
RUN_BOOKKEEPING = frozenset({"marts.pipeline_health_daily", "marts.pipeline_source_freshness_daily"})


def _canonical(value: Any) -> str:
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Same data, same SQL, but DuckDB sums in parallel and the order of the additions varies: rounding to 9
        # decimals absorbs the noise around zero, then to 12 significant digits the noise of large sums (585050 vs
        # 585050.0000000001). An integral float prints as an integer: Parquet stores DuckDB's HUGEINT sums as DOUBLE.
        if math.isnan(value) or math.isinf(value):
            return repr(value)
        value = float(f"{round(value, 9):.12g}")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_canonical(v)}" for k, v in sorted(value.items())) + "}"
    return repr(value)


def rows_hash(rows: list[tuple]) -> str:
    """Order-independent: the rows are sorted by their canonical text before hashing."""
    digest = hashlib.sha256()
    for line in sorted("|".join(_canonical(v) for v in row) for row in rows):
        digest.update(line.encode("utf-8", "backslashreplace") + b"\n")
    return f"{len(rows)}:{digest.hexdigest()[:16]}"


def _stable_rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple]:
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    columns = [r[0] for r in described if r[0] not in VOLATILE_COLUMNS]
    select = ", ".join(f'"{c}"' for c in columns) or "1"
    return con.execute(f"SELECT {select} FROM {relation}").fetchall()


def _hash_relation(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    return rows_hash(_stable_rows(con, relation))


def table_rows(db: Path, schemas: tuple[str, ...]) -> dict[str, list[str]]:
    """{schema.table: its rows as sorted canonical text lines} for every table of `schemas` in a DuckDB file, the
    columns that stamp the run (VOLATILE_COLUMNS) left out: what two runs over the same data must agree on, row by
    row."""
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        names = [r[0] for r in con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE list_contains(?, schema_name) "
            "ORDER BY 1", [list(schemas)]).fetchall()]
        return {name: sorted("|".join(_canonical(v) for v in row) for row in _stable_rows(con, name))
                for name in names}


def row_differences(expected: dict[str, list[str]], got: dict[str, list[str]], shown: int = 3) -> list[str]:
    """Per table, what differs: a table only on one side, or the rows only on one side (the first `shown`)."""
    out = []
    for name in sorted(set(expected) | set(got)):
        if name not in got or name not in expected:
            out.append(f"{name}: only in {'the expected' if name not in got else 'the compared'} run")
            continue
        missing = sorted((Counter(expected[name]) - Counter(got[name])).elements())
        extra = sorted((Counter(got[name]) - Counter(expected[name])).elements())
        if missing or extra:
            out.append(f"{name}: {len(missing)} expected rows missing {missing[:shown]}, "
                       f"{len(extra)} unexpected rows {extra[:shown]}")
    return out


def published_hashes(published_db: Path) -> dict[str, str]:
    """{schema.table: hash} of every table in the published DuckDB file, opened read-only as a BI tool
    would; columns that stamp the run (VOLATILE_COLUMNS) are left out."""
    with duckdb.connect(str(published_db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        names = [r[0] for r in con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {name: _hash_relation(con, name) for name in names}


def parquet_hashes(parquet_dir: Path) -> dict[str, str]:
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        return {f"marts.{p.stem}": _hash_relation(con, f"read_parquet('{p}')")
                for p in sorted(parquet_dir.glob("*.parquet"))}


def raw_invariants(warehouse: Path) -> dict[str, Any]:
    """Checks a crash must never break; returns counts for the report, raises AssertionError on a breach.

    - every raw table has at most one row per primary key (keys from the loaded batches' manifests);
    - every watermark is at most the newest cursor loaded in its table (for its partition when the
      table has the partition's column), i.e. no watermark runs ahead of the data;
    - every batch is recorded as loaded at most once.
    """
    import json

    counts = {"tables": 0, "watermarks": 0}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        dup_batches = con.execute(
            "SELECT batch_id, count(*) FROM meta.batches GROUP BY 1 HAVING count(*) > 1").fetchall()
        assert not dup_batches, f"batches loaded twice: {dup_batches[:3]}"
        keys: dict[str, tuple[list[str], str | None]] = {}
        for source, stream, manifest in con.execute(
                "SELECT source, stream, manifest FROM meta.batches").fetchall():
            m = json.loads(manifest)
            keys[f"{source}__{stream}"] = (m["primary_key"], m.get("cursor"))
        for table, (pk, _) in sorted(keys.items()):
            cols = ", ".join(f'"{c}"' for c in pk)
            dups = con.execute(
                f'SELECT {cols}, count(*) FROM raw."{table}" GROUP BY ALL HAVING count(*) > 1 LIMIT 3').fetchall()
            assert not dups, f"raw.{table} has duplicate keys {pk}: {dups}"
            counts["tables"] += 1
        for source, stream, partition, value in con.execute(
                "SELECT source, stream, partition_id, cursor_value FROM meta.watermarks").fetchall():
            table = f"{source}__{stream}"
            cursor = keys[table][1]
            assert cursor, f"{table} has a watermark but no cursor"
            columns = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema='raw' AND table_name=?",
                [table]).fetchall()}
            where, params = "", []
            partition_column = {"github": "repo"}.get(source)
            if partition and partition_column in columns:
                where, params = f'WHERE "{partition_column}" = ?', [partition]
            newest = con.execute(f'SELECT max("{cursor}") FROM raw."{table}" {where}', params).fetchone()[0]
            mark = datetime.fromisoformat(value)
            assert newest is not None and mark <= newest, (
                f"watermark of {table}[{partition}] = {value} runs ahead of the newest loaded cursor {newest}")
            counts["watermarks"] += 1
    return counts
