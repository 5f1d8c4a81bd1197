"""The daily DAG under a real scheduler: triggered through the REST API, and backfilled with the CLI.

Covers what `dag.test()` cannot: mapped extract tasks in separate processes under pools, the
single-writer pool across processes, failure notifications from the dag processor and the
deadline alert from the triggerer, both delivered to a local webhook sink, and `airflow backfill
create` over a few days giving the same marts as one run covering those days.

One Airflow deployment serves the whole module: starting one costs ~15 s, and an idle one still
takes CPU from the tests that come after it, so it lives exactly as long as this module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from emulator.server import start_emulator
from tests.e2e.airflow_stack import AirflowStack
from tests.e2e.published import table_digests
from tests.scripted_server import ScriptedServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "ops_kpi_daily"
TOKENS = {"OPSKPI_JIRA_TOKEN": "jira-demo-token", "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
          "OPSKPI_GITHUB_TOKEN": "gh-demo-token"}
LAST_DAY = date(2026, 11, 19)
# Two days prove what thirty did, at a fifteenth of the cost (each day is a whole run, ~30 s): the first backfill
# run reads the whole history, the second is incremental (it merges its day into the marts built the day before,
# what could drift from one run's build); the pair shows the runs in date order one at a time; each day shows its
# own snapshot rows and its skipped sources. An incremental build on top of an incremental one is what every
# later night is, and tests/integration/test_dbt_incremental_equals_full.py compares that with a full refresh.
DAYS = 2
# Both sides read the emulator's whole history on their first run. (A shorter history would not
# compare like with like: each later backfill day re-reads its lookback, which reaches further back.)
HISTORY_DAYS = 400


@dataclass
class Deployment:
    stack: AirflowStack
    messages: list[str]  # texts posted to the `opskpi_webhook` connection, in arrival order


@pytest.fixture(scope="module")
def airflow(tmp_path_factory) -> Iterator[Deployment]:
    messages: list[str] = []

    def sink(method, path, body, headers):
        messages.append(body.get("text", "") if isinstance(body, dict) else "")
        return 200, {}, {"ok": True}

    home = tmp_path_factory.mktemp("airflow")
    with ScriptedServer(sink) as webhook:
        stack = AirflowStack(home, {
            **TOKENS,
            # Every test names its config in the run conf; a run that does not fails instead of using the demo's.
            "OPSKPI_CONFIG": str(home / "no-such-config.yml"),
            "AIRFLOW_CONN_OPSKPI_WEBHOOK": json.dumps({"conn_type": "http", "extra": {"url": webhook.base_url}}),
            "OPSKPI_DEADLINE_MINUTES": "0.05",  # 3 s: every run is "late", so the alert must fire
        })
        try:
            started = time.monotonic()
            stack.start()
            stack.wait_for_dag(DAG_ID)
            print(f"\nreal scheduler: healthy+parsed after {time.monotonic() - started:.1f}s")
            yield Deployment(stack, messages)
        finally:
            stack.stop()


def write_config(path: Path, emulator, history_days: int) -> Path:
    """All three sources configured, as in production (a run can restrict itself with `sources`)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yml").write_text(yaml.safe_dump({
        "data_dir": str(path / "data"),
        "history_days": history_days,
        "sources": {
            "jira": {"base_url": emulator.jira_url, "email": "demo@example.com", "projects": ["OPS", "WEB"]},
            "pagerduty": {"base_url": emulator.pagerduty_url},
            "github": {"base_url": emulator.github_url, "repos": ["acme/api", "acme/web"]},
        },
    }))
    return path / "config.yml"


def test_daily_dag_runs_under_a_real_scheduler_and_notifies(airflow: Deployment, tmp_path: Path):
    stack, messages = airflow.stack, airflow.messages
    with start_emulator(seed=3, profile="stress") as emulator:
        # two weeks: what is checked here is the scheduler, the tasks and the notifications, not the data volume
        config = write_config(tmp_path, emulator, history_days=14)
        seen = len(messages)  # what earlier tests of the module caused is not this test's evidence
        run_id = stack.trigger(DAG_ID, {"config": str(config), "run_date": "2026-11-19"})
        triggered = time.monotonic()
        state = stack.wait_for_run(DAG_ID, run_id)
        took = time.monotonic() - triggered
        tasks = stack.task_states(DAG_ID, run_id)
        assert state == "success", f"{tasks}\n{stack.failed_task_logs(DAG_ID, run_id)}"
        print(f"\nreal scheduler: run took {took:.1f}s")
        assert tasks["github.extract[0]"] == tasks["github.extract[1]"] == "success", tasks
        with duckdb.connect(str(tmp_path / "data" / "published" / "opskpi.duckdb"), read_only=True) as con:
            services, days = con.execute(
                "SELECT count(DISTINCT service_id), count(DISTINCT day) FROM marts.mart_availability_daily"
            ).fetchone()
        assert services == 6 and days > 0

        # A run that fails (its config does not exist) is reported through the webhook connection.
        failed_id = stack.trigger(DAG_ID, {"config": str(tmp_path / "missing.yml"), "run_date": "2026-11-19"})
        assert stack.wait_for_run(DAG_ID, failed_id) == "failed"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(failed_id in m for m in messages[seen:]):
            time.sleep(1)
        assert any(failed_id in m and "failed" in m for m in messages[seen:]), (messages[seen:], stack.logs())
        while time.monotonic() < deadline and not any("late" in m for m in messages[seen:]):
            time.sleep(1)
        assert any("late" in m for m in messages[seen:]), (messages[seen:], stack.logs())


