"""Publish the marts for BI: a new DuckDB file and Parquet files, swapped in atomically.

Readers (BI tools, notebooks) never open the live warehouse: they read `published/`. The DuckDB file
is built under a temporary name and renamed over the old one; the Parquet files and the manifest go
to a fresh version directory and one symlink, `current`, is repointed (`parquet`, `docs` (dbt's
static docs page of the same build) and `manifest.json` point through it, so they change together).
A reader therefore always sees one complete set, old or new, and a reader holding the old file open
keeps reading it undisturbed.

Everything happens under the warehouse lock, so two publishes never race; a publish killed half way
leaves only a temporary file or an unfinished version directory, which readers never see and the
next publish removes.
"""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from extractors.crashpoints import crashpoint
from opskpi import schema_docs
from opskpi.postgres_warehouse import PostgresTarget, read_schema
from opskpi.warehouse import Warehouse, quote_ident, quote_literal

log = logging.getLogger(__name__)

PUBLISHED_SCHEMA = "marts"
KEEP_VERSIONS = 3
DB_NAME = "opskpi.duckdb"
CURRENT = "current"
VERSION_MANIFEST = "manifest.json"


def _swap_symlink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _current_version(published_dir: Path) -> str | None:
    link = published_dir / CURRENT
    return Path(os.readlink(link)).name if link.is_symlink() else None


def clean_stale(published_dir: Path) -> list[Path]:
    """Remove what a killed publish left: temporary DuckDB files, half-made symlinks, version
    directories without a manifest. Call under the warehouse lock (no publish is running)."""
    removed = []
    for tmp in [*published_dir.glob(".opskpi.*.duckdb.tmp*"), *published_dir.glob(".*.new")]:
        if tmp.is_symlink() or tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    versions = published_dir / "versions"
    current = _current_version(published_dir)
    if versions.exists():
        for version in versions.iterdir():
            if version.is_dir() and version.name != current and not (version / VERSION_MANIFEST).exists():
                shutil.rmtree(version, ignore_errors=True)
                removed.append(version)
    if removed:
        log.warning("removed %d leftovers of an interrupted publish: %s", len(removed),
                    ", ".join(p.name for p in removed))
    return removed


