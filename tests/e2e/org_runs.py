"""One emulated organisation run through the whole DAG twice, for the e2e tests that only read the result.

The daily-run, DORA and security tests each used to start their own emulator and run the DAG twice (a full
first day, then an incremental day after the emulator's clock moved), six runs of about a minute of CPU each
for one mechanism. They now read one pair of runs: all three sources, every repository of the organisation with
its teams and PagerDuty services, seed 11 (not the demo's: no test may depend on the demo's data set).

Each test still computes its expected values independently from the API as it was on the day it checks: the
emulator is deterministic in its seed and clock, so `OrgRuns.api(day)` starts a replica at that day's clock
(the same seed, advanced as the shared one was) rather than asking the shared emulator, which has moved on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests
import yaml

from emulator.server import start_emulator
from tests.e2e.reference import pagerduty_all

TOKENS = {"OPSKPI_JIRA_TOKEN": "jira-demo-token", "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
          "OPSKPI_GITHUB_TOKEN": "gh-demo-token"}
GH = {"Authorization": f"Bearer {TOKENS['OPSKPI_GITHUB_TOKEN']}"}
SEED = 11  # not the demo's seed
NOW = "2026-11-20T06:00:00Z"  # the emulator's clock on the first day
DAY1, DAY2 = date(2026, 11, 19), date(2026, 11, 20)
DEPLOY_WORKFLOWS = {"acme/infra": "Deploy"}
# The modules that read the shared runs: under `make test` one worker runs them all, so the runs are made once
# (tests/conftest.py); the `org_runs` fixture refuses a module missing here.
ORG_RUNS_MODULES = ("tests/e2e/test_daily_run.py", "tests/e2e/test_dora_e2e.py", "tests/e2e/test_run_console.py",
                    "tests/e2e/test_security_e2e.py")

# Opens the published file once, read-only, and keeps querying it until told to stop; then opens it
# again (a new connection sees the newly published file). Prints the mart's row count each time.
READER = """
import sys, time, duckdb, pathlib
path, stop = sys.argv[1], pathlib.Path(sys.argv[2])
con = duckdb.connect(path, read_only=True)
while not stop.exists():
    print(con.execute("SELECT count(*) FROM marts.mart_availability_daily").fetchone()[0], flush=True)
    time.sleep(0.2)
con.close()
with duckdb.connect(path, read_only=True) as again:
    print(again.execute("SELECT count(*) FROM marts.mart_availability_daily").fetchone()[0], flush=True)
"""


def gh_all(url: str, params: dict | None = None, key: str | None = None) -> list[dict]:
    out = []
    response = requests.get(url, headers=GH, params={**(params or {}), "per_page": 100}, timeout=30)
    while True:
        response.raise_for_status()
        body = response.json()
        out += body[key] if key else body
        nxt = response.links.get("next", {}).get("url")
        if not nxt:
            return out
        response = requests.get(nxt, headers=GH, timeout=30)


def pd_all(url: str, key: str, params: dict | None = None) -> list[dict]:
    return pagerduty_all(url, TOKENS["OPSKPI_PAGERDUTY_TOKEN"], "", key, params)


def org_mapping(base: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Teams and repo -> PagerDuty service ids from the repositories' custom properties."""
    services = {s["name"]: s["id"] for s in pd_all(f"{base}/pagerduty/services", "services")}
    teams, links = {}, {}
    for repo in gh_all(f"{base}/github/orgs/acme/repos"):
        props = repo["custom_properties"]
        teams[repo["full_name"]] = props["team"]
        links[repo["full_name"]] = [services[name] for name in props["pagerduty-services"]]
    return teams, links


def write_config(root: Path, base: str, teams: dict, links: dict) -> Path:
    config = {
        "data_dir": str(root / "data"),
        "history_days": 400,  # the whole emulated history, so the references see the same records
        "reporting": {"timezone": "UTC"},
        "sources": {
            "jira": {"base_url": f"{base}/jira", "email": "demo@example.com", "projects": ["OPS", "WEB"]},
            "pagerduty": {"base_url": f"{base}/pagerduty"},
            "github": {"base_url": f"{base}/github", "repos": sorted(teams)},
        },
        "dora": {"repo_teams": teams, "repo_services": links, "deploy_workflows": DEPLOY_WORKFLOWS},
    }
    path = root / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_pipeline(config: Path, run_date: date, cwd: Path) -> str:
    """`opskpi run` as a user runs it: through Airflow (`dag.test()`), in its own process, its output a pipe (not a
    terminal). Returns what it printed, standard output then standard error."""
    completed = subprocess.run(
        [sys.executable, "-m", "opskpi.cli", "run", "--config", str(config), "--date", run_date.isoformat()],
        cwd=cwd, env={**os.environ, **TOKENS}, capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    return completed.stdout + completed.stderr


@dataclass
class OrgRuns:
    root: Path
    teams: dict[str, str]
    links: dict[str, list[str]]
    # Every count a BI reader saw while it held the published file open, in another process, through the second
    # run, then once more after reopening it.
    reader_seen: list[str]
    output: dict[date, str]  # what `opskpi run` printed for each day

    def data_dir(self, day: date) -> Path:
        """The data directory as the run of `day` left it (the first day's holds its published file only)."""
        return self.root / ("data" if day == DAY2 else "day1")

    @contextmanager
    def api(self, day: date) -> Iterator[str]:
        """The emulator's base URL as the API was when the run of `day` read it (a replica at that clock)."""
        with start_emulator(seed=SEED, now=NOW, profile="stress") as replica:
            if day > DAY1:
                requests.post(f"{replica.base_url}/__emulator/advance", json={"days": (day - DAY1).days},
                              timeout=10).raise_for_status()
            yield replica.base_url


def run_two_days(root: Path) -> OrgRuns:
    """A first full run for DAY1; its published file kept; the clock moved a day; an incremental run for DAY2."""
    with start_emulator(seed=SEED, now=NOW, profile="stress") as emulator:
        base = emulator.base_url
        teams, links = org_mapping(base)
        config = write_config(root, base, teams, links)
        data_dir = root / "data"
        output = {DAY1: run_pipeline(config, DAY1, root)}
        published = data_dir / "published" / "opskpi.duckdb"
        (root / "day1" / "published").mkdir(parents=True)
        shutil.copy2(published, root / "day1" / "published" / "opskpi.duckdb")

        requests.post(f"{base}/__emulator/advance", json={"days": 1}, timeout=10).raise_for_status()
        stop = root / "stop-reader"
        reader = subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            output[DAY2] = run_pipeline(config, DAY2, root)
        finally:
            stop.write_text("stop")
            seen, _ = reader.communicate(timeout=60)
        assert reader.returncode == 0, seen
    return OrgRuns(root, teams, links, [line for line in seen.splitlines() if line], output)
