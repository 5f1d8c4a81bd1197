"""Jira flow through Airflow against the emulator: the published marts equal figures computed from the API.

Seed 11 (not the demo's). The emulator's clock starts at midnight UTC, so the first run (for the day
before) sees exactly the API's state; then the clock moves a day: new issues appear, open ones move on,
and an issue seen by the first run is deleted. The second run is incremental and reconciles the ids
(`reconcile_every: 1d`), so that issue is marked deleted and leaves the flow figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest
import requests
import yaml

from emulator.gen_jira import issue_state
from emulator.server import start_emulator
from tests.e2e.jira_reference import fetch, flow

# `long` (make test-long, run by CI): two whole runs through Airflow, which keeps `make test` within 15 minutes
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.long]
SEED = 11
AUTH = ("demo@example.com", "jira-demo-token")
PROJECTS = ["OPS", "WEB"]
TEAMS = {"OPS": "platform"}  # WEB stays unassigned


def write_config(tmp_path: Path, base_url: str) -> Path:
    config = {
        "data_dir": str(tmp_path / "data"),
        "history_days": 400,  # the whole emulated history, as the reference sees it
        "reporting": {"timezone": "UTC"},
        "sources": {"jira": {"base_url": f"{base_url}/jira", "email": AUTH[0], "projects": PROJECTS,
                             "reconcile_every": "1d"}},
        "jira_flow": {"project_teams": TEAMS, "bug_issue_types": ["Bug"]},
    }
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_pipeline(config: Path, run_date: str, cwd: Path) -> None:
    env = {**os.environ, "OPSKPI_JIRA_TOKEN": AUTH[1]}
    completed = subprocess.run(
        [sys.executable, "-m", "opskpi.cli", "run", "--config", str(config), "--date", run_date],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]


def published(data_dir: Path) -> tuple[dict, dict]:
    with duckdb.connect(str(data_dir / "published" / "opskpi.duckdb"), read_only=True) as con:
        cur = con.execute("SELECT * FROM marts.mart_jira_flow_daily")
        names = [d[0] for d in cur.description]
        rows = {}
        for values in cur.fetchall():
            row = dict(zip(names, values, strict=True))
            rows[(row.pop("day"), row.pop("scope_type"), row.pop("scope_id"))] = row
        cur = con.execute("SELECT * FROM marts.fct_jira_issues")
        names = [d[0] for d in cur.description]
        issues = {r["issue_id"]: r for r in (dict(zip(names, v, strict=True)) for v in cur.fetchall())}
    return issues, rows


def assert_matches(base_url: str, data_dir: Path, run_date: date) -> tuple[dict, dict]:
    as_of = datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=UTC)  # end of the (UTC) day
    facts, expected = flow(fetch(f"{base_url}/jira", AUTH, PROJECTS), run_date, as_of, TEAMS)
    issues, actual = published(data_dir)
    live = {i: r for i, r in issues.items() if not r["is_deleted"]}
    assert set(live) == set(facts), "the live issues are exactly those the API lists"
    for issue_id, fact in facts.items():
        got = live[issue_id]
        assert (got["key"], got["project"], got["reopen_count"]) == (fact["key"], fact["project"], fact["reopens"])
        assert got["team"] == TEAMS.get(fact["project"], "unassigned")
        for column, key in (("cycle_time_s", "cycle"), ("lead_time_s", "lead")):
            assert got[column] == (None if fact[key] is None else pytest.approx(fact[key], abs=1e-6)), (
                fact["key"], column)
    assert set(actual) == set(expected), (
        f"missing {sorted(set(expected) - set(actual))[:5]} extra {sorted(set(actual) - set(expected))[:5]}")
    for key, want in expected.items():
        got = actual[key]
        for column, value in want.items():
            if isinstance(value, float):
                assert got[column] == pytest.approx(value, rel=1e-12, abs=1e-6), (key, column)
            else:
                assert got[column] == value, (key, column, got[column], value)
    return issues, actual


def test_jira_flow_first_run_then_incremental_day_match_the_api(tmp_path):
    with start_emulator(seed=SEED, now="2026-11-20T00:00:00Z", profile="stress") as emulator:
        base = emulator.base_url
        deleted = next(i for i in emulator.app.world.jira.issues if i.scenario == "deleted")
        config = write_config(tmp_path, base)
        data_dir = tmp_path / "data"

        run_pipeline(config, "2026-11-19", tmp_path)
        issues, rows = assert_matches(base, data_dir, date(2026, 11, 19))
        assert issues[deleted.id]["is_deleted"] is False
        # the flow cases are all there for this seed
        assert any(r["reopen_count"] > 0 for r in issues.values())
        assert any(r["lead_time_s"] is not None and r["cycle_time_s"] is None for r in issues.values())
        now = emulator.app.clock.now_ms
        moved = {i.id: issue_state(i, now).key for i in emulator.app.world.jira.issues
                 if i.id in issues and issue_state(i, now).key != i.key}
        assert moved and all(issues[i]["key"] == key for i, key in moved.items()), "moved: one row, current key"
        assert sum(r["throughput"] for (d, t, _), r in rows.items() if t == "org") > sum(
            r["resolved"] for (d, t, _), r in rows.items() if t == "org"), "re-closes count again"

        requests.post(f"{base}/__emulator/advance", json={"days": 1}, timeout=10).raise_for_status()
        run_pipeline(config, "2026-11-20", tmp_path)
        issues, _ = assert_matches(base, data_dir, date(2026, 11, 20))
        assert issues[deleted.id]["is_deleted"] is True

        with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
            batches = con.execute(
                "SELECT stream, run_id, requests FROM meta.batches WHERE source = 'jira' ORDER BY loaded_at").fetchall()
            entries = con.execute("SELECT count(*), count(DISTINCT (issue_id, id)) FROM raw.jira__issue_changelogs"
                                  ).fetchone()
        assert entries[0] == entries[1] > 0, "one row per changelog entry"
        runs = sorted({run for _, run, _ in batches})
        assert len(runs) == 2
        # requests per stream and run, over its batches (issues and changelogs: one batch per project)
        first, second = ({s: sum(r for s2, run2, r in batches if (s2, run2) == (s, run)) for s, _, _ in batches}
                         for run in runs)
        assert second["issues"] < first["issues"] and second["issue_changelogs"] < first["issue_changelogs"]
        assert second["issue_ids"] == first["issue_ids"] == 1
