"""What `opskpi run` prints when its output is not a terminal (a pipe, as in CI or `make demo > file`).

Read from the shared runs of org_runs.py (their output was a pipe): plain text without escape codes, at most 60
lines, one summary naming the tasks, the requests per source (equal to the landing manifests' counts in the
warehouse), the headline KPIs (equal to the published snapshot of the day) and the paths of the report, the marts
and the logs; Airflow's task logs are in the file it names, not on the console.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from opskpi.console import HEADLINE, fmt_value
from tests.e2e.org_runs import DAY1, DAY2, OrgRuns

pytestmark = pytest.mark.e2e
ESCAPE = re.compile(r"\x1b|\x9b")  # ESC (CSI, OSC, …) and the 8-bit CSI


def snapshot(published: Path, day: date) -> dict[tuple[str, str], float | None]:
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute('SELECT kpi, "window", value FROM marts.kpi_daily_snapshot '
                           "WHERE snapshot_date = ? AND scope_type = 'org'", [day]).fetchall()
    return {(kpi, window): value for kpi, window, value in rows}


@pytest.mark.parametrize("day", [DAY1, DAY2], ids=str)
def test_run_output_on_a_pipe_is_a_short_plain_summary(org_runs: OrgRuns, day: date):
    output = org_runs.output[day]
    lines = output.splitlines()
    assert not ESCAPE.search(output), [line for line in lines if ESCAPE.search(line)][:3]
    assert len(lines) <= 60, output
    run_id = re.search(r"^run (\S+): success in \d+ s$", output, re.MULTILINE).group(1)

    assert re.search(r"\bdbt_build success \d+s", output) and re.search(r"\bgithub\.extract x4 success", output)
    data_dir = org_runs.data_dir(DAY2)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        requests = dict(con.execute("SELECT source, sum(requests) FROM meta.batches WHERE run_id = ? GROUP BY 1",
                                    [run_id]).fetchall())
    assert set(requests) == {"jira", "pagerduty", "github"}
    for source, count in requests.items():  # printed once per source, as the landing manifests count them
        assert len(re.findall(rf"^  {source} +{count:,} requests ", output, re.MULTILINE)) == 1, (source, output)

    values = snapshot(org_runs.data_dir(day) / "published" / "opskpi.duckdb", day)
    assert values[("availability", "30d")] is not None
    for group in HEADLINE:
        for label, kpi, window, unit in group:
            assert f"{label} {fmt_value(values[(kpi, window)], unit)}" in output, (label, output)

    published = data_dir / "published"
    for path in (published / "report" / "latest" / "index.html", published / "opskpi.duckdb",
                 data_dir / "logs" / "runs"):
        assert str(path) in output, (path, output)
    task_log = Path(re.search(r"^  task logs  (\S+)$", output, re.MULTILINE).group(1))
    assert task_log.parent == data_dir / "logs" / "airflow"
    assert "[DAG TEST] starting task_id=dbt_build" in task_log.read_text(errors="replace")
    assert "[DAG TEST]" not in output


def test_asset_events_carry_each_runs_metadata(org_runs: OrgRuns):
    """What the Airflow UI's asset view shows for each run: the raw assets with the run date, the batches merged and
    the rows landed and changed per source (equal to the warehouse's own count), and the published marts with their
    table and row counts (equal to the published file's)."""
    import json
    import sqlite3

    data_dir = org_runs.data_dir(DAY2)
    with sqlite3.connect(data_dir / "airflow" / "airflow.db") as db:
        events = db.execute("SELECT a.name, e.extra, e.source_run_id FROM asset_event e JOIN asset a ON a.id = "
                            "e.asset_id ORDER BY e.timestamp").fetchall()
    by_run: dict[str, dict[str, dict]] = {}
    for name, extra, run in events:
        by_run.setdefault(run, {})[name] = json.loads(extra)
    assert len(by_run) == 2, by_run.keys()
    day2 = [extras for extras in by_run.values() if next(iter(extras.values()))["run_date"] == DAY2.isoformat()]
    assert len(day2) == 1, by_run
    extras = day2[0]
    assert set(extras) == {"opskpi.raw.github", "opskpi.raw.jira", "opskpi.raw.pagerduty", "opskpi.published.marts"}
    assert all(extra["run_date"] == DAY2.isoformat() for extra in extras.values())

    run_id = re.search(r"^run (\S+): success in \d+ s$", org_runs.output[DAY2], re.MULTILINE).group(1)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        merged = {source: counts for source, *counts in con.execute(
            "SELECT source, count(*), sum(rows_landed), sum(rows_changed) FROM meta.batches "
            "WHERE run_id = ? AND status = 'loaded' GROUP BY 1", [run_id]).fetchall()}
    assert set(merged) == {"github", "jira", "pagerduty"}
    for source, counts in merged.items():
        extra = extras[f"opskpi.raw.{source}"]
        assert [extra["batches"], extra["rows_landed"], extra["rows_changed"]] == counts, (source, extra)
    assert sum(counts[2] for counts in merged.values()) > 0  # the clock moved a day: there is news

    with duckdb.connect(str(data_dir / "published" / "opskpi.duckdb"), read_only=True) as con:
        tables = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name = 'marts'"
                             ).fetchall()
        rows = sum(con.execute(f'SELECT count(*) FROM marts."{name}"').fetchone()[0] for name, _ in tables)
    assert extras["opskpi.published.marts"] == {"run_date": DAY2.isoformat(), "tables": len(tables), "rows": rows}
