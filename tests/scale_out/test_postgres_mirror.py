"""The nightly copy of raw and meta to Postgres copies the tables that changed, and only those (issue 23, item 3).

Against a real PostgreSQL: a first mirror copies every table; the same warehouse again copies none; a load that
changes one raw table and one meta table copies those two; a table emptied by hand in Postgres, or one whose
DuckDB columns grew, is copied again; after each mirror every Postgres table holds the DuckDB table's rows.
"""

from __future__ import annotations

import duckdb
import pytest

from opskpi.postgres_warehouse import PostgresTarget, connect, mirror
from tests.scale_out.postgres_server import pg_bin, postgres_server

pytestmark = [
    pytest.mark.scale_out,
    pytest.mark.skipif(pg_bin() is None, reason="no PostgreSQL server installed (/usr/lib/postgresql/*/bin)"),
]

TABLES = {"raw.issues", "raw.pulls", "meta.watermarks"}


def _rows(cur, name: str) -> list[tuple]:
    cur.execute(f"SELECT * FROM {name} ORDER BY 1, 2")
    return [tuple(str(v) for v in row) for row in cur.fetchall()]


def _same(duck, target: PostgresTarget) -> None:
    with connect(target) as pg, pg.cursor() as cur:
        for name in TABLES:
            expected = [tuple(str(v) for v in row) for row in duck.execute(f"SELECT * FROM {name} ORDER BY 1, 2")
                        .fetchall()]
            assert _rows(cur, name) == expected, name


def test_only_changed_tables_are_copied(tmp_path):
    duck = duckdb.connect(str(tmp_path / "w.duckdb"))
    duck.execute("SET TimeZone = 'UTC'")
    duck.execute("CREATE SCHEMA raw; CREATE SCHEMA meta")
    duck.execute("CREATE TABLE raw.issues (id VARCHAR, title VARCHAR, _loaded_at TIMESTAMPTZ)")
    duck.execute("CREATE TABLE raw.pulls (id VARCHAR, title VARCHAR, _loaded_at TIMESTAMPTZ)")
    duck.execute("CREATE TABLE meta.watermarks (stream VARCHAR, cursor_value VARCHAR)")
    duck.execute("INSERT INTO raw.issues VALUES ('1', 'a', '2026-11-01'), ('2', NULL, '2026-11-01')")
    duck.execute("INSERT INTO raw.pulls VALUES ('7', '', '2026-11-01')")
    duck.execute("INSERT INTO meta.watermarks VALUES ('issues', '2026-11-01'), ('pulls', '2026-11-01')")
    with postgres_server(databases=("opskpi",)) as server:
        target = PostgresTarget(host=str(server["host"]), port=int(server["port"]), user="postgres", dbname="opskpi")
        assert set(mirror(duck, target)) == TABLES
        _same(duck, target)
        assert mirror(duck, target) == {}, "nothing changed, nothing copied"

        # a night that loaded issues: the raw table and the watermark move
        duck.execute("INSERT INTO raw.issues VALUES ('3', 'c', '2026-11-02')")
        duck.execute("UPDATE meta.watermarks SET cursor_value = '2026-11-02' WHERE stream = 'issues'")
        assert mirror(duck, target) == {"raw.issues": 3, "meta.watermarks": 2}
        _same(duck, target)

        # emptied by hand in Postgres: its fingerprint still matches, its row count does not
        with connect(target) as pg, pg.cursor() as cur:
            cur.execute("TRUNCATE raw.pulls")
            pg.commit()
        assert mirror(duck, target) == {"raw.pulls": 1}

        # a column the loader added (filled for the rows already there): copied again with it
        duck.execute("ALTER TABLE raw.pulls ADD COLUMN node_id VARCHAR")
        duck.execute("UPDATE raw.pulls SET node_id = 'PR_7'")
        assert mirror(duck, target) == {"raw.pulls": 1}
        _same(duck, target)
        assert mirror(duck, target) == {}
    duck.close()
