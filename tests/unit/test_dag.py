"""The DAG as the Airflow UI shows it: docs, owners, mapped tasks named by partition, assets with metadata,
and no deprecation warning from our code (Airflow 3 imports only).

One child process (its own AIRFLOW_HOME and SQLite DB) parses the DAG, then runs the DAG's own GitHub and
Jira task groups (partitions → mapped extract → validate) for a day with `dag.test()` against the emulator,
so the names of the mapped tasks are the ones Airflow rendered and stored (`rendered_map_index`), and every
warning raised while parsing and running is recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emulator.server import start_emulator
from opskpi.cli import airflow_env

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"OPSKPI_JIRA_TOKEN": "jira-demo-token", "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
          "OPSKPI_GITHUB_TOKEN": "gh-demo-token"}
PROBE = """
import sys
sys.path.insert(0, {dags!r})
import ops_kpi_daily
from airflow.sdk import DAG
with DAG("ops_kpi_ui_probe", schedule=None, params=ops_kpi_daily.PARAMS,
         default_args={{"owner": ops_kpi_daily.OWNER, "retries": 0}}):
    ops_kpi_daily.source_group("github")
    ops_kpi_daily.source_group("jira")
"""
CHILD = """
import json, sys, warnings
from datetime import UTC, datetime
root, config = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
from opskpi.cli import prepare_airflow
from pathlib import Path
import os
prepare_airflow(Path(os.environ["AIRFLOW_HOME"]))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=root + "/dags")
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag("ops_kpi_daily")
    tasks = {t.task_id: {"owner": t.owner, "doc": t.doc_md or "", "template": getattr(t, "map_index_template", None),
                         "inlets": sorted(a.name for a in t.inlets), "outlets": sorted(a.name for a in t.outlets)}
             for t in dag.tasks}
    # the shipped source groups (partitions -> mapped extract -> validate) in a DAG of their own: the day's
    # load, dbt build and report would only add minutes here (dag.partial_subset loses mapped inputs in 3.3.2)
    probe = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag("ops_kpi_ui_probe")
    run = probe.test(logical_date=datetime(2026, 11, 19, tzinfo=UTC),
                     run_conf={"config": config, "run_date": "2026-11-19", "sources": ["github", "jira"]})
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select
    with create_session() as session:
        mapped = session.execute(select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.rendered_map_index,
                                        TaskInstance.state)
                                 .where(TaskInstance.run_id == run.run_id, TaskInstance.map_index >= 0)).all()
ours = sorted({f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}" for w in caught
               if w.filename.startswith(root) and "/.venv/" not in w.filename})
print(json.dumps({"doc": dag.doc_md or "", "tasks": tasks, "state": str(run.state), "warnings": ours,
                  "mapped": sorted([t, m, r, str(s)] for t, m, r, s in mapped)}))
"""


def probe_dags(tmp_path: Path) -> Path:
    folder = tmp_path / "probe_dags"
    folder.mkdir()
    (folder / "probe.py").write_text(PROBE.format(dags=str(ROOT / "dags")))
    return folder


@pytest.mark.slow
def test_dag_explains_itself_in_the_airflow_ui(tmp_path):
    with start_emulator(profile="stress") as emulator:
        config = tmp_path / "config.yml"
        config.write_text(yaml.safe_dump({
            "data_dir": str(tmp_path / "data"), "history_days": 7,
            "sources": {"jira": {"base_url": emulator.jira_url, "email": "demo@example.com",
                                 "projects": ["OPS", "WEB"]},
                        "github": {"base_url": emulator.github_url, "repos": ["acme/api", "acme/web"]}}}))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}, **TOKENS,
               **airflow_env(tmp_path / "airflow", config), "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
               # dag.test() runs only DAGs of the configured folder (it serializes them from there)
               "AIRFLOW__CORE__DAGS_FOLDER": str(probe_dags(tmp_path))}
        done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(config)], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["state"].endswith("success"), (seen["mapped"], done.stdout[-6000:])

    # mapped extract tasks are named by their partition, as Airflow rendered and stored them
    assert [(task, name) for task, _, name, _ in seen["mapped"]] == [
        ("github.extract", "acme/api"), ("github.extract", "acme/web"),
        # Jira's source-wide streams (projects, statuses, versions, reconciliation), then its issues per project
        ("jira.extract", "jira"), ("jira.extract", "OPS"), ("jira.extract", "WEB")]
    tasks = seen["tasks"]
    assert {t["template"] for name, t in tasks.items() if name.endswith(".extract")} == {"{{ partition_label }}"}

    # owners and docs: the DAG says what each step does, where its output lands and how to rerun
    assert {t["owner"] for t in tasks.values()} == {"ops-analytics"}
    for phrase in ("data/landing/", "data/warehouse.duckdb", "data/published/opskpi.duckdb",
                   "data/published/report/", "opskpi run --config", "airflow backfill create"):
        assert phrase in seen["doc"], phrase
    undocumented = [name for name, t in tasks.items() if len(t["doc"]) < 20]
    assert not undocumented, undocumented
    assert all("Rerun" in t["doc"] for name, t in tasks.items() if name != "done")

    # assets: produced by load and publish, consumed by freshness, dbt and the report
    raw = ["opskpi.raw.github", "opskpi.raw.jira", "opskpi.raw.pagerduty"]
    assert tasks["load"]["outlets"] == raw and tasks["publish"]["outlets"] == ["opskpi.published.marts"]
    assert tasks["dbt_build"]["inlets"] == raw and "source_freshness" not in tasks, "freshness runs in dbt_build"
    assert tasks["report"]["inlets"] == ["opskpi.published.marts"]

    # Airflow 3 imports only: nothing of ours raised a (deprecation) warning while parsing or running
    assert seen["warnings"] == []
