"""What the published DuckDB file says about itself: table and column comments and primary keys, from dbt.

BI developers browse the published file in a SQL client (DBeaver, DuckDB's CLI `.schema`, harlequin, Superset's
dataset editor); those show `COMMENT ON TABLE / COLUMN` and primary keys, not dbt's YAML. The YAML descriptions and
the unique keys the dbt tests already prove are in dbt's manifest (target/manifest.json) of the build being
published, so publish writes them into the new file from there: one source of truth, nothing to keep in sync.

Why not dbt's `persist_docs`: it writes the comments into the live warehouse inside each model's transaction, and
DuckDB refuses an incremental model's commit when its table was altered in the same build ("another transaction
has altered this table"); the published file is a fresh copy anyway, so the comments belong there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from opskpi.warehouse import quote_ident, quote_literal

DOCUMENTED = ("model", "seed", "snapshot")


@dataclass(frozen=True)
class TableDocs:
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    # The first unique key of the table's `row_rules` test whose columns that test also proves not null.
    primary_key: tuple[str, ...] = ()


def published_docs(manifest: Path, schema: str) -> dict[str, TableDocs]:
    """Per relation of `schema` built by dbt: its description, column descriptions and primary key."""
    nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {})
    relations = {uid: node for uid, node in nodes.items()
                 if node.get("resource_type") in DOCUMENTED and node.get("schema") == schema}
    keys: dict[str, tuple[str, ...]] = {}
    for node in nodes.values():
        metadata = node.get("test_metadata") or {}
        attached = node.get("attached_node")
        if metadata.get("name") != "row_rules" or attached not in relations or attached in keys:
            continue
        kwargs = metadata.get("kwargs") or {}
        required = set(kwargs.get("not_null") or [])
        for key in kwargs.get("unique") or []:
            if key and set(key) <= required:
                keys[attached] = tuple(key)
                break
    return {
        node.get("alias") or node["name"]: TableDocs(
            description=(node.get("description") or "").strip(),
            columns={name: (column.get("description") or "").strip()
                     for name, column in (node.get("columns") or {}).items()},
            primary_key=keys.get(uid, ()),
        )
        for uid, node in relations.items()
    }


def apply(con: duckdb.DuckDBPyConnection, schema: str, table: str, docs: TableDocs) -> None:
    """Comment `schema.table` and its columns, and declare its primary key (a duplicate or NULL key fails here,
    loudly: dbt's tests should have failed first)."""
    relation = f"{quote_ident(schema)}.{quote_ident(table)}"
    if docs.description:
        con.execute(f"COMMENT ON TABLE {relation} IS {quote_literal(docs.description)}")
    present = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? "
        "AND table_name = ?", [schema, table]).fetchall()}
    for column, text in docs.columns.items():
        if text and column in present:
            con.execute(f"COMMENT ON COLUMN {relation}.{quote_ident(column)} IS {quote_literal(text)}")
    if docs.primary_key and set(docs.primary_key) <= present:
        con.execute(f"ALTER TABLE {relation} ADD PRIMARY KEY ({', '.join(map(quote_ident, docs.primary_key))})")
