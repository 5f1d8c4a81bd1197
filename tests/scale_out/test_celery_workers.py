"""The daily DAG on CeleryExecutor with two workers: one serving only the `extract` queue, one only `warehouse`.

A real redis-server broker, a real Airflow deployment (api-server, scheduler, dag-processor, triggerer) and two real
`airflow celery worker` processes, on loopback. The config's `queues:` sends the source groups to `extract` and
load / dbt build / publish / report to `warehouse` (docs/deploy.md); the run on the demo emulator must succeed, each
task instance must have run on the worker of its queue (Airflow's record of the task: its queue and the hostname
its worker reported), each worker must have received exactly its own tasks from the broker (its log), and the
marts must be published by this run. Every process is stopped at the end, also on failure.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import yaml

from emulator.server import start_emulator
from opskpi.demo import DEMO_TOKENS
from tests.e2e.airflow_stack import AirflowStack
from tests.scale_out.celery_stack import RedisServer, celery_env, start_worker

pytestmark = [pytest.mark.scale_out, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "ops_kpi_daily"
RUN_DATE = "2026-11-19"
QUEUES = {"extract": "extract", "warehouse": "warehouse"}
WORKERS = {"extract": "extract-worker", "warehouse": "warehouse-worker"}
WAREHOUSE_TASKS = {"load", "dbt_build", "publish", "report", "done"}


def demo_config(path: Path, data_dir: Path) -> Path:
    """config/demo.yml (its APIs at OPSKPI_EMULATOR_URL) with the two queues and its own data directory; 30 days of
    history instead of 90: this test is about where tasks run, not the data volume."""
    raw = yaml.safe_load((ROOT / "config" / "demo.yml").read_text())
    raw.update(data_dir=str(data_dir), history_days=30, queues=QUEUES)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def received_tasks(log: Path) -> int:
    """Tasks the Celery worker took from the broker, as its log says."""
    return len(re.findall(r"Task \S+\[[0-9a-f-]{36}\] received", log.read_text(errors="replace")))


def test_extract_and_warehouse_tasks_run_on_the_workers_of_their_queues(tmp_path: Path):
    home = tmp_path / "airflow"
    redis = RedisServer(tmp_path / "redis")
    stack: AirflowStack | None = None
    try:
        redis.wait_ready()
        with start_emulator(profile="healthy") as emulator:
            config = demo_config(tmp_path / "config.yml", tmp_path / "data")
            stack = AirflowStack(home, {**DEMO_TOKENS, **celery_env(home, redis.url),
                                        "OPSKPI_EMULATOR_URL": emulator.base_url, "OPSKPI_CONFIG": str(config)})
            stack.start()
            start_worker(stack, WORKERS["extract"], [QUEUES["extract"]], concurrency=2)
            start_worker(stack, WORKERS["warehouse"], [QUEUES["warehouse"]], concurrency=1)
            stack.wait_for_dag(DAG_ID)
            run_id = stack.trigger(DAG_ID, {"config": str(config), "run_date": RUN_DATE})
            state = stack.wait_for_run(DAG_ID, run_id, timeout_s=900)
            assert state == "success", (f"{stack.task_states(DAG_ID, run_id)}\n"
                                        f"{stack.failed_task_logs(DAG_ID, run_id)}\n{stack.logs()}")
            reply = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
            instances = reply.json()["task_instances"]

        # every task ran (the demo config enables every source), on the worker of its queue
        placed, tries = Counter(), Counter()
        for ti in instances:
            name = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
            role = "warehouse" if ti["task_id"] in WAREHOUSE_TASKS else "extract"
            assert ti["state"] == "success", (name, ti["state"])
            assert (ti["queue"], ti["hostname"]) == (QUEUES[role], WORKERS[role]), name
            placed[role] += 1
            tries[role] += ti["try_number"]
        assert placed["warehouse"] == len(WAREHOUSE_TASKS)
        extract_ids = {ti["task_id"] for ti in instances if ti["task_id"] not in WAREHOUSE_TASKS}
        assert extract_ids == {f"{s}.{t}" for s in ("jira", "pagerduty", "github")
                               for t in ("partitions", "extract", "validate")}
        sources = yaml.safe_load(config.read_text())["sources"]
        repos, projects = sources["github"]["repos"], sources["jira"]["projects"]
        # per source its partitions and validate tasks; one extract per GitHub repository, one per Jira project and
        # one for Jira's source-wide streams, one for PagerDuty
        assert placed["extract"] == 3 + 3 + len(repos) + (len(projects) + 1) + 1
        # The broker delivered each worker its own tasks and nothing else (a retry is one more delivery).
        for role, worker in WORKERS.items():
            assert received_tasks(home / f"worker-{worker}.log") == tries[role], role

        # the marts this run published
        published = tmp_path / "data" / "published"
        manifests = [json.loads(p.read_text()) for p in (published / "versions").glob("*/manifest.json")]
        assert [m.get("run_id") for m in manifests] == [run_id]
        with duckdb.connect(str(published / "opskpi.duckdb"), read_only=True) as con:
            services, days = con.execute("SELECT count(DISTINCT service_id), count(DISTINCT day) "
                                         "FROM marts.mart_availability_daily").fetchone()
        assert services > 0 and days > 0
        assert (published / "report" / RUN_DATE / "index.html").is_file()
    finally:
        if stack is not None:
            stack.stop()
        redis.stop()
