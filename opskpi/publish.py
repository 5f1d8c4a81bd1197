"""Publish the marts for BI: a new DuckDB file and Parquet files, swapped in atomically.

Readers (BI tools, notebooks) never open the live warehouse: they read `published/`. The DuckDB file
is built under a temporary name and renamed over the old one; the Parquet files go to a fresh
version directory and a symlink is repointed. A reader therefore always sees one complete set,
old or new, and a reader holding the old file open keeps reading it undisturbed.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from opskpi.warehouse import Warehouse, quote_ident

PUBLISHED_SCHEMA = "marts"
KEEP_VERSIONS = 3


def _swap_symlink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def publish(warehouse: Warehouse, published_dir: Path, run_id: str) -> dict[str, Any]:
    published_dir.mkdir(parents=True, exist_ok=True)
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    version_dir = published_dir / "versions" / version
    parquet_dir = version_dir / "parquet"
    parquet_dir.mkdir(parents=True)
    tmp_db = published_dir / f".opskpi.{version}.duckdb.tmp"
    tables: dict[str, int] = {}
    with warehouse.lock():
        con = duckdb.connect(str(tmp_db))
        try:
            con.execute(f"ATTACH {_literal(str(warehouse.path))} AS live (READ_ONLY)")
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'live' AND schema_name = ? "
                "ORDER BY table_name", [PUBLISHED_SCHEMA]).fetchall()]
            con.execute(f"CREATE SCHEMA {PUBLISHED_SCHEMA}")
            for name in names:
                ident = quote_ident(name)
                con.execute(f"CREATE TABLE {PUBLISHED_SCHEMA}.{ident} AS SELECT * FROM live.{PUBLISHED_SCHEMA}.{ident}")
                tables[name] = con.execute(f"SELECT count(*) FROM {PUBLISHED_SCHEMA}.{ident}").fetchone()[0]
                target = parquet_dir / f"{name}.parquet"
                con.execute(f"COPY {PUBLISHED_SCHEMA}.{ident} TO {_literal(str(target))} (FORMAT parquet)")
            con.execute("DETACH live")
            con.execute("CHECKPOINT")
        finally:
            con.close()
    manifest = {"run_id": run_id, "published_at": datetime.now(UTC).isoformat(), "version": version,
                "tables": tables, "duckdb_library_version": duckdb.__version__}
    (version_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    os.replace(tmp_db, published_dir / "opskpi.duckdb")
    _swap_symlink(published_dir / "parquet", os.path.relpath(parquet_dir, published_dir))
    _swap_symlink(published_dir / "manifest.json", os.path.relpath(version_dir / "manifest.json", published_dir))
    _prune(published_dir / "versions", keep=version)
    return manifest


def _prune(versions_dir: Path, keep: str) -> None:
    versions = sorted(p for p in versions_dir.iterdir() if p.is_dir())
    for old in versions[:-KEEP_VERSIONS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
