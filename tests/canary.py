"""Canary check after every test (a pytest plugin): nothing a test wrote under its `tmp_path` holds a token
(any `*_TOKEN` variable) or the object store's secret key.

A test that runs the pipeline writes its data directory under its own `tmp_path` (landing files, quarantine,
the warehouse, published files, the run's JSON log, dbt's and Airflow's logs). Right after the test body, while
its token variables are still set, every file there is searched for the first 6 characters of every token the
test could have used (so a token cut anywhere after its 6th character is found too), and for the same prefix of
the token's base64 forms (an echoed Basic header): the raw bytes of every file, the values of every Parquet
file (its pages are compressed) and every row of every DuckDB table. Per test and per directory, so it is safe
under pytest-xdist and independent of test order.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from emulator.auth import DEMO_GITHUB_TOKEN, DEMO_JIRA_TOKEN, DEMO_PAGERDUTY_TOKEN
from extractors.landing_store import SECRET_ENV
from extractors.redaction import MIN_PREFIX, base64_forms

# Tokens tests use without exporting them in this process (a subprocess's environment, an emulator default).
KNOWN_TOKENS = (DEMO_JIRA_TOKEN, DEMO_PAGERDUTY_TOKEN, DEMO_GITHUB_TOKEN,
                "cnry-JIRA-5e1f0c9a42", "cnry-PD-77b2d4e913", "cnry-GH-c0ffee11d7")


# 8 base64 characters carry 6 bytes: the same 6 characters of the token as the plain prefix.
B64_PREFIX = 8


def canaries(tokens: set[str]) -> set[str]:
    """The first MIN_PREFIX characters of each token, and the base64 characters that encode them."""
    out = set()
    for token in tokens:
        if len(token) < MIN_PREFIX:
            continue
        out.add(token[:MIN_PREFIX])
        out |= {form[:B64_PREFIX] for form in base64_forms(token) if len(form) >= B64_PREFIX}
    return out


def _duckdb_hits(path: Path, needles: set[str]) -> list[str]:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:  # not a database we can open (a partial copy): its bytes were searched
        return []
    hits = []
    with con:
        for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
            found = con.execute(  # each row as text once, against every needle
                f'SELECT n, count(*) FROM (SELECT CAST(r AS VARCHAR) AS s FROM "{schema}"."{table}" AS r), '
                "unnest(?::VARCHAR[]) AS u(n) WHERE contains(s, n) GROUP BY n", [sorted(needles)]).fetchall()
            hits += [f"{needle!r} in {path.name}:{schema}.{table} ({count} rows)" for needle, count in found]
    return hits


def _parquet_hits(path: Path, needles: set[str]) -> list[str]:
    """Every text value of a Parquet file (its pages are compressed, so its bytes can hide a token)."""
    try:
        table = pq.read_table(path)
    except Exception:  # noqa: BLE001 - a cut part file; its bytes were searched
        return []
    pattern = "|".join(re.escape(n) for n in sorted(needles))  # one pass per column for all needles
    hits = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) and pc.any(
                pc.match_substring_regex(column, pattern)).as_py():
            text = "\n".join(v for v in column.to_pylist() if v)
            hits += [f"{needle!r} in {path.name}:{name}" for needle in needles if needle in text]
    return hits


def leaks_under(root: Path, tokens: set[str]) -> list[str]:
    needles = canaries(tokens)
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        hits += [f"{n!r} in {path.relative_to(root)}" for n in needles if n.encode() in data]
        if path.suffix == ".parquet":
            hits += [f"{hit} (values)" for hit in _parquet_hits(path, needles)]
        elif path.suffix == ".duckdb":
            hits += _duckdb_hits(path, needles)
    return hits


def _tokens_now() -> set[str]:
    return {v for k, v in os.environ.items() if (k.endswith("_TOKEN") or k in SECRET_ENV) and v} | set(KNOWN_TOKENS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    tokens = _tokens_now()
    result = yield  # a test that failed is reported as it is, without the scan
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if tmp_path is not None:
        tokens |= _tokens_now()  # those the test exported (monkeypatch is undone only at teardown)
        hits = leaks_under(Path(tmp_path), tokens)
        if hits:
            raise AssertionError(f"a token (or its first {MIN_PREFIX} characters) was written under {tmp_path}: "
                                 + "; ".join(hits[:10]))
    return result
