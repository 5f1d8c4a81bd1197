"""`dbt source freshness` before each build: how old the newest row of every raw table of an enabled source is,
against the warn / error thresholds declared on the dbt sources (`models/staging/*/_*__sources.yml`).

Reported, not enforced: `_loaded_at` moves only when the loader writes a row, so a source where nothing
changed for a day is quiet, not broken; neither `warn` nor `error` fails the run. The report's data-health
section shows the worst status per source. Only dbt failing to produce its results file fails the step.

Results are kept in `meta.source_freshness` (one row per raw table and run date; a rerun of the date replaces
its rows), written by dbt_project/macros/source_freshness.sql in the build's own dbt process
(opskpi/dbt_session.py), and reach the published marts as `marts.pipeline_source_freshness_daily` (dbt), where the
report reads them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def worst(statuses: list[str]) -> str | None:
    known = [s for s in statuses if s in SEVERITY]
    return min(known, key=SEVERITY.index) if known else None
