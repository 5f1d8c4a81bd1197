"""The daily DAG under a real scheduler: triggered through the REST API, and backfilled with the CLI.

Covers what `dag.test()` cannot: mapped extract tasks in separate processes under pools, the
single-writer pool across processes, failure notifications from the dag processor and the
deadline alert from the triggerer, both delivered to a local webhook sink, and `airflow backfill
create` over a week followed by a rerun of its first day, which publishes what that day published the first
time (a backfill is a replay).

One Airflow deployment serves the whole module: starting one costs ~15 s, and an idle one still
takes CPU from the tests that come after it, so it lives exactly as long as this module.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from emulator.server import start_emulator
from tests.complete_grids import first_complete_days, grid_violations, sample_complete_violations
from tests.e2e.airflow_stack import AirflowStack
from tests.e2e.published import open_published, table_digests, without_float_noise
from tests.scripted_server import ScriptedServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.long]
DAG_ID = "ops_kpi_daily"
TOKENS = {"OPSKPI_JIRA_TOKEN": "jira-demo-token", "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
          "OPSKPI_GITHUB_TOKEN": "gh-demo-token"}
LAST_DAY = date(2026, 11, 19)
# A week, as the backfill-equals-replay contract states it (issue #18): the first backfill run reads the whole
# history, the later ones are incremental (each merges its day into the marts built the day before, what could
# drift from one run's build); the runs go in date order one at a time; each day shows its own snapshot rows and
# its skipped sources; and the first day, run again after the week, publishes what it published the first time.
DAYS = 7
# A month: enough for every 7- and 30-day window of the first day's figures to hold incidents.
HISTORY_DAYS = 30


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


def write_demo_config(path: Path, emulator, history_days: int) -> Path:
    """config/demo.yml pointed at `emulator`: every source and every KPI area switched on (teams, SLOs, prices,
    security incidents, Jira incidents, DORA mappings, Jira flow teams, maturity attestations, end-to-end lead
    time), two repositories to keep the runs short."""
    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "demo.yml").read_text())
    path.mkdir(parents=True, exist_ok=True)
    raw["data_dir"] = str(path / "data")
    raw["history_days"] = history_days
    raw["transform"] = {"memory_limit": "1GB", "threads": 2, "duckdb_threads": 1}
    raw["sources"]["jira"]["base_url"] = emulator.jira_url
    raw["sources"]["pagerduty"]["base_url"] = emulator.pagerduty_url
    raw["sources"]["github"].update(base_url=emulator.github_url, repos=["acme/api", "acme/web"])
    raw.setdefault("incidents", {})["jira_issue_types"] = ["Incident"]
    raw["security_incidents"]["jira_issue_types"] = ["Incident"]
    (path / "config.yml").write_text(yaml.safe_dump(raw, sort_keys=False))
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


def published_by(data_dir: Path, run_id: str) -> Path:
    """The Parquet files of the version `run_id` published (opskpi/publish.py keeps the three newest versions and
    every one younger than ten minutes: read it right after the run)."""
    for version in sorted((data_dir / "published" / "versions").iterdir()):
        manifest = version / "manifest.json"
        if manifest.exists() and json.loads(manifest.read_text()).get("run_id") == run_id:
            return version / "parquet"
    raise AssertionError(f"no published version of {run_id}")


def day_snapshot(published: Path, day: date) -> list[tuple]:
    """kpi_daily_snapshot's rows of one day without the run's id and clock: the figures the day published."""
    with duckdb.connect(str(published), read_only=True) as con:
        return [without_float_noise(row) for row in con.execute(
            "SELECT * EXCLUDE (run_id, computed_at) FROM marts.kpi_daily_snapshot WHERE snapshot_date = ? ORDER BY ALL",
            [day]).fetchall()]


def test_backfill_over_a_week_then_a_rerun_of_its_first_day_republishes_that_day(airflow: Deployment,
                                                                                 tmp_path: Path):
    """`airflow backfill create --max-active-runs 1` over DAYS days, then the first day again (issue #18: a
    backfill is a replay). The rerun must publish exactly the marts and the snapshot figures that the backfill's
    run of that day published, although the week built the warehouse on since.

    Every source and every KPI area runs (config/demo.yml): incidents, availability and downtime cost from
    PagerDuty (incrementally built marts the rerun recomputes from a warehouse a week ahead), DORA and security
    from GitHub, Jira flow and Jira incidents, end-to-end lead time across Jira and GitHub, maturity over all of
    them, and the snapshot of each. The emulator's clock stands still, so no upstream record changes between the
    days: the replay of changed records is tested at the dbt level (tests/integration/
    test_dbt_incremental_equals_full.py); this test is the whole pipeline, DAG, publish and all.
    """
    stack = airflow.stack
    first_day = LAST_DAY - timedelta(days=DAYS - 1)
    with start_emulator(seed=21, profile="stress") as emulator:
        config = write_demo_config(tmp_path, emulator, HISTORY_DAYS)
        data_dir = tmp_path / "data"
        started = time.monotonic()
        created = stack.backfill_create(
            "--dag-id", DAG_ID, "--from-date", first_day.isoformat(), "--to-date", LAST_DAY.isoformat(),
            "--max-active-runs", "1",
            "--dag-run-conf", json.dumps({"config": str(config)}))
        assert created.returncode == 0, f"{created.stdout[-2000:]}\n{created.stderr[-4000:]}"
        # What each run published, copied as soon as it succeeded: opskpi/publish.py prunes a version once three
        # newer ones exist and it is ten minutes old, which a week of runs of every source outlasts.
        copies = tmp_path / "published_by_run"

        def keep_published(run: dict) -> None:
            shutil.copytree(published_by(data_dir, run["dag_run_id"]), copies / run["dag_run_id"])

        # a run of all sources can take over ten minutes on a loaded machine: stall only after half an hour
        runs = stack.wait_for_backfill(DAG_ID, expected=DAYS, stall_s=1800, on_success=keep_published)
        took = time.monotonic() - started
        run_of_day = {date.fromisoformat(r["logical_date"][:10]): r for r in runs}
        published = data_dir / "published" / "opskpi.duckdb"
        with duckdb.connect(str(published), read_only=True) as con:
            built_by = dict(con.execute(
                "SELECT DISTINCT snapshot_date, run_id FROM marts.kpi_daily_snapshot "
                "WHERE snapshot_date BETWEEN ? AND ?", [first_day, LAST_DAY]).fetchall())
        first_snapshot = day_snapshot(published, first_day)

        rerun_id = stack.trigger(DAG_ID, {"config": str(config), "run_date": first_day.isoformat()})
        rerun_state = stack.wait_for_run(DAG_ID, rerun_id, timeout_s=1800)
    assert rerun_state == "success", (f"{stack.task_states(DAG_ID, rerun_id)}\n"
                                      + stack.failed_task_logs(DAG_ID, rerun_id))
    assert sorted(run_of_day) == [first_day + timedelta(days=i) for i in range(DAYS)]
    # One after another in date order: what makes the last publish the last day's.
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier["logical_date"] < later["logical_date"] and earlier["end_date"] <= later["start_date"], (
            earlier, later)
    tasks = stack.task_states(DAG_ID, runs[0]["dag_run_id"])
    assert {tasks[f"{source}.validate"] for source in ("jira", "pagerduty", "github")} == {"success"}, tasks
    assert tasks["publish"] == tasks["report"] == "success", tasks
    durations = sorted(r["duration"] for r in runs)
    print(f"\nbackfill: {DAYS} runs in {took:.1f}s; per run median {durations[DAYS // 2]:.1f}s,"
          f" max {durations[-1]:.1f}s")
    # Each day's snapshot rows were computed by that day's backfill run: every run covered its own day.
    assert built_by == {day: run["dag_run_id"] for day, run in run_of_day.items()}

    # The rerun of the first day published exactly what the backfill's run of that day did.
    rerun = table_digests(published)
    first = table_digests(copies / run_of_day[first_day]["dag_run_id"])
    last = table_digests(copies / runs[-1]["dag_run_id"])
    # Not vacuous: every area's daily mart has rows on the first day, and changes from the first day to the last.
    empty = sorted(t for t in DAILY_MARTS if rows_of(first.get(t)) == 0)
    assert not empty, f"marts without rows on the first day: {empty} ({first})"
    unchanged = sorted(t for t in DAILY_MARTS if first[t] == last[t])
    assert not unchanged, f"the first and the last day publish the same {unchanged}: the check could not fail"
    differing = sorted(t for t in set(rerun) | set(first) if rerun.get(t) != first.get(t))
    assert not differing, f"the first day's rerun published other marts than its backfill run: {differing}"
    assert first_snapshot and day_snapshot(published, first_day) == first_snapshot
    areas = {kpi for _, kpi, *_ in first_snapshot}
    assert SNAPSHOT_AREA_KPIS <= areas, f"areas missing from the first day's snapshot: {SNAPSHOT_AREA_KPIS - areas}"

    # Complete grids (issue 18) in what every day published: every family read its history from the first run's
    # as_of (the end of first_day) less HISTORY_DAYS (DORA's pull requests and deployments 30 days further back,
    # dora.max_deploy_lag), so every daily mart and snapshot KPI starts on first_day - 29, no earlier.
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        first_days = first_complete_days(con, "UTC", timedelta(days=30), jira_incidents=True)
    assert set(first_days.values()) == {first_day - timedelta(days=HISTORY_DAYS - 1)}, first_days
    for day, run in sorted(run_of_day.items()):
        with open_published(copies / run["dag_run_id"]) as con:
            assert (grid_violations(con, first_days, day), sample_complete_violations(con, first_days)) == ([], []), day


# One daily mart of each KPI area: each must publish rows on the backfill's first day.
DAILY_MARTS = ("mart_incident_response_daily", "mart_availability_daily", "mart_downtime_cost_daily",
               "mart_detection_daily", "mart_security_incidents_daily", "mart_dora_daily", "mart_dora_tier",
               "mart_jira_flow_daily", "mart_security_posture_daily", "mart_patch_compliance_daily",
               "mart_e2e_lead_time_daily", "mart_maturity_level_daily")
# One KPI of each area of kpi_daily_snapshot (models/intermediate/kpi_snapshot/int_kpi_snapshot__<area>.sql).
SNAPSHOT_AREA_KPIS = {"availability", "incidents_open", "downtime_cost", "mttd_mean", "security_incidents",
                      "deployment_frequency", "cycle_time_p50", "alerts_in_breach", "e2e_lead_time_p50",
                      "maturity_level"}


def rows_of(digest: str | None) -> int:
    """The row count of a table_digests entry (0 for a mart that was not published)."""
    return int(digest.split(":")[0]) if digest else 0