def publish(warehouse: Warehouse, published_dir: Path, run_id: str, docs_page: Path | None = None,
            dbt_manifest: Path | None = None, postgres: PostgresTarget | None = None) -> dict[str, Any]:
    """Copy the marts into a new published version: from the DuckDB warehouse, or with `postgres` from the marts
    dbt built there (read into a scratch DuckDB file first, then published as the same DuckDB file and Parquet).
    With `dbt_manifest` (the build's target/manifest.json) every table and column carries its dbt description as a
    comment and its proven unique key as primary key (opskpi/schema_docs.py). Sums that DuckDB types HUGEINT are
    stored as BIGINT: Parquet has no 128-bit integer and would turn them into DOUBLE, and most BI drivers read
    HUGEINT as a float or a string."""
    published_dir.mkdir(parents=True, exist_ok=True)
    documented = schema_docs.published_docs(dbt_manifest, PUBLISHED_SCHEMA) if dbt_manifest else {}
    tables: dict[str, int] = {}
    with warehouse.lock():
        clean_stale(published_dir)
        version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        version_dir = published_dir / "versions" / version
        parquet_dir = version_dir / "parquet"
        parquet_dir.mkdir(parents=True)
        tmp_db = published_dir / f".opskpi.{version}.duckdb.tmp"
        source = warehouse.path
        if postgres is not None:  # swept by clean_stale like tmp_db when a publish is killed
            source = published_dir / f".opskpi.{version}.duckdb.tmp.postgres"
            with duckdb.connect(str(source)) as staging:
                staging.execute("SET TimeZone = 'UTC'")
                read_schema(postgres, PUBLISHED_SCHEMA, staging, PUBLISHED_SCHEMA)
        con = duckdb.connect(str(tmp_db))
        try:
            con.execute(f"ATTACH {quote_literal(str(source))} AS live (READ_ONLY)")
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'live' AND schema_name = ? "
                "ORDER BY table_name", [PUBLISHED_SCHEMA]).fetchall()]
            con.execute(f"CREATE SCHEMA {PUBLISHED_SCHEMA}")
            for name in schema_docs.creation_order(names, documented):
                ident, docs = quote_ident(name), documented.get(name, schema_docs.TableDocs())
                columns = _published_columns(con, name)
                schema_docs.create_table(con, PUBLISHED_SCHEMA, name, columns, docs)
                con.execute(f"INSERT INTO {PUBLISHED_SCHEMA}.{ident} SELECT "
                            f"{', '.join(_cast(c, t) for c, t in columns)} FROM live.{PUBLISHED_SCHEMA}.{ident}")
                schema_docs.comment(con, PUBLISHED_SCHEMA, name, docs)
                tables[name] = con.execute(f"SELECT count(*) FROM {PUBLISHED_SCHEMA}.{ident}").fetchone()[0]
                target = parquet_dir / f"{name}.parquet"
                con.execute(f"COPY {PUBLISHED_SCHEMA}.{ident} TO {quote_literal(str(target))} (FORMAT parquet)")
            con.execute("DETACH live")
            con.execute("CHECKPOINT")
        finally:
            con.close()
            if source != warehouse.path:
                source.unlink(missing_ok=True)
        with open(tmp_db, "rb") as handle:
            os.fsync(handle.fileno())
        (version_dir / "docs").mkdir()
        if docs_page is not None:
            shutil.copyfile(docs_page, version_dir / "docs" / "index.html")
        else:  # `docs` always resolves: say why this version has none rather than leave a dangling link
            (version_dir / "docs" / "index.html").write_text(
                f"<!doctype html><title>opskpi: no dbt docs</title><p>dbt docs were not generated for run "
                f"{html.escape(run_id)}; see that run's log (data/logs/runs/).</p>\n", encoding="utf-8")
        manifest = {"run_id": run_id, "published_at": datetime.now(UTC).isoformat(), "version": version,
                    "tables": tables, "duckdb_library_version": duckdb.__version__, "docs": docs_page is not None}
        # The manifest marks the version directory complete (clean_stale keeps only those).
        tmp_manifest = version_dir / f".{VERSION_MANIFEST}.tmp"
        tmp_manifest.write_text(json.dumps(manifest, indent=2))
        os.replace(tmp_manifest, version_dir / VERSION_MANIFEST)
        crashpoint("publish.built")
        os.replace(tmp_db, published_dir / DB_NAME)
        crashpoint("publish.swapped_db")
        _swap_symlink(published_dir / CURRENT, os.path.relpath(version_dir, published_dir))
        for name, target in (("parquet", f"{CURRENT}/parquet"), ("docs", f"{CURRENT}/docs"),
                             (VERSION_MANIFEST, f"{CURRENT}/{VERSION_MANIFEST}")):
            link = published_dir / name
            if not link.is_symlink() or os.readlink(link) != target:  # once: older layouts linked a version
                _swap_symlink(link, target)
        _fsync_dir(published_dir)
        _prune(published_dir / "versions", keep=version)
    return manifest


MIN_VERSION_AGE_S = 600


def _prune(versions_dir: Path, keep: str) -> None:
    """Drop old versions, but never one younger than MIN_VERSION_AGE_S: a slow reader that resolved the
    previous `current` link a moment ago may still be reading it."""
    now = time.time()
    versions = sorted(p for p in versions_dir.iterdir() if p.is_dir() and p.name != keep)
    for old in versions[:-(KEEP_VERSIONS - 1)]:
        if now - old.stat().st_mtime >= MIN_VERSION_AGE_S:
            shutil.rmtree(old, ignore_errors=True)


def _published_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(name, type) of every column of the live table, HUGEINT as BIGINT (a count past 2^63 fails the cast,
    loudly)."""
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'live' AND schema_name = ? "
        "AND table_name = ? ORDER BY column_index", [PUBLISHED_SCHEMA, table]).fetchall()
    return [(c, "BIGINT" if t == "HUGEINT" else t) for c, t in columns]


def _cast(column: str, data_type: str) -> str:
    return f"CAST({quote_ident(column)} AS {data_type})" if data_type == "BIGINT" else quote_ident(column)
