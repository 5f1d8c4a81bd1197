"""A release-based issue read before its version was released is delivered once the version is (issue 22).

Releasing a Jira version does not touch the `updated` of the issues it fixes, so an incremental read never reads
them again: the copy of the version embedded in each issue's `fields.fixVersions` keeps `released: false`. This
runs the pipeline's own Jira extract, validation and load against the emulator (WEB rides a two-week release
train, `emulator/gen_jira_versions.py`; the train of 2026-11-19 is released at noon UTC that day):

1. the run of 11-18 at 11-19 06:00: every WEB issue done since the previous train (11-05) is in version 2026.11.19,
   unreleased then;
2. the clock moves a day; the incremental run of 11-19 at 11-20 06:00. The version is released since 11-19 12:00,
   and the issues not updated since keep `released: false` in raw. Each done WEB issue in that version must be
   delivered at the end of 11-19 (11-20 00:00), counted on 11-19;
3. a replay of 11-18 on the same warehouse: the version's release day (11-19) had not ended at that as_of, so those
   issues are pending there, as they were in the run of 11-18.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
import requests
import yaml

from emulator.server import start_emulator
from opskpi import pipeline
from opskpi.config import load_config
from tests.integration import dbt_harness as h

pytestmark = pytest.mark.skipif(not h.dbt_executable().exists(), reason="dbt is not installed in this venv")

AUTH = ("demo@example.com", "jira-demo-token")
TRAIN = "2026.11.19"  # released 2026-11-19 12:00 UTC
FIRST_NOW, SECOND_NOW = "2026-11-19T06:00:00Z", datetime(2026, 11, 20, 6, tzinfo=UTC)
FIRST_DAY, SECOND_DAY = date(2026, 11, 18), date(2026, 11, 19)
SELECT = h.area("+fct_issue_delivery")


def write_config(tmp_path: Path, base_url: str) -> Path:
    config = {
        "data_dir": str(tmp_path / "data"),
        "history_days": 30,
        "reporting": {"timezone": "UTC"},
        "sources": {"jira": {"base_url": f"{base_url}/jira", "email": AUTH[0], "projects": ["OPS", "WEB"]}},
        "lead_time_e2e": {"release_projects": ["WEB"]},
    }
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(config_path: Path, run_date: date, now: datetime, work: Path, extract: bool = True) -> None:
    """The pipeline's Jira extract, validation and load for `run_date` at `now`, then dbt up to fct_issue_delivery
    (built with the run's own vars, as pipeline.transform passes them)."""
    config = load_config(config_path)
    ctx = pipeline.RunContext.for_date(config, run_date, f"test-{run_date}", now=now)
    if extract:
        pipeline.extract(config, "jira", ctx)
        pipeline.validate(config, "jira", ctx)
        pipeline.load(config, ctx)
    dbt_vars = {**ctx.dbt_vars(config), "run_date": run_date.isoformat(), "as_of": ctx.as_of.isoformat()}
    h.check_dbt_build(config.warehouse_path, dbt_vars, work, SELECT)


def train_issue_ids(jira_url: str) -> set[str]:
    """The WEB issues whose fix version is the 11-19 train, as the API shows them now (read independently)."""
    body = requests.post(f"{jira_url}/rest/api/3/search/jql", auth=AUTH, timeout=30, json={
        "jql": "project = WEB AND statusCategory = Done ORDER BY key ASC", "fields": ["fixVersions"],
        "maxResults": 100}).json()
    found, token = set(), None
    while True:
        found |= {i["id"] for i in body["issues"] if any(v["name"] == TRAIN for v in i["fields"]["fixVersions"])}
        token = body.get("nextPageToken")
        if body.get("isLast") or not token:
            return found
        body = requests.post(f"{jira_url}/rest/api/3/search/jql", auth=AUTH, timeout=30, json={
            "jql": "project = WEB AND statusCategory = Done ORDER BY key ASC", "fields": ["fixVersions"],
            "maxResults": 100, "nextPageToken": token}).json()


def stored_release_flags(warehouse: Path) -> dict[str, bool]:
    """issue id -> the `released` flag of the train version in the issue as stored in raw."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select id, record from raw.jira__issues").fetchall()
    flags = {}
    for issue_id, record in rows:
        for version in json.loads(record)["fields"].get("fixVersions") or []:
            if version["name"] == TRAIN:
                flags[issue_id] = version["released"]
    return flags


def delivery(warehouse: Path) -> dict[str, dict]:
    return {r["issue_id"]: r for r in h.query(warehouse, "select * from marts.fct_issue_delivery")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("release")
    mp = pytest.MonkeyPatch()
    mp.setenv("OPSKPI_JIRA_TOKEN", AUTH[1])
    try:
        with start_emulator(seed=42, now=FIRST_NOW) as emu:
            config = write_config(tmp, emu.base_url)
            warehouse = load_config(config).warehouse_path
            run(config, FIRST_DAY, datetime.fromisoformat(FIRST_NOW), tmp / "dbt1")
            first = delivery(warehouse)
            emu.advance(days=1)
            run(config, SECOND_DAY, SECOND_NOW, tmp / "dbt2")
            second, flags, train = delivery(warehouse), stored_release_flags(warehouse), train_issue_ids(emu.jira_url)
            run(config, FIRST_DAY, SECOND_NOW, tmp / "dbt3", extract=False)  # the replay of 11-18, made on 11-20
            replay = delivery(warehouse)
    finally:
        mp.undo()
    return {"first": first, "second": second, "replay": replay, "flags": flags, "train": train}


def test_the_scenario_has_stale_release_flags(runs):
    """Without issues stored with `released: false` for a version released since, the test would prove nothing."""
    stale = [i for i in runs["train"] if runs["flags"].get(i) is False]
    assert stale, "no issue of the 11-19 train kept its unreleased copy: the scenario does not test the defect"


def test_released_since_the_issue_was_read_is_delivered(runs):
    eligible = [i for i in runs["train"] if runs["second"][i]["is_eligible"]]
    assert eligible
    for issue_id in eligible:
        row = runs["second"][issue_id]
        assert (row["delivery_status"], row["released_on"], row["delivered_day"]) == (
            "delivered", SECOND_DAY, SECOND_DAY), row["key"]
        assert row["delivered_at"] == datetime(2026, 11, 20, tzinfo=UTC), row["key"]


def test_before_the_release_and_on_replay_it_is_pending(runs):
    for name in ("first", "replay"):
        eligible = [i for i in runs["train"] if i in runs[name] and runs[name][i]["is_eligible"]]
        assert eligible, name
        assert {runs[name][i]["delivery_status"] for i in eligible} == {"pending"}, name
