"""Every task of the DAG is on the Celery queue its role calls for (config `queues:`), read when the file is parsed.

The source groups (partitions, extract, validate) only read APIs and write landing batches: `queues.extract`.
Everything that opens the DuckDB file or the data volume (load, dbt build, publish, report) and the closing
`done`: `queues.warehouse`. Unset is Airflow's default queue. A task added to the DAG without a role fails here.
The DAG module reads OPSKPI_CONFIG at import, so one child process (the DAG imports Airflow) loads the file once
per config under its own module name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from opskpi.cli import airflow_env

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import importlib.util, json, os, sys
from airflow.configuration import conf
out = {"default_queue": conf.get("operators", "default_queue")}
for i, config in enumerate(sys.argv[2:]):
    os.environ["OPSKPI_CONFIG"] = config
    spec = importlib.util.spec_from_file_location(f"ops_kpi_daily_{i}", sys.argv[1] + "/dags/ops_kpi_daily.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        out[config] = {"error": f"{type(exc).__name__}: {exc}"}
        continue
    dag = module.ops_kpi_daily()
    out[config] = {t.task_id: t.queue for t in dag.tasks}
print(json.dumps(out))
"""
SOURCES = ("jira", "pagerduty", "github")
EXTRACT = {f"{s}.{step}" for s in SOURCES for step in ("partitions", "extract", "validate")}
WAREHOUSE = {"load", "dbt_build", "publish", "report", "done"}


def parse_dag(tmp_path: Path, configs: list[Path]) -> dict:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
           **airflow_env(tmp_path / "airflow", configs[0]), "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), *map(str, configs)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def config_with(tmp_path: Path, name: str, queues) -> Path:
    raw = yaml.safe_load((ROOT / "config" / "demo.yml").read_text())
    if queues is not None:
        raw["queues"] = queues
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> tuple[dict, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("dag_queues")
    configs = {
        "demo": ROOT / "config" / "demo.yml",
        "both": config_with(tmp, "both", {"extract": "extract", "warehouse": "warehouse"}),
        "extract_only": config_with(tmp, "extract_only", {"extract": "api-workers", "warehouse": None}),
        "empty": config_with(tmp, "empty", {}),
        "missing": tmp / "no-such-config.yml",
        "bad": config_with(tmp, "bad", {"extract": "two words"}),
        "typo": config_with(tmp, "typo", {"extracts": "extract"}),
    }
    return parse_dag(tmp, list(configs.values())), {k: str(v) for k, v in configs.items()}


def test_every_task_has_a_role(parsed):
    seen, configs = parsed
    assert set(seen[configs["both"]]) == EXTRACT | WAREHOUSE, "a new task needs a role (and a queue) here"


def test_extract_and_warehouse_tasks_go_to_their_queues(parsed):
    seen, configs = parsed
    queues = seen[configs["both"]]
    assert {t: q for t, q in queues.items() if t in EXTRACT} == dict.fromkeys(EXTRACT, "extract")
    assert {t: q for t, q in queues.items() if t in WAREHOUSE} == dict.fromkeys(WAREHOUSE, "warehouse")


def test_an_unset_queue_is_airflows_default(parsed):
    seen, configs = parsed
    default = seen["default_queue"]
    for name in ("demo", "empty", "missing"):
        assert seen[configs[name]] == dict.fromkeys(EXTRACT | WAREHOUSE, default), name
    one = seen[configs["extract_only"]]
    assert one == {**dict.fromkeys(EXTRACT, "api-workers"), **dict.fromkeys(WAREHOUSE, default)}


def test_an_invalid_queues_section_fails_the_import_naming_the_key(parsed):
    seen, configs = parsed
    assert "ConfigError: queues.extract: 'two words' must be a Celery queue name" in seen[configs["bad"]]["error"]
    assert "ConfigError: queues.extracts: unknown key" in seen[configs["typo"]]["error"]
