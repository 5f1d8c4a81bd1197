"""The marts on PostgreSQL (`warehouse.type: postgres`): the raw tables copied there, the marts read back.

Why this shape: the load step's merge (primary keys, newest version, watermarks, child versions and batch
bookkeeping in one transaction: opskpi/load.py) is DuckDB SQL over Parquet, and DuckDB's postgres extension cannot be
installed here. So the load stays exactly as it is, into the local DuckDB file, and then the `raw` and `meta` schemas
are mirrored to Postgres with `COPY ... FROM STDIN` (psycopg2), all tables in one Postgres transaction: dbt on
Postgres sees the previous load or this one, never half of it. The DuckDB file remains the loader's state (the
watermarks advance there, with the data they cover), so a load killed before the copy is simply rerun; the copy
replaces a mirrored table whole, which is idempotent and needs no second merge implementation.

Only the tables that changed are copied: each table's fingerprint (opskpi/dbt_selection.py, the one the slim dbt
build compares: row count and newest `_loaded_at`, or a hash of the rows) is kept in Postgres (`MIRROR_STATE`) in the
same transaction as the rows it describes. A night that loaded two streams copies those two and the meta tables the
load wrote, not the whole history; a table whose fingerprint matches but whose Postgres row count does not (emptied
by hand) is copied again.

The other way, `read_marts` streams a Postgres schema into a DuckDB connection (COPY ... TO STDOUT as CSV, read back
with the column types of Postgres mapped to DuckDB's), so the publish step writes the same DuckDB file and Parquet
files from either warehouse.

The password is never part of the config: libpq reads it from the variable the config names (`password_env`,
default PGPASSWORD) or from an Airflow connection the DAG resolves into that variable.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from opskpi.warehouse import quote_ident, quote_literal

log = logging.getLogger(__name__)

MIRRORED_SCHEMAS = ("raw", "meta")
# Per mirrored table, the DuckDB fingerprint of the rows Postgres holds (written with them).
MIRROR_STATE = "opskpi_mirror.fingerprints"

# DuckDB type -> Postgres type of a mirrored column, spelt as Postgres's format_type() spells it (a table whose
# columns already match is kept). JSON goes to jsonb: the models read it with #>> (macros/portable_json.sql).
TO_POSTGRES = {
    "VARCHAR": "text", "BIGINT": "bigint", "INTEGER": "integer", "SMALLINT": "smallint", "HUGEINT": "numeric",
    "DOUBLE": "double precision", "FLOAT": "real", "BOOLEAN": "boolean", "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone", "TIMESTAMP": "timestamp without time zone",
    "JSON": "jsonb", "UUID": "uuid",
}
# Postgres type (information_schema.columns.data_type) -> DuckDB type of a published column.
TO_DUCKDB = {
    "text": "VARCHAR", "character varying": "VARCHAR", "character": "VARCHAR", "bigint": "BIGINT",
    "integer": "INTEGER", "smallint": "SMALLINT", "double precision": "DOUBLE", "real": "FLOAT",
    "numeric": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE", "timestamp with time zone": "TIMESTAMPTZ",
    "timestamp without time zone": "TIMESTAMP", "jsonb": "JSON", "json": "JSON", "uuid": "UUID",
    "ARRAY": "VARCHAR[]", "interval": "INTERVAL", "time without time zone": "TIME",
}


@dataclass(frozen=True)
class PostgresTarget:
    """Where the marts are built: the config's `warehouse:` section when `type: postgres`."""

    host: str
    port: int
    user: str
    dbname: str
    schema: str = "main"
    password_env: str = "PGPASSWORD"

    def connect_kwargs(self) -> dict[str, object]:
        password = os.environ.get(self.password_env)
        return {"host": self.host, "port": self.port, "user": self.user, "dbname": self.dbname,
                **({"password": password} if password else {})}

    def dbt_env(self) -> dict[str, str]:
        """What dbt_project/profiles.yml's `postgres` target reads (the password under its own name only)."""
        env = {"OPSKPI_DBT_TARGET": "postgres", "OPSKPI_PG_HOST": self.host, "OPSKPI_PG_PORT": str(self.port),
               "OPSKPI_PG_USER": self.user, "OPSKPI_PG_DBNAME": self.dbname, "OPSKPI_PG_SCHEMA": self.schema}
        if self.password_env in os.environ:
            env["OPSKPI_PG_PASSWORD"] = os.environ[self.password_env]
        return env


