"""The daily DAG under a real scheduler, triggered through the REST API.

Covers what `dag.test()` cannot: mapped extract tasks in separate processes under pools, the
single-writer pool across processes, failure notifications from the dag processor and the
deadline alert from the triggerer, both delivered to a local webhook sink.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest
import yaml

from emulator.server import start_emulator
from tests.e2e.airflow_stack import AirflowStack
from tests.scripted_server import ScriptedServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TOKENS = {"OPSKPI_JIRA_TOKEN": "jira-demo-token", "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
          "OPSKPI_GITHUB_TOKEN": "gh-demo-token"}


def test_daily_dag_runs_under_a_real_scheduler_and_notifies(tmp_path: Path):
    messages: list[str] = []

    def sink(method, path, body, headers):
        messages.append(body.get("text", "") if isinstance(body, dict) else "")
        return 200, {}, {"ok": True}

    with start_emulator(seed=3) as emulator, ScriptedServer(sink) as webhook:
        config = tmp_path / "config.yml"
        config.write_text(yaml.safe_dump({
            "data_dir": str(tmp_path / "data"),
            "history_days": 60,
            "sources": {
                "jira": {"base_url": emulator.jira_url, "email": "demo@example.com", "projects": ["OPS", "WEB"]},
                "pagerduty": {"base_url": emulator.pagerduty_url},
                "github": {"base_url": emulator.github_url, "repos": ["acme/api", "acme/web"]},
            },
        }))
        stack = AirflowStack(tmp_path / "airflow", {
            **TOKENS,
            "OPSKPI_CONFIG": str(config),
            "AIRFLOW_CONN_OPSKPI_WEBHOOK": json.dumps({"conn_type": "http", "extra": {"url": webhook.base_url}}),
            "OPSKPI_DEADLINE_MINUTES": "0.05",  # 3 s: every run is "late", so the alert must fire
            "OPSKPI_SCHEDULE": "none",  # only the runs this test triggers
        })
        try:
            started = time.monotonic()
            stack.start()
            stack.wait_for_dag("ops_kpi_daily")
            healthy = time.monotonic() - started
            run_id = stack.trigger("ops_kpi_daily", {"config": str(config), "run_date": "2026-11-19"})
            triggered = time.monotonic()
            state = stack.wait_for_run("ops_kpi_daily", run_id)
            took = time.monotonic() - triggered
            tasks = stack.task_states("ops_kpi_daily", run_id)
            assert state == "success", f"{tasks}\n{stack.failed_task_logs('ops_kpi_daily', run_id)}"
            print(f"\nreal scheduler: healthy+parsed after {healthy:.1f}s, run took {took:.1f}s")
            assert tasks["github.extract[0]"] == tasks["github.extract[1]"] == "success", tasks
            with duckdb.connect(str(tmp_path / "data" / "published" / "opskpi.duckdb"), read_only=True) as con:
                services, days = con.execute(
                    "SELECT count(DISTINCT service_id), count(DISTINCT day) FROM marts.mart_availability_daily"
                ).fetchone()
            assert services == 6 and days > 0

            # A run that fails (its config does not exist) is reported through the webhook connection.
            failed_id = stack.trigger("ops_kpi_daily", {"config": str(tmp_path / "missing.yml"),
                                                        "run_date": "2026-11-19"})
            assert stack.wait_for_run("ops_kpi_daily", failed_id) == "failed"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(failed_id in m for m in messages):
                time.sleep(1)
            assert any(failed_id in m and "failed" in m for m in messages), (messages, stack.logs())
            while time.monotonic() < deadline and not any("late" in m for m in messages):
                time.sleep(1)
            assert any("late" in m for m in messages), (messages, stack.logs())
        finally:
            stack.stop()
