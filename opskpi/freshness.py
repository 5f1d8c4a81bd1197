"""`dbt source freshness` after each load: how old the newest row of every raw table of an enabled source is,
against the warn / error thresholds declared on the dbt sources (`models/staging/*/_*__sources.yml`).

Reported, not enforced: `_loaded_at` moves only when the loader writes a row, so a source where nothing
changed for a day is quiet, not broken; neither `warn` nor `error` fails the run. The report's data-health
section shows the worst status per source. Only dbt failing to produce its results file fails the step.

Results are kept in `meta.source_freshness` (one row per raw table and run date; a rerun of the date replaces
its rows) and reach the published marts as `marts.pipeline_source_freshness_daily` (dbt), where the report reads them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FRESHNESS_DDL = """CREATE TABLE IF NOT EXISTS meta.source_freshness (
    run_date DATE, run_id VARCHAR, source VARCHAR, source_table VARCHAR, status VARCHAR,
    max_loaded_at TIMESTAMPTZ, snapshotted_at TIMESTAMPTZ, age_s DOUBLE, warn_after_s DOUBLE,
    error_after_s DOUBLE)"""
COLUMNS = ("source", "source_table", "status", "max_loaded_at", "snapshotted_at", "age_s", "warn_after_s",
           "error_after_s")
PERIOD_S = {"minute": 60, "hour": 3600, "day": 86400}
# worst first: what a source's several tables roll up to
SEVERITY = ("runtime error", "error", "warn", "pass")


def _seconds(threshold: dict[str, Any] | None) -> float | None:
    if not threshold or threshold.get("count") is None or threshold.get("period") not in PERIOD_S:
        return None
    return float(threshold["count"]) * PERIOD_S[threshold["period"]]


def parse_results(path: Path) -> list[dict[str, Any]]:
    """dbt's sources.json → one row per source table (a runtime error has no timestamps)."""
    rows = []
    for result in json.loads(path.read_text()).get("results", []):
        _, _project, source, table = result["unique_id"].split(".", 3)
        criteria = result.get("criteria") or {}
        rows.append({
            "source": source, "source_table": table, "status": result.get("status", "runtime error"),
            "max_loaded_at": result.get("max_loaded_at"), "snapshotted_at": result.get("snapshotted_at"),
            "age_s": result.get("max_loaded_at_time_ago_in_s"),
            "warn_after_s": _seconds(criteria.get("warn_after")),
            "error_after_s": _seconds(criteria.get("error_after")),
        })
    return rows


def record(con, run_date, run_id: str, rows: list[dict[str, Any]]) -> None:
    """Replace the date's rows in meta.source_freshness, in one transaction."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(FRESHNESS_DDL)
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM meta.source_freshness WHERE run_date = ?", [run_date])
    con.executemany(f"INSERT INTO meta.source_freshness (run_date, run_id, {', '.join(COLUMNS)}) "
                    f"VALUES (?, ?, {', '.join('?' for _ in COLUMNS)})",
                    [[run_date, run_id, *(r[c] for c in COLUMNS)] for r in rows])
    con.execute("COMMIT")


def worst(statuses: list[str]) -> str | None:
    known = [s for s in statuses if s in SEVERITY]
    return min(known, key=SEVERITY.index) if known else None
