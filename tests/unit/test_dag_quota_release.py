"""The extract task gives its worker slot back on a long quota wait: QuotaRelease from the pipeline becomes
Airflow's AirflowRescheduleException for the reset moment (the task waits `up_for_reschedule`, in no pool slot),
and the pipeline is asked to release (`release_slot=True`). Unit-level on the task's callable, in a child process
(the DAG module imports Airflow); the resume from the checkpoint is tests/unit/test_github_quota_release.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from opskpi.cli import airflow_env

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1] + "/dags")
import ops_kpi_daily
from airflow.sdk.exceptions import AirflowRescheduleException
from extractors.http import QuotaRelease

calls = []

def released(step, source=None, **kwargs):
    calls.append([step, source, kwargs])
    raise QuotaRelease("github quota spent", "graphql", 1800.0, 1795000000.0)

ops_kpi_daily._run = released
try:
    ops_kpi_daily.extract_or_reschedule("github", "acme/api")
except AirflowRescheduleException as exc:
    print(json.dumps({"at": exc.reschedule_date.timestamp(), "tz": str(exc.reschedule_date.tzinfo), "calls": calls}))
"""


def test_a_released_quota_wait_reschedules_the_extract_for_the_reset(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
           **airflow_env(tmp_path / "airflow", tmp_path / "config.yml"), "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["at"] == 1795000000.0 and seen["tz"] in ("UTC", "+00:00")
    assert seen["calls"] == [["extract", "github", {"partition": "acme/api", "release_slot": True}]]