@contextmanager
def connect(target: PostgresTarget) -> Iterator:
    import psycopg2

    con = psycopg2.connect(**target.connect_kwargs())
    try:
        with con.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        yield con
    finally:
        con.close()


def _duckdb_columns(duck: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    return duck.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? ORDER BY column_index", [schema, table]).fetchall()


def _postgres_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return "numeric"
    if duckdb_type.endswith("[]"):
        return f"{_postgres_type(duckdb_type[:-2])}[]"
    try:
        return TO_POSTGRES[duckdb_type]
    except KeyError:
        raise ValueError(f"no Postgres type for DuckDB type {duckdb_type!r}") from None


def _existing_columns(cur, schema: str, table: str) -> list[tuple[str, str]]:
    cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                (f"{quote_ident(schema)}.{quote_ident(table)}",))
    return [(name, kind) for name, kind in cur.fetchall()]


def _ensure_table(cur, schema: str, table: str, columns: list[tuple[str, str]]) -> bool:
    """The Postgres table with DuckDB's columns, kept in place when it has them (dbt's staging views over it stay
    valid: a slim build does not rebuild them); columns the loader added since are added the same way (at the end,
    as DuckDB added them); any other difference recreates it. True when its rows must be copied whatever the
    fingerprint says (created, or columns added)."""
    name = f"{quote_ident(schema)}.{quote_ident(table)}"
    wanted = [(c, _postgres_type(t)) for c, t in columns]
    existing = _existing_columns(cur, schema, table)
    if existing and existing == wanted[:len(existing)]:
        for column, kind in wanted[len(existing):]:
            cur.execute(f"ALTER TABLE {name} ADD COLUMN {quote_ident(column)} {kind}")
        return len(wanted) > len(existing)  # the new columns are empty there: the rows are copied again
    if existing:
        log.warning("Postgres %s.%s has other columns than the DuckDB table: recreated (the views over it go too; "
                    "the next dbt build must rebuild every node)", schema, table)
        cur.execute(f"DROP TABLE {name} CASCADE")
    cur.execute(f"CREATE TABLE {name} (" + ", ".join(f"{quote_ident(c)} {t}" for c, t in wanted) + ")")
    return True


def _mirrored_fingerprints(cur) -> dict[str, str]:
    cur.execute("CREATE SCHEMA IF NOT EXISTS opskpi_mirror")
    cur.execute(f"CREATE TABLE IF NOT EXISTS {MIRROR_STATE} (name text PRIMARY KEY, fingerprint text NOT NULL)")
    cur.execute(f"SELECT name, fingerprint FROM {MIRROR_STATE}")
    return dict(cur.fetchall())


def _unchanged(cur, name: str, rows: int, fingerprint: str | None, mirrored: str | None) -> bool:
    """The Postgres table holds the rows of this fingerprint (and as many as DuckDB: nobody emptied it)."""
    if fingerprint is None or fingerprint != mirrored:
        return False
    cur.execute(f"SELECT count(*) FROM {name}")
    return cur.fetchone()[0] == rows


