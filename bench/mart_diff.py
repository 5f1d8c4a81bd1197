"""Row-by-row comparison of the dbt tables of two warehouses (an incremental build against a full refresh, or a
backfilled day against the run on that day).

Used by `python -m bench dbt` and by the incremental == full-refresh and backfill == replay integration tests.
Every table dbt materialises in the `marts` and `intermediate` schemas is compared as a multiset of rows;
floating-point columns are equal when they agree to 1e-9 relative. Columns that stamp the build itself
(`computed_at`, and the `run_id` of the run that wrote a row) are left out: they differ by design.

Across engines (the marts built on PostgreSQL, read back into DuckDB: opskpi/postgres_warehouse.py), a number's type
may differ where its value does not (a sum of BIGINT is HUGEINT in DuckDB and NUMERIC in Postgres): with
`numbers_as_double`, every numeric column is compared as DOUBLE to 1e-9 relative, and only its kind (number, text,
...) must match. An integer division that truncates on one side still differs.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

SCHEMAS = ("marts", "intermediate")
BUILD_STAMPS = {"computed_at", "run_id"}
# The columns that date a row of a daily table: `through=` compares the rows up to that day only.
DAY_COLUMNS = ("day", "snapshot_date", "week_start")
FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL"}
NUMBER_TYPES = FLOAT_TYPES | {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                              "UINTEGER", "UBIGINT", "UHUGEINT"}
REL_TOL = 1e-9


def _tables(con: duckdb.DuckDBPyConnection, catalog: str, schemas: tuple[str, ...] = SCHEMAS
            ) -> list[tuple[str, str]]:
    rows = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ? and schema_name in "
        f"({', '.join('?' for _ in schemas)}) order by 1, 2", [catalog, *schemas]).fetchall()
    return [(s, t) for s, t in rows]


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str,
             left_out: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    return [(name, dtype) for name, dtype in con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ? order by column_index", [catalog, schema, table]).fetchall()
        if name not in BUILD_STAMPS and f"{table}.{name}" not in left_out]


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
    return a == b


def _unmatched(left: list[tuple], right: list[tuple], float_at: list[int]) -> int:
    """Rows left over on both sides after pairing rows whose exact columns agree and whose floats are close."""
    exact_at = [i for i in range(len(left[0]) if left else len(right[0]) if right else 0) if i not in float_at]
    by_key: dict[tuple, list[tuple]] = {}
    for row in right:
        by_key.setdefault(tuple(row[i] for i in exact_at), []).append(row)
    missing = 0
    for row in left:
        candidates = by_key.get(tuple(row[i] for i in exact_at), [])
        match = next((j for j, other in enumerate(candidates)
                      if all(_close(row[i], other[i]) for i in float_at)), None)
        if match is None:
            missing += 1
        else:
            candidates.pop(match)
    return missing + sum(len(rows) for rows in by_key.values())


def _is_number(dtype: str) -> bool:
    return dtype in NUMBER_TYPES or dtype.startswith("DECIMAL")


def _as_double(columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, "DOUBLE" if _is_number(dtype) else dtype) for name, dtype in columns]


def compare_tables(con: duckdb.DuckDBPyConnection, schema: str, table: str, a: str = "a", b: str = "b",
                   through: date | None = None, left_out: frozenset[str] = frozenset(),
                   numbers_as_double: bool = False) -> tuple[int, int]:
    """(rows differing, rows compared) for one table present in catalogs `a` and `b`; with `through`, only the
    rows dated up to that day (DAY_COLUMNS) of a daily table; `left_out` names columns (`table.column`) not
    compared; `numbers_as_double`: every numeric column compared as DOUBLE (two engines' builds)."""
    cols_a, cols_b = _columns(con, a, schema, table, left_out), _columns(con, b, schema, table, left_out)
    if numbers_as_double:
        cols_a, cols_b = _as_double(cols_a), _as_double(cols_b)
    if cols_a != cols_b:
        raise AssertionError(f"{schema}.{table}: columns differ: {cols_a} != {cols_b}")
    names = ", ".join(f'CAST("{name}" AS DOUBLE)' if numbers_as_double and dtype == "DOUBLE" else f'"{name}"'
                      for name, dtype in cols_a)
    float_at = [i for i, (_, dtype) in enumerate(cols_a) if dtype in FLOAT_TYPES]
    day_column = next((name for name, dtype in cols_a if name in DAY_COLUMNS and dtype == "DATE"), None)
    where = f"where \"{day_column}\" <= date '{through.isoformat()}'" if through and day_column else ""
    # Exact multiset difference first (cheap, in DuckDB); only what is left is paired with a float tolerance.
    only = {}
    for first, second in ((a, b), (b, a)):
        only[first] = con.execute(
            f'select {names} from {first}."{schema}"."{table}" {where} except all '
            f'select {names} from {second}."{schema}"."{table}" {where}').fetchall()
    compared = con.execute(f'select count(*) from {a}."{schema}"."{table}" {where}').fetchone()[0]
    if not only[a] and not only[b]:
        return 0, compared
    return _unmatched(only[a], only[b], float_at), compared


def compare_warehouses(incremental: Path, reference: Path, schemas: tuple[str, ...] = SCHEMAS,
                       through: date | None = None, left_out: frozenset[str] = frozenset(),
                       numbers_as_double: bool = False) -> dict[str, Any]:
    """Compare every dbt table of `schemas` in two warehouse files (history included, or up to `through`); a table
    present in only one counts all its rows. `left_out` names tables (`schema.table`) and columns (`table.column`)
    not compared; `numbers_as_double` for two engines' builds (see the module's docstring)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental}' as a (read_only)")
        con.execute(f"attach '{reference}' as b (read_only)")
        tables_a, tables_b = ({t for t in _tables(con, side, schemas) if f"{t[0]}.{t[1]}" not in left_out}
                              for side in ("a", "b"))
        differing: dict[str, int] = {}
        total = compared = 0
        for schema, table in sorted(tables_a | tables_b):
            name = f"{schema}.{table}"
            if (schema, table) not in tables_a or (schema, table) not in tables_b:
                side = "a" if (schema, table) in tables_a else "b"
                count = con.execute(f'select count(*) from {side}."{schema}"."{table}"').fetchone()[0]
                differing[name] = count
                total += count
                continue
            rows, seen = compare_tables(con, schema, table, through=through, left_out=left_out,
                                        numbers_as_double=numbers_as_double)
            compared += seen
            if rows:
                differing[name] = rows
                total += rows
    finally:
        con.close()
    return {"rows_differing": total, "rows_compared": compared, "differing_tables": differing}