def test_catchup_is_off_and_runs_are_one_at_a_time_by_default(airflow: Deployment):
    """As the scheduler sees the DAG: unpausing it never queues the days since start_date."""
    details = airflow.stack.api("GET", f"/dags/{DAG_ID}/details").json()
    assert details["catchup"] is False, details
    assert details["max_active_runs"] == 1, details
    assert details["timetable_summary"] == "0 0 * * *", details  # the nightly default: what a backfill walks


def test_backfill_create_over_days_equals_one_run_covering_them(airflow: Deployment, tmp_path: Path):
    """`airflow backfill create --max-active-runs 1` over DAYS days, then the marts of one run for the last day.

    The runs are restricted to PagerDuty through the `sources` param: it feeds the incrementally built
    marts (availability, incident response, fct_incidents), where a day-by-day build could drift from a
    whole one; the other sources' marts are rebuilt whole each run, so they would only add CI time.
    Each backfill run covers its own day (its data interval); the single run reads the same history at once.
    """
    stack = airflow.stack
    first_day = LAST_DAY - timedelta(days=DAYS - 1)
    with start_emulator(seed=21, profile="stress") as emulator:
        backfill_config = write_config(tmp_path / "backfill", emulator, HISTORY_DAYS)
        single_config = write_config(tmp_path / "single", emulator, HISTORY_DAYS)
        started = time.monotonic()
        created = stack.backfill_create(
            "--dag-id", DAG_ID, "--from-date", first_day.isoformat(), "--to-date", LAST_DAY.isoformat(),
            "--max-active-runs", "1",
            "--dag-run-conf", json.dumps({"config": str(backfill_config), "sources": ["pagerduty"]}))
        assert created.returncode == 0, f"{created.stdout[-2000:]}\n{created.stderr[-4000:]}"
        # The single run goes beside the backfill (its own data directory; the writer pool is shared).
        single_id = stack.trigger(DAG_ID, {"config": str(single_config), "run_date": LAST_DAY.isoformat(),
                                           "sources": ["pagerduty"]})
        single_state = stack.wait_for_run(DAG_ID, single_id, timeout_s=900)
        assert single_state == "success", (f"{stack.task_states(DAG_ID, single_id)}\n"
                                           + stack.failed_task_logs(DAG_ID, single_id))
        runs = stack.wait_for_backfill(DAG_ID, expected=DAYS)
        took = time.monotonic() - started
    run_of_day = {date.fromisoformat(r["logical_date"][:10]): r for r in runs}
    assert sorted(run_of_day) == [first_day + timedelta(days=i) for i in range(DAYS)]
    # One after another in date order: what makes the last publish the last day's.
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier["logical_date"] < later["logical_date"] and earlier["end_date"] <= later["start_date"], (
            earlier, later)
    tasks = stack.task_states(DAG_ID, runs[0]["dag_run_id"])
    assert tasks["jira.partitions"] == tasks["github.partitions"] == "skipped", tasks  # `sources` reached the runs
    assert tasks["pagerduty.validate"] == tasks["publish"] == "success", tasks
    durations = sorted(r["duration"] for r in runs)
    print(f"\nbackfill: {DAYS} runs + the single run in {took:.1f}s; per run median {durations[DAYS // 2]:.1f}s,"
          f" max {durations[-1]:.1f}s")

    backfilled_db = tmp_path / "backfill" / "data" / "published" / "opskpi.duckdb"
    with duckdb.connect(str(backfilled_db), read_only=True) as con:
        built_by = dict(con.execute(
            "SELECT DISTINCT snapshot_date, run_id FROM marts.kpi_daily_snapshot WHERE snapshot_date BETWEEN ? AND ?",
            [first_day, LAST_DAY]).fetchall())
    # Each day's snapshot rows were computed by that day's backfill run: every run covered its own day.
    assert built_by == {day: run["dag_run_id"] for day, run in run_of_day.items()}
    backfilled = table_digests(backfilled_db)
    once = table_digests(tmp_path / "single" / "data" / "published" / "opskpi.duckdb")
    assert "mart_availability_daily" in once
    differing = sorted(t for t in set(backfilled) | set(once) if backfilled.get(t) != once.get(t))
    assert not differing, f"marts differ after the backfill: {differing}"
