"""The canary check itself (tests/canary.py) finds a token's prefix in every kind of file a run writes."""

from __future__ import annotations

import base64

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.canary import leaks_under

TOKEN = "zzcanary-TEST-9d8c7b6a5f"


@pytest.fixture
def root(tmp_path_factory):
    """Not this test's tmp_path: the plugin would (rightly) fail the test for the tokens written on purpose."""
    return tmp_path_factory.mktemp("canary")


def test_a_cut_token_is_found_in_a_log_line(root):
    (root / "logs").mkdir()
    (root / "logs" / "run.jsonl").write_text('{"message": "answered HTTP 400: ... zzcana"}\n')
    assert leaks_under(root, {TOKEN}) == ["'zzcana' in logs/run.jsonl"]


def test_an_echoed_basic_header_is_found(root):
    (root / "x.json").write_text(base64.b64encode(f"me@example.com:{TOKEN}".encode()).decode())
    assert leaks_under(root, {TOKEN})


def test_parquet_values_and_duckdb_rows_are_searched(root):
    pq.write_table(pa.table({"v": [f"prefix {TOKEN[:9]} " * 50]}), root / "part.parquet", compression="zstd")
    with duckdb.connect(str(root / "w.duckdb")) as con:
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.t (record JSON)")
        con.execute("INSERT INTO raw.t VALUES (?)", [f'{{"echo": "{TOKEN}"}}'])
    hits = leaks_under(root, {TOKEN})
    assert any("part.parquet:v (values)" in h for h in hits)
    assert any("w.duckdb:raw.t (1 rows)" in h for h in hits)


def test_clean_files_pass(root):
    (root / "ok.txt").write_text("Authorization: *** (redacted), token_env: CANARY_GH_TOKEN, cnry")
    assert leaks_under(root, {TOKEN}) == []
