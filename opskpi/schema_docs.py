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
    # (column, dimension): a `keys_join` test on the dimension proves every value of the column is its key.
    foreign_keys: tuple[tuple[str, str], ...] = ()


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
    references: dict[str, list[tuple[str, str]]] = {}
    for node in nodes.values():
        metadata = node.get("test_metadata") or {}
        dimension = node.get("attached_node")
        if metadata.get("name") != "keys_join" or dimension not in relations:
            continue
        column = (metadata.get("kwargs") or {}).get("column_name")
        for uid in (node.get("depends_on") or {}).get("nodes", []):
            if uid != dimension and uid in relations and column:
                references.setdefault(uid, []).append((column, _name(relations[dimension])))
    return {
        _name(node): TableDocs(
            description=(node.get("description") or "").strip(),
            columns={name: (column.get("description") or "").strip()
                     for name, column in (node.get("columns") or {}).items()},
            primary_key=keys.get(uid, ()),
            foreign_keys=tuple(sorted(references.get(uid, []))),
        )
        for uid, node in relations.items()
    }


def _name(node: dict) -> str:
    return node.get("alias") or node["name"]


def creation_order(tables: list[str], docs: dict[str, TableDocs]) -> list[str]:
    """`tables` with every dimension before the tables that reference it (DuckDB checks a foreign key against a
    table that exists, with its primary key). A reference cycle is a modelling error: ValueError names it."""
    ordered: list[str] = []
    pending = list(tables)
    while pending:
        ready = [t for t in pending if all(d in ordered or d not in tables or d == t
                                           for _, d in docs.get(t, TableDocs()).foreign_keys)]
        if not ready:
            raise ValueError(f"foreign keys form a cycle among {sorted(pending)}")
        ordered += ready
        pending = [t for t in pending if t not in ready]
    return ordered


def create_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[tuple[str, str]],
                 docs: TableDocs) -> None:
    """CREATE TABLE `schema.table` with `columns` (name, DuckDB type), its primary key and the foreign keys whose
    dimension is already in `schema` with that column as its primary key. DuckDB declares foreign keys only when
    it creates a table (no ALTER TABLE ... ADD FOREIGN KEY), so the constraints are part of the DDL; the rows
    come after, and a key missing from its dimension fails the insert, loudly (keys_join should have failed)."""
    names = {c for c, _ in columns}
    parts = [f"{quote_ident(c)} {data_type}" for c, data_type in columns]
    if docs.primary_key and set(docs.primary_key) <= names:
        parts.append(f"PRIMARY KEY ({', '.join(map(quote_ident, docs.primary_key))})")
    for column, dimension in docs.foreign_keys:
        if column in names and _primary_key(con, schema, dimension) == [column]:
            parts.append(f"FOREIGN KEY ({quote_ident(column)}) REFERENCES {quote_ident(schema)}."
                         f"{quote_ident(dimension)} ({quote_ident(column)})")
    con.execute(f"CREATE TABLE {quote_ident(schema)}.{quote_ident(table)} ({', '.join(parts)})")


def _primary_key(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str] | None:
    row = con.execute("SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = "
                      "current_database() AND schema_name = ? AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
                      [schema, table]).fetchone()
    return list(row[0]) if row else None


def comment(con: duckdb.DuckDBPyConnection, schema: str, table: str, docs: TableDocs) -> None:
    """Comment `schema.table` and its columns."""
    relation = f"{quote_ident(schema)}.{quote_ident(table)}"
    if docs.description:
        con.execute(f"COMMENT ON TABLE {relation} IS {quote_literal(docs.description)}")
    present = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ? "
        "AND table_name = ?", [schema, table]).fetchall()}
    for column, text in docs.columns.items():
        if text and column in present:
            con.execute(f"COMMENT ON COLUMN {relation}.{quote_ident(column)} IS {quote_literal(text)}")
