"""DORA marts on hand-built GitHub and PagerDuty records, every expected value worked out by hand.

Scenario (UTC, run_date 2026-11-10, as_of 2026-11-11T00:00Z). Repos: acme/api (team platform, services PSVC1),
acme/web (team growth, service PSVC2). PSVC9 is mapped to no repo.

acme/api production deployments (time = first `success` status):
  D1  created 11-02 09:00, success 09:10          -> 11-02 09:10  (the repo's first deployment)
  S1  *staging*, success 11-02 12:05               -> ignored
  D2  created 11-03 10:00, in_progress, success 10:20 -> 11-03 10:20
  D3  created 11-05 09:00, status `failure` only   -> not a deployment
  D5  created 11-05 11:00, success 11:10           -> 11-05 11:10
  D6  created 11-06 09:00, success 09:05           -> 11-06 09:05
  D7  created 11-09 09:00, success 09:10           -> 11-09 09:10
  D8  created 11-09 12:55, success 13:00           -> 11-09 13:00
acme/web: W1 environment "Production" (case differs), success 11-02 15:05 -> 11-02 15:05

Pull requests (first commit / opened / merged) -> deployment:
  api#1  11-01 08:00 / 11-01 10:00 / 11-02 08:00 -> D1
  api#2  11-02 10:00 / 11:00 / 12:00 -> D2 (not S1); a force-pushed-away commit authored 11-01 00:00 is ignored
  api#3  11-02 13:00 / 13:30 / 14:00 -> D2          (#2 and #3: merged between D1 and D2, both deployed by D2)
  api#4  'Revert "PR 3"' 11-05 11:30 / 11:40 / 12:00 -> D6
  api#5  label "HotFix" 11-06 09:30 / 09:40 / 10:00 -> D7
  api#6  commit authored 11-09 15:00 (clock skew, after the merge) / opened 12:00 / merged 12:30 -> D8
  api#7  merged 11-10 10:00, no deployment after it -> pending
  api#8  label "hotfix", merged 11-04 10:00 into release/2026.10 (not the default branch) -> not a DORA pull
         request (no lead time), but a hotfix in D2's window (a second cause of D2's failure)
  api#9  open -> not in fct_pull_requests
  web#101  no commits read (first commit := opened 11-02 13:10) / merged 14:00 -> W1

Incidents: I1 PSVC1 11-03 12:00 -> 13:30; I2 PSVC1 11-03 15:00 -> 20:00 (both after D2, before the next
deployment D5, I1 within 24 h: D2 failed once); I3 PSVC1 11-04 12:00 (25 h 40 min after D2, before D5: outside
every window); I4 PSVC9 11-02 16:00 (after D1 and W1, but its service maps to no repo).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.integration.dbt_harness import (
    RawData,
    area,
    check_dbt_build,
    create_warehouse,
    github_pull,
    parse_ts,
    pd_incident,
    pd_service,
    query,
    run_dbt_build,
)

AREA = area("+fct_deployments+", "+mart_dora_tier+", "+mart_dora_daily+", "+mart_dora_weekly+",
            "+mart_dora_data_quality+", "+fct_pull_requests+", "+mart_detection_daily")
VARS = {"run_date": "2026-11-10", "as_of": "2026-11-11T00:00:00Z", "reporting_timezone": "UTC"}
LOADED = datetime(2026, 11, 11, tzinfo=UTC)


# --- API-shaped records ----------------------------------------------------------------------------------


def deployment(dep_id: int, environment: str, created_at: str, updated_at: str | None = None) -> dict[str, Any]:
    return {"url": f"https://api.github.com/repos/o/r/deployments/{dep_id}", "id": dep_id, "node_id": f"DE_{dep_id}",
            "sha": f"{dep_id:040x}", "ref": "main", "task": "deploy", "payload": {},
            "original_environment": environment, "environment": environment, "description": None,
            "creator": {"login": "deployer", "id": 9, "type": "User"}, "created_at": created_at,
            "updated_at": updated_at or created_at, "transient_environment": False,
            "production_environment": environment.lower() == "production"}


def status(status_id: int, state: str, created_at: str) -> dict[str, Any]:
    return {"id": status_id, "node_id": f"DES_{status_id}", "state": state, "created_at": created_at,
            "updated_at": created_at,
            "environment": "production", "description": "", "creator": {"login": "deployer"}}


def commit(sha: str, authored_at: str) -> dict[str, Any]:
    return {"sha": sha, "commit": {"author": {"name": "A", "email": "a@x", "date": authored_at},
                                   "committer": {"name": "A", "email": "a@x", "date": authored_at},
                                   "message": "work"},
            "author": {"login": "octocat"}, "committer": {"login": "octocat"}, "parents": []}


def workflow_run(run_id: int, name: str, branch: str, status_: str, conclusion: str | None,
                 created_at: str, updated_at: str) -> dict[str, Any]:
    return {"id": run_id, "name": name, "path": f".github/workflows/{name.lower()}.yml@{branch}",
            "head_branch": branch, "head_sha": f"{run_id:040x}", "event": "push", "status": status_,
            "conclusion": conclusion, "workflow_id": 77, "run_attempt": 1, "created_at": created_at,
            "updated_at": updated_at, "run_started_at": created_at,
            "repository": {"full_name": "acme/wf", "default_branch": "main"}}


def merged_pull(number: int, opened: str, merged: str, *, title: str | None = None, labels=(),
                base_ref: str = "main") -> dict[str, Any]:
    record = github_pull(number, opened, merged, state="closed", closed_at=merged, merged_at=merged,
                         labels=labels, base_ref=base_ref)
    if title:
        record["title"] = title
    return record


class Github:
    """Rows for the GitHub raw tables and the config mapping, inserted as the loader would."""

    def __init__(self) -> None:
        self.deployments: list[tuple[str, dict]] = []
        self.statuses: list[tuple[str, int, dict]] = []
        self.commits: list[tuple[str, int, str, dict]] = []  # repo, pull, pull_updated_at, record
        self.runs: list[tuple[str, dict]] = []
        self.repos: list[tuple[str, str]] = []
        self.repo_services: list[tuple[str, str]] = []
        self.repositories: list[tuple[str, str]] = []  # GET /repos/{o}/{r}: repo, default_branch

    def deploy(self, repo: str, dep_id: int, environment: str, created: str, *states: tuple[str, str]) -> None:
        last = max([created] + [at for _, at in states])
        self.deployments.append((repo, deployment(dep_id, environment, created, last)))
        for k, (state, at) in enumerate(states):
            self.statuses.append((repo, dep_id, status(dep_id * 10 + k, state, at)))

    def write(self, warehouse: Path) -> None:
        con = duckdb.connect(str(warehouse))
        try:
            b = ("test-batch", LOADED)
            for repo, d in self.deployments:
                con.execute("insert into raw.github__deployments values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [repo, d["id"], d["environment"], d["sha"], parse_ts(d["created_at"]),
                             parse_ts(d["updated_at"]), json.dumps(d), *b])
            for repo, dep_id, s in self.statuses:
                con.execute("insert into raw.github__deployment_statuses values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [repo, dep_id, s["node_id"], s["state"], s["environment"], parse_ts(s["created_at"]),
                             json.dumps(s), *b])
            for repo, number, listed, c in self.commits:
                con.execute("insert into raw.github__pull_commits values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [repo, number, c["sha"], parse_ts(c["commit"]["author"]["date"]),
                             parse_ts(c["commit"]["committer"]["date"]), parse_ts(listed), json.dumps(c), *b])
            for repo, r in self.runs:
                con.execute("insert into raw.github__workflow_runs values "
                            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [repo, r["id"], r["workflow_id"], r["name"], r["event"], r["head_branch"], r["status"],
                             r["conclusion"], r["run_attempt"], parse_ts(r["created_at"]), parse_ts(r["updated_at"]),
                             parse_ts(r["run_started_at"]), json.dumps(r), *b])
            for repo, branch in self.repositories:
                con.execute("insert into raw.github__repositories values (?, ?, ?, ?, ?, ?, ?, ?)",
                            [repo, 1, repo, branch, LOADED,
                             json.dumps({"full_name": repo, "default_branch": branch}), *b])
            con.execute("delete from raw.config__repos")
            if self.repos:
                con.executemany("insert into raw.config__repos values (?, ?)", self.repos)
            if self.repo_services:
                con.executemany("insert into raw.config__repo_services values (?, ?)", self.repo_services)
        finally:
            con.close()


def build(work_dir: Path, raw: RawData, gh: Github, dbt_vars: dict) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    warehouse = work_dir / "warehouse.duckdb"
    create_warehouse(warehouse, raw)
    gh.write(warehouse)
    check_dbt_build(warehouse, dbt_vars, work_dir, AREA)
    return warehouse


# --- the main scenario -------------------------------------------------------------------------------------

API, WEB = "acme/api", "acme/web"
SVC1, SVC2, SVC9 = ("PSVC1", "api-gateway"), ("PSVC2", "web-frontend"), ("PSVC9", "batch")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    gh = Github()
    gh.repos = [(API, "platform"), (WEB, "growth")]
    gh.repo_services = [(API, "PSVC1"), (WEB, "PSVC2")]
    gh.deploy(API, 1, "production", "2026-11-02T09:00:00Z", ("success", "2026-11-02T09:10:00Z"))
    gh.deploy(API, 11, "staging", "2026-11-02T12:00:00Z", ("success", "2026-11-02T12:05:00Z"))
    gh.deploy(API, 2, "production", "2026-11-03T10:00:00Z", ("in_progress", "2026-11-03T10:01:00Z"),
              ("success", "2026-11-03T10:20:00Z"))
    gh.deploy(API, 3, "production", "2026-11-05T09:00:00Z", ("failure", "2026-11-05T09:05:00Z"))
    gh.deploy(API, 5, "production", "2026-11-05T11:00:00Z", ("success", "2026-11-05T11:10:00Z"))
    gh.deploy(API, 6, "production", "2026-11-06T09:00:00Z", ("success", "2026-11-06T09:05:00Z"))
    gh.deploy(API, 7, "production", "2026-11-09T09:00:00Z", ("success", "2026-11-09T09:10:00Z"))
    gh.deploy(API, 8, "production", "2026-11-09T12:55:00Z", ("success", "2026-11-09T13:00:00Z"))
    gh.deploy(WEB, 101, "Production", "2026-11-02T15:00:00Z", ("success", "2026-11-02T15:05:00Z"))

    pulls = [
        (API, merged_pull(1, "2026-11-01T10:00:00Z", "2026-11-02T08:00:00Z")),
        (API, merged_pull(2, "2026-11-02T11:00:00Z", "2026-11-02T12:00:00Z")),
        (API, merged_pull(3, "2026-11-02T13:30:00Z", "2026-11-02T14:00:00Z")),
        (API, merged_pull(4, "2026-11-05T11:40:00Z", "2026-11-05T12:00:00Z", title='Revert "PR 3"')),
        (API, merged_pull(5, "2026-11-06T09:40:00Z", "2026-11-06T10:00:00Z", labels=("HotFix",))),
        (API, merged_pull(6, "2026-11-09T12:00:00Z", "2026-11-09T12:30:00Z")),
        (API, merged_pull(7, "2026-11-10T09:00:00Z", "2026-11-10T10:00:00Z")),
        (API, merged_pull(8, "2026-11-04T09:00:00Z", "2026-11-04T10:00:00Z", base_ref="release/2026.10",
                          labels=("hotfix",))),
        (API, github_pull(9, "2026-11-08T09:00:00Z", "2026-11-08T09:00:00Z")),
        (WEB, merged_pull(101, "2026-11-02T13:10:00Z", "2026-11-02T14:00:00Z")),
    ]
    first_commits = {1: "2026-11-01T08:00:00Z", 2: "2026-11-02T10:00:00Z", 3: "2026-11-02T13:00:00Z",
                     4: "2026-11-05T11:30:00Z", 5: "2026-11-06T09:30:00Z", 6: "2026-11-09T15:00:00Z",
                     7: "2026-11-10T08:00:00Z", 8: "2026-11-04T08:00:00Z"}
    for number, authored in first_commits.items():
        record = dict(pulls[number - 1][1])
        gh.commits.append((API, number, record["updated_at"], commit(f"c{number}a", authored)))
        # a second commit pushed just before the merge (api#6's author clock is 3 h fast for both commits)
        second = "2026-11-09T15:25:00Z" if number == 6 else record["merged_at"]
        gh.commits.append((API, number, record["updated_at"], commit(f"c{number}b", second)))
    # api#2 before a force-push: an older listing (earlier pull_updated_at) with a commit no longer on the branch.
    gh.commits.append((API, 2, "2026-11-02T11:30:00Z", commit("c2-dropped", "2026-11-01T00:00:00Z")))

    raw = RawData(
        pagerduty_services=[pd_service(*SVC1), pd_service(*SVC2), pd_service(*SVC9)],
        pagerduty_incidents=[
            pd_incident("I1", SVC1, "2026-11-03T12:00:00Z", "2026-11-03T13:30:00Z", number=1),
            pd_incident("I2", SVC1, "2026-11-03T15:00:00Z", "2026-11-03T20:00:00Z", number=2),
            pd_incident("I3", SVC1, "2026-11-04T12:00:00Z", "2026-11-04T13:00:00Z", number=3),
            pd_incident("I4", SVC9, "2026-11-02T16:00:00Z", "2026-11-02T17:00:00Z", number=4),
        ],
        github_pulls=pulls,
        config_services=[("PSVC1", "platform", None), ("PSVC2", "growth", None)],
    )
    work = tmp_path_factory.mktemp("dora")
    warehouse = build(work, raw, gh, VARS)
    # the same data with failure pull requests limited to the default branch: only the failure links rebuilt
    default_only = work / "default_branch"
    default_only.mkdir()
    shutil.copy2(warehouse, default_only / "warehouse.duckdb")
    check_dbt_build(default_only / "warehouse.duckdb", {**VARS, "dora_failure_pull_request_branches": "default"},
                    default_only, ["--select", "int_dora_failure_links"])
    return warehouse


def by(rows: list[dict], *keys: str) -> dict:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_deployments_production_successful_only(warehouse):
    rows = by(query(warehouse, "select * from marts.fct_deployments"), "deployment_id")
    # S1 (staging) and D3 (only a `failure` status) are not deployments; W1's "Production" is.
    assert set(rows) == {"1", "2", "5", "6", "7", "8", "101"}
    assert rows["1"]["deployed_at"] == ts("2026-11-02T09:10:00Z")  # first deployment: its success status
    assert rows["2"]["deployed_at"] == ts("2026-11-03T10:20:00Z")  # the success, not in_progress at 10:01
    assert rows["101"]["environment"] == "Production" and rows["101"]["team"] == "growth"


def test_change_failure_attribution(warehouse):
    rows = by(query(warehouse, "select * from marts.fct_deployments"), "deployment_id")
    failed = {k: (r["failure_link"], r["linked_incident_id"]) for k, r in rows.items() if r["is_failed"]}
    # D2: I1 (1 h 40 min after) and I2 (4 h 40 min after, before D5) -> one failed deployment, linked to I1.
    # D5: api#4 "Revert ..." merged 50 min after.  D6: api#5 labelled "HotFix" merged 55 min after.
    # D1: nothing (I4's service PSVC9 maps to no repo; api#2/#3 are plain PRs). I3 (25 h 40 min after D2) is
    # outside D2's 24 h window and before D5: no deployment's. W1, D7, D8: nothing in their windows.
    assert failed == {"2": ("incident_window", "I1"), "5": ("revert_pr", None), "6": ("hotfix_label", None)}
    # Time to restore: I1 resolved 13:30 - D2 10:20 = 3 h 10 min = 11,400 s; no incident -> NULL.
    assert rows["2"]["restored_at"] == ts("2026-11-03T13:30:00Z") and rows["2"]["time_to_restore_s"] == 11400
    assert rows["5"]["time_to_restore_s"] is None and rows["6"]["restored_at"] is None


def test_pull_requests_lead_time(warehouse):
    rows = by(query(warehouse, "select * from marts.fct_pull_requests"), "repo", "number")
    assert set(rows) == {(API, n) for n in range(1, 8)} | {(WEB, 101)}  # not #8 (release branch), not #9 (open)
    expected = {
        # number: (deployment, coding_s, review_s, deploy_s, lead_time_s)
        1: ("1", 7200, 79200, 4200, 90600),     # 08:00->10:00 | ->08:00 next day (22 h) | ->09:10 | 25 h 10 min
        2: ("2", 3600, 3600, 80400, 87600),     # dropped commit ignored; merged 11-02 12:00 -> D2 11-03 10:20
        3: ("2", 1800, 1800, 73200, 76800),     # 13:00 -> D2 10:20 next day = 21 h 20 min
        4: ("6", 600, 1200, 75900, 77700),      # 11-05 11:30 -> D6 11-06 09:05 = 21 h 35 min
        5: ("7", 600, 1200, 256200, 258000),    # 11-06 09:30 -> D7 11-09 09:10 = 71 h 40 min
        6: ("8", 0, 1800, 1800, 0),             # authored 15:00 > opened 12:00 and deployed 13:00: clamped
    }
    for number, (dep, coding, review, deploy, lead) in expected.items():
        r = rows[(API, number)]
        assert (r["deployment_id"], r["coding_s"], r["review_s"], r["deploy_s"], r["lead_time_s"]) == (
            dep, coding, review, deploy, lead), number
    pending = rows[(API, 7)]  # merged 11-10 10:00, no deployment after: pending, NULL (not 0)
    assert pending["deployed_at"] is None and pending["lead_time_s"] is None and pending["deploy_s"] is None
    web = rows[(WEB, 101)]  # no commits: first commit = opened 13:10; W1 15:05 -> 1 h 55 min = 6,900 s
    assert web["first_commit_at"] == ts("2026-11-02T13:10:00Z") and web["lead_time_s"] == 6900
    assert (rows[(API, 4)]["is_revert"], rows[(API, 4)]["is_hotfix"]) == (True, False)
    assert (rows[(API, 5)]["is_revert"], rows[(API, 5)]["is_hotfix"]) == (False, True)


def test_daily_org(warehouse):
    rows = by(query(warehouse, "select * from marts.mart_dora_daily where scope_type = 'org'"), "day")
    assert [d.isoformat() for d in sorted(rows)] == [f"2026-11-{d:02d}" for d in range(2, 11)]  # dense

    def row(day):
        r = rows[datetime.fromisoformat(day).date()]
        return (r["deployments"], r["failed_deployments"], r["change_failure_rate_pct"], r["lead_time_s_p50"],
                r["lead_time_s_p75"], r["lead_time_s_p90"], r["lead_time_sample_size"], r["time_to_restore_s_p50"])

    # 11-02: D1, W1; lead times {90600 (api#1), 6900 (web#101)}: p50 = 48750,
    #   p75 = 6900 + 0.75 x 83700 = 69675, p90 = 6900 + 0.9 x 83700 = 82230.
    assert row("2026-11-02") == (2, 0, 0.0, 48750, 69675, 82230, 2, None)
    # 11-03: D2 failed (1 of 1 = 100 %); {76800, 87600}: p50 82200, p75 84900, p90 86520; TTR 11400.
    assert row("2026-11-03") == (1, 1, 100.0, 82200, 84900, 86520, 2, 11400)
    # 11-04: no deployment: frequency 0, CFR and lead time NULL, sample 0.
    assert row("2026-11-04") == (0, 0, None, None, None, None, 0, None)
    # 11-05: D5 failed by the revert; nothing was merged between D2 and D5, so no lead time; no incident TTR.
    assert row("2026-11-05") == (1, 1, 100.0, None, None, None, 0, None)
    assert row("2026-11-06") == (1, 1, 100.0, 77700, 77700, 77700, 1, None)
    assert row("2026-11-07") == (0, 0, None, None, None, None, 0, None)
    # 11-09: D7, D8; {258000, 0}: p50 129000, p75 193500, p90 232200.
    assert row("2026-11-09") == (2, 0, 0.0, 129000, 193500, 232200, 2, None)
    assert row("2026-11-10") == (0, 0, None, None, None, None, 0, None)  # api#7 is pending, not 0


def test_daily_repo_and_team_scopes(warehouse):
    rows = by(query(warehouse, "select * from marts.mart_dora_daily where day = '2026-11-02'"),
              "scope_type", "scope_id")
    assert set(rows) == {("org", "org"), ("team", "platform"), ("team", "growth"), ("repo", API), ("repo", WEB)}
    assert (rows[("repo", API)]["deployments"], rows[("repo", API)]["lead_time_s_p50"]) == (1, 90600)
    assert (rows[("team", "growth")]["deployments"], rows[("team", "growth")]["lead_time_s_p90"]) == (1, 6900)


def test_weekly_deployment_days(warehouse):
    rows = by(query(warehouse, "select * from marts.mart_dora_weekly where scope_type = 'org'"), "week_start")
    # Week of Mon 11-02: deployments on 11-02 (2), 11-03, 11-05, 11-06 -> 5 deployments on 4 days (11-02..08).
    # Week of Mon 11-09: 11-09 (2) -> 2 deployments, 1 day, covering 11-09 and 11-10 only.
    week1, week2 = (rows[datetime(2026, 11, d).date()] for d in (2, 9))
    assert (week1["deployments"], week1["deployment_days"], week1["days_covered"]) == (5, 4, 7)
    assert (week2["deployments"], week2["deployment_days"], week2["days_covered"]) == (2, 1, 2)


def test_tiers_as_of_the_run_date(warehouse):
    rows = query(warehouse, "select * from marts.mart_dora_tier where day = '2026-11-10'")
    got = {(r["scope_id"], r["metric"]): (r["value"], r["tier"]) for r in rows}
    assert {r["benchmark_year"] for r in rows} == {2023}
    # org, 30 days to 11-10: 7 deployments -> 7/30 = 0.2333/day (>= 1/7: high); lead times sorted
    # {0, 6900, 76800, 77700, 87600, 90600, 258000} -> median 77700 s < 1 day: elite; 3 of 7 failed = 42.86 %: low;
    # restore times {11400} -> 11400 s: < 1 day, not < 1 h: high.
    assert got[("org", "deployment_frequency")] == (pytest.approx(7 / 30), "high")
    assert got[("org", "lead_time")] == (77700, "elite")
    assert got[("org", "change_failure_rate")] == (pytest.approx(300 / 7), "low")
    assert got[("org", "time_to_restore")] == (11400, "high")
    # growth: 1 deployment = 1/30 per day, exactly the monthly bound: medium; no failure: CFR 0 % elite;
    # no restored failure: time to restore NULL with no tier.
    assert got[("growth", "deployment_frequency")] == (pytest.approx(1 / 30), "medium")
    assert got[("growth", "change_failure_rate")] == (0.0, "elite")
    assert got[("growth", "time_to_restore")] == (None, None)
    # platform: 6 deployments (0.2/day: high), 3 failed (50 %: low), lead times {0, 76800, 77700, 87600, 90600,
    # 258000} -> median (77700 + 87600) / 2 = 82650: elite.
    assert got[("platform", "lead_time")] == (82650, "elite")
    assert got[("platform", "change_failure_rate")] == (50.0, "low")


def test_data_quality_counts(warehouse):
    rows = by(query(warehouse, "select * from marts.mart_dora_data_quality"), "scope_type", "scope_id")
    org = rows[("org", "org")]
    # 8 merged into main (api#1-7, web#101); 7 deployed, api#7 pending; api#6 clamped twice (coding: authored
    # 3 h after opening; lead time: authored 2 h after its deployment); web#101 had no commits.
    assert (org["merged_pull_requests"], org["deployed_pull_requests"], org["pending_pull_requests"]) == (8, 7, 1)
    assert (org["clamped_pull_requests"], org["clamped_coding_spans"], org["clamped_lead_time_spans"],
            org["clamped_review_spans"], org["clamped_deploy_spans"]) == (1, 1, 1, 0, 0)
    assert (org["pull_requests_without_commits"], org["commit_list_capped_pull_requests"]) == (1, 0)
    web = rows[("repo", WEB)]
    assert (web["pull_requests_without_commits"], web["pending_pull_requests"]) == (1, 0)


# --- tier boundaries -----------------------------------------------------------------------------------------

RUN_DAY = "2026-11-30"  # the 30-day window ending 11-30 is 11-01 .. 11-30
BOUNDARY_VARS = {"run_date": RUN_DAY, "as_of": "2026-12-01T00:00:00Z", "reporting_timezone": "UTC",
                 "dora_deploy_workflows": {"acme/wf": "Deploy", "acme/trunkwf": "Deploy"}}


def _at(day: int, hour: int = 10, minute: int = 0, second: int = 0) -> str:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def boundaries(tmp_path_factory) -> Path:
    gh, pulls, incidents, services = Github(), [], [], []
    next_id = iter(range(1000, 100000))

    def repo(name: str) -> str:
        full = f"acme/{name}"
        gh.repos.append((full, name))  # each repository is its own team
        return full

    def deploy(full: str, day: int, hour: int = 10) -> tuple[int, str]:
        dep_id = next(next_id)
        gh.deploy(full, dep_id, "production", _at(day, hour), ("success", _at(day, hour, 5)))
        return dep_id, _at(day, hour, 5)

    # Deployment frequency: n deployments in the window -> n / 30 per day.
    for n in (30, 29, 5, 4, 1, 0):
        full = repo(f"freq{n}")
        for day in range(1, n + 1):
            deploy(full, day)
    # Lead time: one PR deployed 11-20 10:05 whose first commit is `lead` seconds earlier.
    for lead in (86399, 86400, 604799, 604800, 2591999, 2592000):
        full = repo(f"lead{lead}")
        _, deployed = deploy(full, 20)
        first = datetime.fromtimestamp(ts(deployed).timestamp() - lead, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        pulls.append((full, merged_pull(1, first, _at(20, 9))))
        gh.commits.append((full, 1, _at(20, 9), commit("c1", first)))
    # Change failure rate: `total` daily deployments, the first `failed` followed by a hotfix PR merged 1 h later.
    for total, failed in ((20, 1), (19, 1), (10, 1), (20, 3), (13, 2)):
        full = repo(f"cfr{total}x{failed}")
        for day in range(1, total + 1):
            deploy(full, day)
            if day <= failed:
                pulls.append((full, merged_pull(day, _at(day, 10, 30), _at(day, 11), labels=("hotfix",))))
    # Time to restore: one deployment 11-10 10:05, an incident 1 min later resolved `ttr` s after the deployment.
    for ttr in (3599, 3600, 86399, 86400, 604799, 604800):
        full = repo(f"ttr{ttr}")
        _, deployed = deploy(full, 10)
        service = (f"PT{ttr}", f"svc-{ttr}")
        services.append(pd_service(*service))
        gh.repo_services.append((full, service[0]))
        resolved = datetime.fromtimestamp(ts(deployed).timestamp() + ttr, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        incidents.append(pd_incident(f"I{ttr}", service, _at(10, 10, 6), resolved, number=len(incidents) + 1))
    # Workflow runs as the deploy source of acme/wf (var dora_deploy_workflows): only a completed, successful
    # Deploy run on main counts; its GitHub deployment is ignored (runs replace deployments for that repo).
    wf = repo("wf")
    gh.deploy(wf, 99999, "production", _at(20), ("success", _at(20, 10, 5)))
    gh.runs += [(wf, workflow_run(1, "Deploy", "main", "completed", "success", _at(20, 9), _at(20, 9, 7))),
                (wf, workflow_run(2, "Deploy", "main", "completed", "failure", _at(21, 9), _at(21, 9, 7))),
                (wf, workflow_run(3, "Deploy", "feature-x", "completed", "success", _at(22, 9), _at(22, 9, 7))),
                (wf, workflow_run(4, "CI", "main", "completed", "success", _at(23, 9), _at(23, 9, 7))),
                (wf, workflow_run(5, "Deploy", "main", "in_progress", None, _at(24, 9), _at(24, 9)))]
    # As the API sends them: runs without repository.default_branch, whose repository's default branch is
    # `trunk` (raw.github__repositories): the run on trunk is the deployment, not the one on a `main` branch.
    trunk = repo("trunkwf")
    gh.repositories.append((trunk, "trunk"))
    for run_id, branch in ((11, "trunk"), (12, "main")):
        run = workflow_run(run_id, "Deploy", branch, "completed", "success", _at(20, 9 + run_id - 11),
                           _at(20, 9 + run_id - 11, 7))
        del run["repository"]["default_branch"]
        gh.runs.append((trunk, run))
    raw = RawData(pagerduty_services=services, pagerduty_incidents=incidents, github_pulls=pulls,
                  config_services=[(s["id"], s["name"], None) for s in services])
    return build(tmp_path_factory.mktemp("dora_tiers"), raw, gh, BOUNDARY_VARS)


def tiers(warehouse: Path, metric: str) -> dict[str, tuple[float | None, str | None]]:
    rows = query(warehouse, "select scope_id, value, tier from marts.mart_dora_tier "
                            "where day = ? and scope_type = 'team' and metric = ?", [RUN_DAY, metric])
    return {r["scope_id"]: (r["value"], r["tier"]) for r in rows}


def test_a_tier_is_provisional_until_its_30_days_lie_inside_the_dora_grid(boundaries):
    """Issue 18: mart_dora_daily starts on the first deployment or merge (no history window in a hand-built
    warehouse): freq30's deployment 11-01 10:05 and cfr20x1's hotfix merged 11-01 11:00 (lead2592000's pull request
    was opened 10-21 but merged 11-20: an opening does not start the grid). A 30-day tier ending on day d covers
    d - 29 .. d, so it is complete from 11-30 (11-01 .. 11-30) and provisional on each of 11-01 .. 11-29."""
    first = date(2026, 11, 1)
    assert query(boundaries, "select min(day) as day from marts.mart_dora_daily")[0]["day"] == first
    rows = query(boundaries, """
        select day, bool_and(sample_complete) as all_complete, bool_or(sample_complete) as any_complete,
               count(*) as n
        from marts.mart_dora_tier group by day""")
    got = {r["day"]: (r["all_complete"], r["any_complete"]) for r in rows}
    assert sorted(got) == [first + timedelta(days=i) for i in range(30)]  # the tier's days are the grid's
    assert {r["n"] for r in rows} == {rows[0]["n"]} and rows[0]["n"] > 0  # every scope and metric, every day
    for day, complete in got.items():
        assert complete == ((True, True) if day == date(2026, 11, 30) else (False, False)), day


def test_deployment_frequency_tier_boundaries(boundaries):
    got = tiers(boundaries, "deployment_frequency")
    # >= 1/day elite; >= 1/week (0.142857) high; >= 1/month (1/30) medium; else low.
    assert got["freq30"] == (1.0, "elite")                            # 30 / 30 = 1.0
    assert got["freq29"] == (pytest.approx(29 / 30), "high")          # 0.967
    assert got["freq5"] == (pytest.approx(5 / 30), "high")            # 0.167 >= 0.143
    assert got["freq4"] == (pytest.approx(4 / 30), "medium")          # 0.133 < 0.143
    assert got["freq1"] == (pytest.approx(1 / 30), "medium")          # exactly once a month
    assert got["freq0"] == (0.0, "low")


def test_lead_time_tier_boundaries(boundaries):
    got = tiers(boundaries, "lead_time")
    # < 1 day (86400 s) elite; < 1 week (604800) high; < 30 days (2592000) medium; else low.
    assert {k: v for k, v in got.items() if k.startswith("lead")} == {
        "lead86399": (86399, "elite"), "lead86400": (86400, "high"),
        "lead604799": (604799, "high"), "lead604800": (604800, "medium"),
        "lead2591999": (2591999, "medium"), "lead2592000": (2592000, "low"),
    }


def test_change_failure_rate_tier_boundaries(boundaries):
    got = tiers(boundaries, "change_failure_rate")
    # <= 5 % elite; <= 10 % high; <= 15 % medium; else low.
    assert got["cfr20x1"] == (5.0, "elite")                           # 1/20
    assert got["cfr19x1"] == (pytest.approx(100 / 19), "high")        # 5.26 %
    assert got["cfr10x1"] == (10.0, "high")                           # 1/10
    assert got["cfr20x3"] == (15.0, "medium")                         # 3/20
    assert got["cfr13x2"] == (pytest.approx(200 / 13), "low")         # 15.38 %


def test_time_to_restore_tier_boundaries(boundaries):
    got = tiers(boundaries, "time_to_restore")
    # < 1 h (3600 s) elite; < 1 day high; < 1 week (604800) medium; else low.
    assert {k: v for k, v in got.items() if k.startswith("ttr")} == {
        "ttr3599": (3599, "elite"), "ttr3600": (3600, "high"), "ttr86399": (86399, "high"),
        "ttr86400": (86400, "medium"), "ttr604799": (604799, "medium"), "ttr604800": (604800, "low"),
    }


def test_deploy_workflow_runs_replace_deployments(boundaries):
    rows = query(boundaries, "select deployment_id, deployed_at, environment from marts.fct_deployments "
                             "where repo = 'acme/wf'")
    # Run 1 only: 2 failed, 3 not on main, 4 is CI, 5 still running; GitHub deployment 99999 is ignored.
    assert rows == [{"deployment_id": "run:1", "deployed_at": ts(_at(20, 9, 7)), "environment": "production"}]


def test_workflow_runs_count_on_the_repositorys_own_default_branch(boundaries):
    """Runs carry no default branch (as the API sends them): it comes from GET /repos/{o}/{r} (`trunk` here),
    never from a `main` guess, which would count run 12 (on a `main` branch) and lose run 11."""
    rows = query(boundaries, "select deployment_id, deployed_at from marts.fct_deployments where repo = 'acme/trunkwf'")
    assert rows == [{"deployment_id": "run:11", "deployed_at": ts(_at(20, 9, 7))}]


def test_a_repository_read_after_its_runs_still_decides_their_branch(tmp_path):
    """Workflow-run staging is incremental by run: the repository's default branch must be joined downstream,
    so a repository row loaded after the runs (its batch quarantined the first night), or a default branch
    renamed later, reaches runs staged before, exactly as a full refresh would."""
    gh = Github()
    gh.repos.append(("acme/trunkwf", "trunkwf"))
    for run_id, branch in ((11, "trunk"), (12, "main")):
        run = workflow_run(run_id, "Deploy", branch, "completed", "success", _at(20, 9 + run_id - 11),
                           _at(20, 9 + run_id - 11, 7))
        del run["repository"]["default_branch"]
        gh.runs.append(("acme/trunkwf", run))
    raw = RawData(config_services=[("PX", "svc-x", None)])
    warehouse = build(tmp_path, raw, gh, BOUNDARY_VARS)  # night 1: no repository row yet

    def deployments() -> list[str]:
        return [r["deployment_id"] for r in query(
            warehouse, "select deployment_id from marts.fct_deployments where repo = 'acme/trunkwf' order by 1")]

    assert deployments() == []  # the branch is unknown: no run is taken for a deployment on a guess
    with duckdb.connect(str(warehouse)) as con:  # night 2: the repository arrives, the runs do not change
        con.execute("insert into raw.github__repositories values ('acme/trunkwf', 1, 'acme/trunkwf', 'trunk', "
                    "?, '{}', 'night-2', now())", [LOADED])
    check_dbt_build(warehouse, BOUNDARY_VARS, tmp_path / "night2", AREA)
    assert deployments() == ["run:11"]
    with duckdb.connect(str(warehouse)) as con:  # night 3: the default branch is renamed to main
        con.execute("update raw.github__repositories set default_branch = 'main', _loaded_at = now()")
    check_dbt_build(warehouse, BOUNDARY_VARS, tmp_path / "night3", AREA)
    assert deployments() == ["run:12"]


def test_unknown_benchmark_year_fails_the_build(boundaries, tmp_path):
    result = run_dbt_build(boundaries, {**BOUNDARY_VARS, "dora_benchmark_year": 2099}, tmp_path, AREA)
    assert result.returncode != 0 and "assert_dora_benchmark_year_in_seed" in result.stdout


def test_harness_raw_tables_match_the_stream_declarations(warehouse):
    # The harness creates the raw tables by hand; they must be what the loader creates from the declarations.
    from opskpi.load import SQL_TYPES
    from opskpi.pipeline import declared_streams

    dora_streams = {"pull_commits", "deployments", "deployment_statuses", "releases", "workflow_runs"}
    for stream in declared_streams():
        if stream.source != "github" or stream.name not in dora_streams:
            continue
        rows = query(warehouse, "select column_name, data_type from information_schema.columns "
                                "where table_schema = 'raw' and table_name = ? order by ordinal_position", [stream.key])
        expected = [(c.name, SQL_TYPES[c.kind]) for c in stream.columns]
        expected += [("record", "JSON"), ("_batch_id", "VARCHAR"), ("_loaded_at", "TIMESTAMP WITH TIME ZONE")]
        assert [(r["column_name"], r["data_type"]) for r in rows] == [
            (n, "TIMESTAMP WITH TIME ZONE" if t == "TIMESTAMPTZ" else t) for n, t in expected], stream.key


def test_a_hotfix_merged_into_a_release_branch_fails_the_deployment(warehouse):
    """The contract counts revert and hotfix pull requests whatever branch they were merged into (issue 18):
    api#8, a hotfix merged into release/2026.10 23 h 40 min after D2, is a cause of D2's failure; with
    dora.failure_pull_request_branches = default it is not."""
    sql = "select deployment_id, failure_link, pull_number from intermediate.int_dora_failure_links order by all"
    links = {(r["deployment_id"], r["failure_link"], r["pull_number"]) for r in query(warehouse, sql)}
    assert ("2", "hotfix_label", 8) in links
    default_only = {(r["deployment_id"], r["failure_link"], r["pull_number"])
                    for r in query(warehouse.parent / "default_branch" / "warehouse.duckdb", sql)}
    assert links - default_only == {("2", "hotfix_label", 8)}


def test_change_detection_from_the_failure_links(warehouse):
    """Time to detect (a), contract §1 case 5 on this scenario: D2 (deployed 11-03 10:20) fails through I1 (created
    12:00): 6,000 s on 11-03 (I2 and the hotfix api#8 are later causes of the same failure). D5 fails only through the
    revert api#4 (merged 11-05 12:00), D6 only through the hotfix api#5 (merged 11-06 10:00): no moment of
    detection, one unknown each on the day of the merge. acme/web never fails."""
    rows = {r["deployment_id"]: r for r in query(warehouse, "select * from intermediate.int_dora_change_detection")}
    assert set(rows) == {"2", "5", "6"}
    assert (rows["2"]["change_detection_s"], rows["2"]["is_unknown"], str(rows["2"]["day"])) == (
        6000.0, False, "2026-11-03")
    assert [(rows[d]["change_detection_s"], rows[d]["is_unknown"], str(rows[d]["day"])) for d in ("5", "6")] == [
        (None, True, "2026-11-05"), (None, True, "2026-11-06")]
    mart = {(str(r["day"]), r["scope_type"], r["scope_id"]): r
            for r in query(warehouse, "select * from marts.mart_detection_daily")}
    for scope in (("repo", API), ("team", "platform"), ("org", "org")):
        day3, day5 = mart[("2026-11-03", *scope)], mart[("2026-11-05", *scope)]
        assert (day3["change_detection_s_p50"], day3["change_detection_sample_size"],
                day3["change_detection_unknown"]) == (6000.0, 1, 0), scope
        assert (day5["change_detection_s_p50"], day5["change_detection_sample_size"],
                day5["change_detection_unknown"]) == (None, 0, 1), scope
    web = mart[("2026-11-03", "repo", WEB)]
    assert (web["change_detection_sample_size"], web["change_detection_unknown"], web["incidents_eligible"]) == (
        0, 0, None)
    # service rows carry no change detection
    assert mart[("2026-11-03", "service", "PSVC1")]["change_detection_sample_size"] is None


# --- deployment rework rate (contract wave 2 §6) ------------------------------------------------------------

REWORK_VARS = {"run_date": "2026-11-06", "as_of": "2026-11-07T00:00:00Z", "reporting_timezone": "UTC",
               "dora_deploy_workflows": {"acme/rwf": "Deploy"}}


@pytest.fixture(scope="module")
def rework(tmp_path_factory) -> Path:
    """Rework scenario (UTC, run_date 11-06), each repository its own team:
      acme/r1 (case 1): D11 11-02 10:05 ships feature #1 (merged 09:00); hotfix #2 (label hotfix) is merged 12:05,
              2 h after D11, and D12 (11-02 14:05) ships it. (case 4) hotfix #3 merged 11-04 09:00 into release/1
              is in no fct_pull_requests row: D13 (11-04 10:05) ships nothing and is not rework (nor failed: #3
              came 42 h 55 min after D12, outside its 24 h window). 11-03, 11-05, 11-06: no deployment.
      acme/r2 (cases 2, 3): D21 11-02 10:05 ships feature #1 and the reverts #2 'Revert "A"' and #3 'Revert "B"'
              (merged 09:00-09:20, before any deployment of r2: no failure link); D22 11-03 10:05 ships only #4
              'Revert "Revert "C""' (merged 09:00, 22 h 55 min after D21: D21 failed by it too).
      acme/rwf (case 5): deploys by the Deploy workflow; run 31 (completed 11-02 10:07) ships hotfix #1 (merged
              09:00).
    """
    gh, pulls = Github(), []
    for name in ("r1", "r2", "rwf"):
        gh.repos.append((f"acme/{name}", name))
    for repo, dep_id, day, hour in (("acme/r1", 11, 2, 10), ("acme/r1", 12, 2, 14), ("acme/r1", 13, 4, 10),
                                    ("acme/r2", 21, 2, 10), ("acme/r2", 22, 3, 10)):
        gh.deploy(repo, dep_id, "production", _at(day, hour), ("success", _at(day, hour, 5)))
    pulls += [("acme/r1", merged_pull(1, _at(2, 8), _at(2, 9))),
              ("acme/r1", merged_pull(2, _at(2, 11), _at(2, 12, 5), labels=("hotfix",))),
              ("acme/r1", merged_pull(3, _at(4, 8), _at(4, 9), labels=("hotfix",), base_ref="release/1")),
              ("acme/r2", merged_pull(1, _at(2, 8), _at(2, 9))),
              ("acme/r2", merged_pull(2, _at(2, 8), _at(2, 9, 10), title='Revert "A"')),
              ("acme/r2", merged_pull(3, _at(2, 8), _at(2, 9, 20), title='Revert "B"')),
              ("acme/r2", merged_pull(4, _at(3, 8), _at(3, 9), title='Revert "Revert "C""')),
              ("acme/rwf", merged_pull(1, _at(2, 8), _at(2, 9), labels=("hotfix",)))]
    gh.runs.append(("acme/rwf", workflow_run(31, "Deploy", "main", "completed", "success", _at(2, 10),
                                             _at(2, 10, 7))))
    raw = RawData(github_pulls=pulls, config_services=[("PX", "svc-x", None)])
    return build(tmp_path_factory.mktemp("dora_rework"), raw, gh, REWORK_VARS)


def test_rework_marks_the_deployment_that_ships_the_fix(rework):
    rows = by(query(rework, "select * from marts.fct_deployments"), "deployment_id")
    got = {k: (r["is_failed"], r["is_rework"], r["rework_pull_requests"]) for k, r in rows.items()}
    assert got == {
        "11": (True, False, 0),      # case 1: D1 broke (hotfix #2 merged 2 h later) and ships no fix: failed
        "12": (False, True, 1),      # case 1: D2 ships hotfix #2: rework
        "13": (False, False, 0),     # case 4: the release-branch hotfix #3 is shipped by no deployment
        "21": (True, True, 2),       # case 2: a feature and two reverts: one rework deployment (failed by #4)
        "22": (False, True, 1),      # case 3: 'Revert "Revert "C""' counts
        "run:31": (False, True, 1),  # case 5: a dora.deploy_workflows run that ships a hotfix is rework
    }


def test_rework_rate_per_day_and_scope(rework):
    rows = by(query(rework, "select * from marts.mart_dora_daily"), "day", "scope_type", "scope_id")

    def rate(day: int, scope_type: str, scope_id: str) -> tuple:
        r = rows[(datetime(2026, 11, day).date(), scope_type, scope_id)]
        return r["deployments"], r["failed_deployments"], r["rework_deployments"], r["deployment_rework_rate_pct"]

    # case 1, acme/r1 on 11-02: D11 failed, D12 rework -> 1 rework of 2 deployments = 50 %
    assert rate(2, "repo", "acme/r1") == (2, 1, 1, 50.0)
    # case 4: a day without deployments is NULL, never 0
    assert rate(3, "repo", "acme/r1") == (0, 0, 0, None)
    assert rate(4, "repo", "acme/r1") == (1, 0, 0, 0.0)
    # case 2: D21 is one rework deployment though it ships two reverts
    assert rate(2, "team", "r2") == (1, 1, 1, 100.0)
    # org 11-02: D11, D12, D21, run:31 -> rework D12, D21, run:31 = 3 of 4 = 75 %; failed D11, D21 = 2 of 4
    assert rate(2, "org", "org") == (4, 2, 3, 75.0)
    assert rate(3, "org", "org") == (1, 0, 1, 100.0)   # D22 (case 3)
    assert rate(5, "org", "org") == (0, 0, 0, None)