def mirror(duck: duckdb.DuckDBPyConnection, target: PostgresTarget,
           schemas: tuple[str, ...] = MIRRORED_SCHEMAS) -> dict[str, int]:
    """Replace the rows of every changed table of `schemas` in Postgres with the DuckDB table's, in one Postgres
    transaction (TRUNCATE and COPY: readers wait for the commit and then see the new rows). Returns the rows copied
    per `schema.table` copied (unchanged tables are not in it)."""
    from opskpi.dbt_selection import fingerprints

    tables = duck.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
        f"AND schema_name IN ({', '.join('?' for _ in schemas)}) ORDER BY 1, 2", list(schemas)).fetchall()
    current = fingerprints(duck)  # every raw and meta table but the build state, which is copied each time
    copied: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="opskpi-pg-") as tmp, connect(target) as pg:
        with pg.cursor() as cur:
            mirrored = _mirrored_fingerprints(cur)
            for schema in schemas:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
            for schema, table in tables:
                columns = _duckdb_columns(duck, schema, table)
                name = f"{quote_ident(schema)}.{quote_ident(table)}"
                key = f"{schema}.{table}"
                recreated = _ensure_table(cur, schema, table, columns)
                rows = duck.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                if not recreated and _unchanged(cur, name, rows, current.get(key), mirrored.get(key)):
                    continue
                cur.execute(f"TRUNCATE {name}")
                csv = Path(tmp) / f"{schema}.{table}.csv"
                # Written by DuckDB in UTC (the loader's session time zone); NULL is an unquoted empty field, an
                # empty string a quoted one: the two stay apart in Postgres's CSV format.
                listed = ", ".join(quote_ident(c) for c, _ in columns)
                duck.execute(f"COPY (SELECT {listed} FROM {name}) TO {quote_literal(str(csv))} "
                             "(FORMAT csv, HEADER false, FORCE_QUOTE *)")
                with open(csv, "rb") as handle:
                    cur.copy_expert(f"COPY {name} ({listed}) FROM STDIN WITH (FORMAT csv)", handle)
                copied[key] = cur.rowcount
                csv.unlink()
                cur.execute(f"DELETE FROM {MIRROR_STATE} WHERE name = %s", (key,))
                if key in current:
                    cur.execute(f"INSERT INTO {MIRROR_STATE} VALUES (%s, %s)", (key, current[key]))
        pg.commit()
    log.info("copied %d of %d tables (%d rows) to Postgres %s:%s/%s", len(copied), len(tables),
             sum(copied.values()), target.host, target.port, target.dbname)
    return copied


def read_schema(target: PostgresTarget, schema: str, duck: duckdb.DuckDBPyConnection, into: str) -> list[str]:
    """Copy every table of the Postgres `schema` into the DuckDB schema `into` (created), with Postgres's column
    types mapped to DuckDB's; returns the table names."""
    with connect(target) as pg, pg.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                    "AND table_type = 'BASE TABLE' ORDER BY table_name", (schema,))
        names = [r[0] for r in cur.fetchall()]
        duck.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(into)}")
        for table in names:
            cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
                        "AND table_name = %s ORDER BY ordinal_position", (schema, table))
            columns = [(c, TO_DUCKDB.get(t, "VARCHAR")) for c, t in cur.fetchall()]
            ident = f"{quote_ident(into)}.{quote_ident(table)}"
            duck.execute(f"CREATE TABLE {ident} ("
                         + ", ".join(f"{quote_ident(c)} {t}" for c, t in columns) + ")")
            buffer = io.BytesIO()
            select = ", ".join(_for_csv(c, t) for c, t in columns)
            cur.copy_expert(f"COPY (SELECT {select} FROM {quote_ident(schema)}.{quote_ident(table)}) "
                            "TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)", buffer)
            with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
                handle.write(buffer.getvalue())
                handle.flush()
                types = "{" + ", ".join(f"{quote_literal(c)}: {quote_literal(t)}" for c, t in columns) + "}"
                duck.execute(f"INSERT INTO {ident} SELECT * FROM read_csv({quote_literal(handle.name)}, "
                             f"header = false, columns = {types}, quote = '\"', escape = '\"', "
                             "allow_quoted_nulls = false, auto_detect = false)")
    return names


def _for_csv(column: str, duckdb_type: str) -> str:
    """How a Postgres column is written for DuckDB to read it back: arrays as DuckDB list literals, doubles with
    every digit (extra_float_digits is 1 by default: shortest exact form)."""
    ident = quote_ident(column)
    if duckdb_type.endswith("[]"):
        return f"CASE WHEN {ident} IS NULL THEN NULL ELSE array_to_json({ident})::text END AS {ident}"
    return ident
