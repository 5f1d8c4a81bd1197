"""A 30-day backfill, one day after another, ends with the same marts as one run covering those days.

This is what `airflow backfill create` does to the warehouse: one daily run per day in order, each
incremental from the previous day's watermarks and dbt state. The runs are driven through the
pipeline's step functions (each Airflow task calls exactly one of them) in a child process, so the
test costs dbt's time per day rather than Airflow's task start-up; the Airflow mechanics themselves
are covered by test_real_scheduler.py.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
import yaml

from emulator.server import start_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TOKENS = {"OPSKPI_JIRA_TOKEN": "jira-demo-token", "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
          "OPSKPI_GITHUB_TOKEN": "gh-demo-token"}
LAST_DAY = "2026-11-19"
DAYS = 30
# Both sides read the emulator's whole history on their first run. (A shorter history would not
# compare like with like: each later backfill day re-reads its lookback, which reaches further back.)
HISTORY_DAYS = 400

DRIVER = textwrap.dedent("""
    import sys
    from datetime import date, timedelta
    from opskpi import pipeline
    from opskpi.config import load_config

    config = load_config(sys.argv[1])
    last, days = date.fromisoformat(sys.argv[2]), int(sys.argv[3])
    for offset in range(days - 1, -1, -1):
        day = last - timedelta(days=offset)
        ctx = pipeline.RunContext.for_date(config, day, run_id=f"run-{day}")
        for source in config.enabled_sources():
            for partition in pipeline.partitions(config, source):
                pipeline.extract(config, source, ctx, partition=partition)
            pipeline.validate(config, source, ctx)
        pipeline.load(config, ctx)
        # dbt's tests run once, on the last day: the models are what the comparison is about.
        pipeline.transform(config, ctx, tests=offset == 0)
        if offset == 0:
            pipeline.publish(config, ctx)
""")


def write_config(path: Path, base_url: str, history_days: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    config = {
        "data_dir": str(path / "data"),
        "history_days": history_days,
        # PagerDuty feeds the incrementally built marts (availability, incident response, fct_incidents);
        # the other sources' marts are rebuilt whole each run, so they would only add time here.
        "sources": {"pagerduty": {"base_url": f"{base_url}/pagerduty"}},
    }
    (path / "config.yml").write_text(yaml.safe_dump(config))
    return path / "config.yml"


def drive(config: Path, last_day: str, days: int) -> None:
    completed = subprocess.run([sys.executable, "-c", DRIVER, str(config), last_day, str(days)],
                               env={**os.environ, **TOKENS}, capture_output=True, text=True, timeout=1200)
    assert completed.returncode == 0, completed.stderr[-4000:]


def table_digests(published: Path) -> dict[str, str]:
    """Order-independent content hash of every published mart except the snapshot history."""
    digests = {}
    with duckdb.connect(str(published), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1").fetchall()]
        for table in tables:
            if table in ("kpi_daily_snapshot", "mart_security_coverage") or table.startswith("pipeline_"):
                continue  # what each night saw, and run bookkeeping: per-run history, differs by design
            rows = [tuple(round(v, 9) if isinstance(v, float) else v for v in row)  # summation-order noise
                    for row in con.execute(f'SELECT * FROM marts."{table}"').fetchall()]
            digests[table] = hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()
    return digests


def test_thirty_daily_runs_equal_one_run_covering_them(tmp_path: Path):
    with start_emulator(seed=21) as emulator:
        backfill = write_config(tmp_path / "backfill", emulator.base_url, HISTORY_DAYS)
        single = write_config(tmp_path / "single", emulator.base_url, HISTORY_DAYS)
        drive(backfill, LAST_DAY, DAYS)
        drive(single, LAST_DAY, 1)
    backfilled = table_digests(tmp_path / "backfill" / "data" / "published" / "opskpi.duckdb")
    once = table_digests(tmp_path / "single" / "data" / "published" / "opskpi.duckdb")
    assert "mart_availability_daily" in once
    differing = sorted(t for t in set(backfilled) | set(once) if backfilled.get(t) != once.get(t))
    assert not differing, f"marts differ after the backfill: {differing}"
