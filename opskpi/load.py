"""Merge validated landing batches into `raw.<source>__<stream>` and advance watermarks atomically.

The pending batches of a stream are applied in one transaction: their rows (one per primary key, the
newest by cursor), their watermark advances and bookkeeping rows commit together or not at all. A batch already
recorded as loaded is skipped, and merging the same rows again changes nothing, so a load killed at
any point is simply rerun.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import duckdb

from extractors import landing_store
from extractors.crashpoints import crashpoint
from extractors.landing import complete_batches, read_manifest, write_json_atomic
from extractors.landing_store import StorePath
from extractors.streams import Stream, parse_timestamp
from opskpi.warehouse import quote_ident

log = logging.getLogger(__name__)

SQL_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "timestamp": "TIMESTAMPTZ"}
VALIDATION_FILE = "_validation.json"
LOAD_ERROR_FILE = "_load_error.json"
# What DuckDB raises when a value cannot be stored as declared: the batch, not the warehouse, is at fault.
DATA_ERRORS = (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.OutOfRangeException)

META_DDL = [
    "CREATE SCHEMA IF NOT EXISTS raw",
    "CREATE SCHEMA IF NOT EXISTS meta",
    """CREATE TABLE IF NOT EXISTS meta.watermarks (
        source VARCHAR, stream VARCHAR, partition_id VARCHAR, cursor_value VARCHAR,
        batch_id VARCHAR, updated_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS meta.batches (
        batch_id VARCHAR, source VARCHAR, stream VARCHAR, run_id VARCHAR, status VARCHAR,
        rows_landed BIGINT, rows_changed BIGINT, pages BIGINT, requests BIGINT,
        loaded_at TIMESTAMPTZ, manifest JSON)""",
    """CREATE TABLE IF NOT EXISTS meta.http_etags (
        source VARCHAR, stream VARCHAR, request_key VARCHAR, etag VARCHAR, batch_id VARCHAR)""",
    # Per child stream and parent record (`child_key`, e.g. a pull request's number): the parent's version (its
    # `updated_at`) whose children are in raw. Written with the child batch's rows in one transaction, so the
    # engine never skips a child whose records were not loaded (see Stream.parent_version).
    """CREATE TABLE IF NOT EXISTS meta.child_versions (
        source VARCHAR, stream VARCHAR, partition_id VARCHAR, child_key VARCHAR, version VARCHAR, batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS meta.validation_results (
        batch_id VARCHAR, source VARCHAR, stream VARCHAR, success BOOLEAN, evaluated_at TIMESTAMPTZ,
        failed_expectations JSON, result JSON)""",
    # Per loaded batch and partition: whether the API served it (`ok`) or answered that the feature is not
    # enabled there (`not_enabled`, streams declared optional: e.g. a repository without code scanning).
    """CREATE TABLE IF NOT EXISTS meta.stream_coverage (
        source VARCHAR, stream VARCHAR, partition_id VARCHAR, status VARCHAR, status_code INTEGER,
        message VARCHAR, rows BIGINT, window_start TIMESTAMPTZ, window_end TIMESTAMPTZ, run_id VARCHAR,
        batch_id VARCHAR, extracted_at TIMESTAMPTZ)""",
]


def ensure_meta(con: duckdb.DuckDBPyConnection) -> None:
    for statement in META_DDL:
        con.execute(statement)


@dataclass
class LoadResult:
    batch_id: str
    table: str
    rows_landed: int
    rows_changed: int


def ensure_raw_table(con, table: str, columns: dict[str, str], paths: dict[str, str] | None = None) -> None:
    """Create the raw table, or add columns a newer stream declaration introduced.

    A column added to a table that has rows is filled from each row's record at `paths[name]` (a dotted path),
    when given: a new key column (GitHub deployment statuses keyed by node id since GraphQL) then matches the rows
    loaded before, so the next load replaces them instead of adding a second copy."""
    col_sql = ", ".join(f"{quote_ident(n)} {SQL_TYPES[k]}" for n, k in columns.items())
    con.execute(
        f"CREATE TABLE IF NOT EXISTS raw.{quote_ident(table)} ({col_sql}, record JSON, "
        "_batch_id VARCHAR, _loaded_at TIMESTAMPTZ)"
    )
    existing = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?", [table]
    ).fetchall()}
    for name, kind in columns.items():
        if name not in existing:
            con.execute(f"ALTER TABLE raw.{quote_ident(table)} ADD COLUMN {quote_ident(name)} {SQL_TYPES[kind]}")
            if (paths or {}).get(name):
                con.execute(f"UPDATE raw.{quote_ident(table)} SET {quote_ident(name)} = "
                            f"TRY_CAST(json_extract_string(record, ?) AS {SQL_TYPES[kind]})", ["$." + paths[name]])


def merge_batch(con: duckdb.DuckDBPyConnection, batch: StorePath) -> LoadResult:
    """Apply one batch inside the caller's transaction. Newest version of each key wins; ties keep what is there."""
    return merge_batches(con, [batch])[0]


def _shape(manifest: dict[str, Any]) -> tuple:
    return manifest["column_kinds"], manifest["primary_key"], manifest.get("cursor")


def merge_batches(con: duckdb.DuckDBPyConnection, batches: list[StorePath]) -> list[LoadResult]:
    """Apply batches of one stream (same columns, key and cursor) inside the caller's transaction, with the
    outcome of applying them one after the other, oldest first.

    Per primary key the newest cursor wins, then the later batch, then the later read; a row already in raw
    is replaced only by a strictly newer cursor, or by a different record with the same cursor. One DELETE and
    one INSERT for all the batches, each reading the Parquet files directly (no copy into a temporary table
    first), so the records, most of the bytes, travel once from the files into the table and the table is
    scanned once per stream rather than once per batch (bench/: 3-4x DuckDB's own ingest before, see the
    results). Only attribution differs from one-by-one: a record read unchanged by two batches of the same
    load keeps the later batch's id. A value that does not cast fails inside the transaction.
    """
    manifests = [read_manifest(b) for b in batches]
    first = manifests[0]
    if any(_shape(m) != _shape(first) or m["source"] != first["source"] or m["stream"] != first["stream"]
           for m in manifests):
        raise ValueError("merge_batches: the batches must be of one stream with one declaration")
    table = f"{first['source']}__{first['stream']}"
    kinds: dict[str, str] = first["column_kinds"]
    pk: list[str] = first["primary_key"]
    cursor: str | None = first.get("cursor")
    ensure_raw_table(con, table, kinds, first.get("column_paths"))
    target = f"raw.{quote_ident(table)}"
    paths = [b / f for b, m in zip(batches, manifests, strict=True) for f in m["files"]]
    files = landing_store.duckdb_paths(con, paths)
    ids = dict(zip(files, (m["batch_id"] for m in manifests for _ in m["files"]), strict=True))
    casts = ", ".join(f"CAST({quote_ident(n)} AS {SQL_TYPES[k]}) AS {quote_ident(n)}" for n, k in kinds.items())
    pk_list = ", ".join(quote_ident(c) for c in pk)
    order = (f"{quote_ident(cursor)} DESC NULLS LAST, " if cursor else "") + "_batch_id DESC, _seq DESC"
    # Each row's batch: the id the manifest gives the file it was read from.
    batch_rows = f"""(SELECT {casts}, record, map_extract_value(MAP(?, ?), filename) AS _batch_id,
                   now() AS _loaded_at
            FROM read_parquet(?, filename = true)
            QUALIFY row_number() OVER (PARTITION BY {pk_list} ORDER BY {order}) = 1)"""
    params = [list(ids), list(ids.values()), files]
    pk_match = " AND ".join(f"t.{quote_ident(c)} = b.{quote_ident(c)}" for c in pk)
    if cursor:
        c = quote_ident(cursor)
        newer = (f"(b.{c} > t.{c} OR (t.{c} IS NULL AND b.{c} IS NOT NULL) OR "
                 f"(b.{c} IS NOT DISTINCT FROM t.{c} AND b.record <> CAST(t.record AS VARCHAR)))")
    else:
        newer = "b.record <> CAST(t.record AS VARCHAR)"
    replaced = 0
    if con.execute(f"SELECT EXISTS (SELECT 1 FROM {target})").fetchone()[0]:  # a first load has nothing to replace
        replaced = con.execute(
            f"DELETE FROM {target} t USING {batch_rows} b WHERE {pk_match} AND {newer}", params
        ).fetchone()[0]
    cols = ", ".join(quote_ident(n) for n in kinds)
    inserted = con.execute(
        f"""INSERT INTO {target} ({cols}, record, _batch_id, _loaded_at)
            SELECT {cols}, record, _batch_id, _loaded_at FROM {batch_rows} b
            WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {pk_match})""", params
    ).fetchone()[0]
    changed = {first["batch_id"]: inserted}
    if len(manifests) > 1:
        changed = dict(con.execute(
            f"SELECT _batch_id, count(*) FROM {target} WHERE _batch_id IN (SELECT unnest(?)) GROUP BY 1",
            [[m["batch_id"] for m in manifests]]).fetchall())
    log.info("%s: %d batch(es) changed %d rows (%d replaced)", table, len(manifests), inserted, replaced)
    return [LoadResult(m["batch_id"], table, m["rows"], changed.get(m["batch_id"], 0)) for m in manifests]


def _advance_watermarks(con, manifest: dict[str, Any]) -> None:
    """Move each partition's watermark forward to the newest cursor this batch loaded, never back."""
    for partition_id, meta in manifest.get("partitions", {}).items():
        new = meta.get("max_cursor")
        if not new:
            continue
        row = con.execute(
            "SELECT cursor_value FROM meta.watermarks WHERE source = ? AND stream = ? AND partition_id = ?",
            [manifest["source"], manifest["stream"], partition_id],
        ).fetchone()
        if row and row[0] and parse_timestamp(row[0]) >= parse_timestamp(new):
            continue
        con.execute(
            "DELETE FROM meta.watermarks WHERE source = ? AND stream = ? AND partition_id = ?",
            [manifest["source"], manifest["stream"], partition_id],
        )
        con.execute(
            "INSERT INTO meta.watermarks VALUES (?, ?, ?, ?, ?, now())",
            [manifest["source"], manifest["stream"], partition_id, new, manifest["batch_id"]],
        )


def _store_etags(con, manifest: dict[str, Any]) -> None:
    """Keep the ETags of this batch's walks; they are only valid once its records are loaded.

    Two statements per batch whatever its size (a child stream keeps one ETag per parent: thousands)."""
    etags = manifest.get("etags") or {}
    if not etags:
        return
    keys, values = list(etags), list(etags.values())
    con.execute("DELETE FROM meta.http_etags WHERE source = ? AND stream = ? AND request_key IN (SELECT unnest(?))",
                [manifest["source"], manifest["stream"], keys])
    con.execute("INSERT INTO meta.http_etags SELECT ?, ?, unnest(?), unnest(?), ?",
                [manifest["source"], manifest["stream"], keys, values, manifest["batch_id"]])


def _store_child_versions(con, manifest: dict[str, Any]) -> None:
    """Keep the parent versions whose children this batch read: only once the children are loaded may a later
    extract skip them. Two statements per batch, like the ETags."""
    rows = manifest.get("child_versions") or []
    if not rows:
        return
    partition_ids, keys, versions = (list(column) for column in zip(*rows, strict=True))
    con.execute("DELETE FROM meta.child_versions c USING (SELECT unnest($3) AS p, unnest($4) AS k) n "
                "WHERE c.source = $1 AND c.stream = $2 AND c.partition_id = n.p AND c.child_key = n.k",
                [manifest["source"], manifest["stream"], partition_ids, keys])
    con.execute("INSERT INTO meta.child_versions SELECT ?, ?, unnest(?), unnest(?), unnest(?), ?",
                [manifest["source"], manifest["stream"], partition_ids, keys, versions, manifest["batch_id"]])


def _store_coverage(con, manifest: dict[str, Any]) -> None:
    """One meta.stream_coverage row per partition the batch read (what the API answered for it)."""
    for partition_id, meta in (manifest.get("partitions") or {}).items():
        con.execute(
            "INSERT INTO meta.stream_coverage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [manifest["source"], manifest["stream"], partition_id, meta.get("status", "ok"), meta.get("status_code"),
             meta.get("message"), meta.get("rows", 0), meta.get("window_start"), meta.get("window_end"),
             manifest.get("run_id", ""), manifest["batch_id"], manifest.get("extracted_at")],
        )


def _table_exists(con, schema: str, table: str) -> bool:
    return con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchone()[0] > 0


def read_etags(con, source: str, stream: str) -> dict[str, str]:
    if con is None or not _table_exists(con, "meta", "http_etags"):
        return {}
    return dict(con.execute(
        "SELECT request_key, etag FROM meta.http_etags WHERE source = ? AND stream = ?", [source, stream]
    ).fetchall())


def read_child_versions(con, source: str, stream: str, partition_ids: list[str]) -> dict[tuple[str, str], str]:
    """(partition, child key) -> the parent version whose children are loaded, for `partition_ids`."""
    if con is None or not _table_exists(con, "meta", "child_versions"):
        return {}
    rows = con.execute(
        "SELECT partition_id, child_key, version FROM meta.child_versions WHERE source = ? AND stream = ? "
        "AND partition_id IN (SELECT unnest(?))", [source, stream, partition_ids]).fetchall()
    return {(partition_id, key): version for partition_id, key, version in rows}


def loaded_batch_ids(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT batch_id FROM meta.batches WHERE status = 'loaded'").fetchall()}


def is_validated(batch: StorePath) -> bool:
    path = batch / VALIDATION_FILE
    return path.exists() and json.loads(path.read_text()).get("success") is True


def _apply(con, source: str, stream: str, batches: list[StorePath]) -> list[LoadResult]:
    """One transaction: the batches' rows, watermark advances and bookkeeping rows, or nothing."""
    manifests = [read_manifest(b) for b in batches]
    con.execute("BEGIN TRANSACTION")
    try:
        results = merge_batches(con, batches)
        for manifest, result in zip(manifests, results, strict=True):
            _advance_watermarks(con, manifest)
            _store_etags(con, manifest)
            _store_child_versions(con, manifest)
            _store_coverage(con, manifest)
            con.execute(
                "INSERT INTO meta.batches VALUES (?, ?, ?, ?, 'loaded', ?, ?, ?, ?, now(), ?)",
                [manifest["batch_id"], source, stream, manifest.get("run_id", ""), result.rows_landed,
                 result.rows_changed, manifest.get("pages", 0), manifest.get("requests", 0), json.dumps(manifest)],
            )
            crashpoint("load.merged")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    for _ in results:
        crashpoint("load.committed")
    return results


def _groups(batches: list[StorePath]) -> list[list[StorePath]]:
    """Consecutive batches with the same declaration (columns, key, cursor) merge together."""
    groups: list[list[StorePath]] = []
    for batch in batches:
        if groups and _shape(read_manifest(groups[-1][-1])) == _shape(read_manifest(batch)):
            groups[-1].append(batch)
        else:
            groups.append([batch])
    return groups


def load_pending(
    con: duckdb.DuckDBPyConnection, landing_root: StorePath, streams: list[tuple[str, str]],
    quarantine_root: StorePath | None = None, rejected: list[str] | None = None,
) -> list[LoadResult]:
    """Load every validated batch of `streams` not loaded yet, oldest first.

    The pending batches of a stream are merged together, in one transaction (`merge_batches`); should the
    warehouse refuse one for its data (a value that does not cast), they are applied one transaction each
    instead, so that only that batch is set aside. With `quarantine_root` a refused batch is moved there with
    `_load_error.json` and named in `rejected`, and loading goes on: one bad batch never blocks every later
    load. Other errors roll back and propagate.
    """
    ensure_meta(con)
    done = loaded_batch_ids(con)
    results = []
    for source, stream in streams:
        pending = []
        for batch in complete_batches(landing_root, source, stream):
            if batch.name in done:
                continue
            if not is_validated(batch):
                log.warning("%s__%s: batch %s is not validated yet; it waits for the next load",
                            source, stream, batch.name)
                continue
            pending.append(batch)
        for group in _groups(pending):
            if len(group) > 1:
                try:
                    results += _apply(con, source, stream, group)
                    continue
                except DATA_ERRORS:
                    log.warning("%s__%s: the warehouse refused a batch of %d; loading them one by one",
                                source, stream, len(group))
            for batch in group:
                try:
                    results += _apply(con, source, stream, [batch])
                except DATA_ERRORS as exc:
                    if quarantine_root is None:
                        raise
                    target = quarantine_root / source / stream / batch.name
                    write_json_atomic(batch / LOAD_ERROR_FILE, {"batch_id": batch.name, "error": str(exc)[:2000]})
                    landing_store.move_tree(batch, target)
                    message = (f"source {source}, stream {stream} ({source}__{stream}): batch {batch.name} "
                               f"refused by the warehouse and quarantined to {target}: "
                               f"{str(exc).splitlines()[0][:400]}")
                    log.error(message)
                    if rejected is not None:
                        rejected.append(message)
    return results


def read_watermarks(con, source: str, stream: str) -> dict[str, str]:
    if con is None or not _table_exists(con, "meta", "watermarks"):
        return {}
    return dict(con.execute(
        "SELECT partition_id, cursor_value FROM meta.watermarks WHERE source = ? AND stream = ?", [source, stream]
    ).fetchall())


def stream_watermarks(con, stream: Stream) -> dict[str, str]:
    """The stream's watermarks per partition, where a partition of a stream that was once read unpartitioned
    (`Stream.partition_column`) and has none of its own takes the old "" one, if raw holds records of it."""
    marks = read_watermarks(con, stream.source, stream.name)
    legacy, column = marks.get(""), stream.partition_column
    missing = [p.id for p in stream.partitions if p.id not in marks]
    if legacy is None or column is None or not missing or not _table_exists(con, "raw", stream.key):
        return marks
    held = con.execute(f"SELECT DISTINCT {quote_ident(column)} FROM raw.{quote_ident(stream.key)} "
                       f"WHERE {quote_ident(column)} IN (SELECT unnest(?))", [missing]).fetchall()
    return {**marks, **{partition: legacy for (partition,) in held}}
