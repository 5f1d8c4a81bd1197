"""Publishing swaps in a complete new set; a reader holding the old file keeps reading it."""

from __future__ import annotations

import duckdb

from opskpi.publish import publish
from opskpi.warehouse import Warehouse


def build_marts(warehouse: Warehouse, value: int) -> None:
    with warehouse.connect() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute("CREATE OR REPLACE TABLE marts.m1 AS SELECT range AS id, ? AS v FROM range(10)", [value])
        con.execute("CREATE OR REPLACE TABLE marts.m2 AS SELECT ? AS v", [value])
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        con.execute("CREATE OR REPLACE TABLE raw.secret AS SELECT 'not for BI' AS s")


def test_publish_is_atomic_and_readers_are_never_locked(tmp_path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    out = tmp_path / "published"
    build_marts(warehouse, 1)
    first = publish(warehouse, out, "run-1")
    assert first["tables"] == {"m1": 10, "m2": 1}

    reader = duckdb.connect(str(out / "opskpi.duckdb"), read_only=True)
    build_marts(warehouse, 2)  # the pipeline writes the live warehouse while a BI reader is open
    publish(warehouse, out, "run-2")
    # The open reader still sees the complete old set...
    assert reader.execute("SELECT DISTINCT v FROM marts.m1").fetchall() == [(1,)]
    assert reader.execute("SELECT v FROM marts.m2").fetchall() == [(1,)]
    reader.close()
    # ...and a new reader sees the complete new one, in DuckDB and in Parquet.
    with duckdb.connect(str(out / "opskpi.duckdb"), read_only=True) as con:
        assert con.execute("SELECT DISTINCT v FROM marts.m1").fetchall() == [(2,)]
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_tables()").fetchall()}
        assert schemas == {"marts"}, "only marts are published, never raw or meta"
        assert con.execute(f"SELECT DISTINCT v FROM read_parquet('{out}/parquet/m1.parquet')").fetchall() == [(2,)]
    assert not list(out.glob(".*.tmp")), "no temporary file is left behind"


def test_published_file_is_readable_by_older_duckdb_storage(tmp_path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    build_marts(warehouse, 1)
    publish(warehouse, tmp_path / "published", "run-1")
    with duckdb.connect(str(tmp_path / "published" / "opskpi.duckdb"), read_only=True) as con:
        tags = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = 'opskpi'").fetchone()[0]
    # v1.0.0 storage is readable by every DuckDB from 1.0 on, which is what BI drivers embed.
    assert tags.get("storage_version", "").startswith("v1.0.0"), tags


def test_dbt_docs_are_published_with_the_marts_of_the_same_build(tmp_path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    out = tmp_path / "published"
    page = tmp_path / "static_index.html"
    build_marts(warehouse, 1)
    page.write_text("<html>docs of build 1</html>")
    first = publish(warehouse, out, "run-1", page)
    assert first["docs"] is True
    assert (out / "docs" / "index.html").read_text() == "<html>docs of build 1</html>"

    build_marts(warehouse, 2)  # docs generation failed for this build: no page
    second = publish(warehouse, out, "run-<2>", None)
    assert second["docs"] is False
    text = (out / "docs" / "index.html").read_text()
    assert "docs of build 1" not in text, "an older build's docs must not pass for this one's"
    assert "not generated for run run-&lt;2&gt;" in text
    assert (out / "docs").resolve().parent == (out / "parquet").resolve().parent, "docs switch with the marts"
