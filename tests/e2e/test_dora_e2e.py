"""DORA end to end: the pipeline against the emulator (non-default seed) equals DORA computed independently.

The reference below reads the emulator with plain `requests` (no pipeline code, no SQL) and applies the
definitions of docs/metrics.md directly: production deployments timed at their first success status, the
infra repository's successful Deploy runs instead, lead time from the earliest commit author date to the first
deployment at or after the merge, change failures by incident / revert / hotfix (merged into any branch) within
24 h and before the next deployment, time to restore from the linked incident. Two runs (the shared ones of
org_runs.py): a first full one, then — after the clock moved a day, so a late deployment status and a re-run
deploy arrive — an incremental one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests

from tests.e2e.org_runs import DAY1, DAY2, DEPLOY_WORKFLOWS, GH, OrgRuns, gh_all, pd_all

pytestmark = pytest.mark.e2e
WINDOW = timedelta(hours=24)
PRODUCTION = {"production", "prod"}


# --- plain reads of the emulator ---------------------------------------------------------------------------


def ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (what quantile_cont computes)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- the reference -------------------------------------------------------------------------------------------


def reference(base: str, teams: dict, links: dict, as_of: datetime) -> dict:
    incidents = [i for i in pd_all(f"{base}/pagerduty/incidents", "incidents",
                                   {"date_range": "all", "time_zone": "UTC"}) if ts(i["created_at"]) <= as_of]
    deployments, pulls, failure_pulls = [], [], []
    for repo in teams:
        api = f"{base}/github/repos/{repo}"
        for pr in gh_all(f"{api}/pulls", {"state": "all"}):
            merged = ts(pr["merged_at"])
            if merged is None or merged > as_of:
                continue
            revert = pr["title"].startswith("Revert")
            hotfix = any(label["name"].lower() == "hotfix" for label in pr["labels"])
            if revert or hotfix:  # a failure whatever branch it was merged into (the contract)
                failure_pulls.append({"repo": repo, "merged_at": merged, "revert": revert, "hotfix": hotfix})
            if pr["base"]["ref"] != pr["base"]["repo"]["default_branch"]:
                continue  # lead time: pull requests into the default branch only
            commits = gh_all(f"{api}/pulls/{pr['number']}/commits")
            first = min((ts(c["commit"]["author"]["date"]) for c in commits), default=ts(pr["created_at"]))
            pulls.append({"repo": repo, "number": pr["number"], "merged_at": merged, "first_commit_at": first})
        if repo in DEPLOY_WORKFLOWS:
            default_branch = requests.get(api, headers=GH, timeout=30).json()["default_branch"]
            for run in gh_all(f"{api}/actions/runs", key="workflow_runs"):
                if (run["name"] == DEPLOY_WORKFLOWS[repo] and run["status"] == "completed"
                        and run["conclusion"] == "success" and run["head_branch"] == default_branch
                        and ts(run["updated_at"]) <= as_of):
                    deployments.append({"id": f"run:{run['id']}", "repo": repo, "at": ts(run["updated_at"])})
            continue
        for d in gh_all(f"{api}/deployments"):
            if d["environment"].lower() not in PRODUCTION:
                continue
            successes = [ts(s["created_at"]) for s in gh_all(f"{api}/deployments/{d['id']}/statuses")
                         if s["state"] == "success" and ts(s["created_at"]) <= as_of]
            if successes:
                deployments.append({"id": str(d["id"]), "repo": repo, "at": min(successes)})

    by_repo = defaultdict(list)
    for d in deployments:
        by_repo[d["repo"]].append(d)
    for repo_deployments in by_repo.values():
        repo_deployments.sort(key=lambda d: (d["at"], d["id"]))
        for d, nxt in zip(repo_deployments, repo_deployments[1:] + [None], strict=True):
            end = d["at"] + WINDOW

            def inside(moment, d=d, nxt=nxt, end=end):
                return d["at"] <= moment <= end and (nxt is None or moment < nxt["at"])

            hits = sorted((ts(i["created_at"]), i["id"], ts(i["resolved_at"])) for i in incidents
                          if i["service"]["id"] in links[d["repo"]] and inside(ts(i["created_at"])))
            repo_pulls = [p for p in failure_pulls if p["repo"] == d["repo"] and inside(p["merged_at"])]
            d["link"], d["incident"], d["ttr"] = None, None, None
            if hits:
                d["link"], d["incident"] = "incident_window", hits[0][1]
                resolved = hits[0][2]
                if resolved is not None and resolved <= as_of:
                    d["ttr"] = (resolved - d["at"]).total_seconds()
            elif any(p["revert"] for p in repo_pulls):
                d["link"] = "revert_pr"
            elif any(p["hotfix"] for p in repo_pulls):
                d["link"] = "hotfix_label"
    for p in pulls:
        after = [d for d in by_repo[p["repo"]] if d["at"] >= p["merged_at"]]
        first = min(after, key=lambda d: (d["at"], d["id"]), default=None)
        p["deployment"] = first["id"] if first else None
        p["deployed_at"] = first["at"] if first else None
        p["lead"] = None if first is None else max(0.0, (first["at"] - p["first_commit_at"]).total_seconds())
    return {"deployments": {d["id"]: d for d in deployments}, "pulls": {(p["repo"], p["number"]): p for p in pulls}}


def org_daily(ref: dict, day: date) -> tuple:
    deps = [d for d in ref["deployments"].values() if d["at"].date() == day]
    leads = [p["lead"] for p in ref["pulls"].values() if p["deployed_at"] and p["deployed_at"].date() == day]
    failed = sum(d["link"] is not None for d in deps)
    return (len(deps), failed, 100.0 * failed / len(deps) if deps else None, quantile(leads, 0.5),
            quantile(leads, 0.9), len(leads))


def org_tier_values(ref: dict, day: date) -> dict:
    start = day - timedelta(days=29)
    deps = [d for d in ref["deployments"].values() if start <= d["at"].date() <= day]
    leads = [p["lead"] for p in ref["pulls"].values() if p["deployed_at"] and start <= p["deployed_at"].date() <= day]
    failed = [d for d in deps if d["link"] is not None]
    return {"deployment_frequency": len(deps) / 30, "lead_time": quantile(leads, 0.5),
            "change_failure_rate": 100.0 * len(failed) / len(deps) if deps else None,
            "time_to_restore": quantile([d["ttr"] for d in failed if d["ttr"] is not None], 0.5)}


# --- the pipeline --------------------------------------------------------------------------------------------


def published(data_dir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(data_dir / "published" / "opskpi.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def check(data_dir: Path, ref: dict, run_date: date) -> None:
    got = {r[0]: r[1:] for r in published(data_dir, "select deployment_id, repo, deployed_at, is_failed, "
                                                    "failure_link, linked_incident_id, time_to_restore_s "
                                                    "from marts.fct_deployments")}
    want = ref["deployments"]
    assert set(got) == set(want), (sorted(set(want) - set(got))[:5], sorted(set(got) - set(want))[:5])
    for key, d in want.items():
        repo, at, failed, link, incident, ttr = got[key]
        assert (repo, at, failed, link, incident) == (d["repo"], d["at"], d["link"] is not None, d["link"],
                                                      d["incident"]), key
        assert ttr == pytest.approx(d["ttr"]) if d["ttr"] is not None else ttr is None, key
    pulls = {(r[0], r[1]): r[2:] for r in published(data_dir, "select repo, number, deployment_id, lead_time_s "
                                                              "from marts.fct_pull_requests")}
    assert set(pulls) == set(ref["pulls"])
    for key, p in ref["pulls"].items():
        assert pulls[key][0] == p["deployment"], key
        assert pulls[key][1] == (pytest.approx(p["lead"]) if p["lead"] is not None else None), key
    daily = {r[0]: r[1:] for r in published(data_dir, "select day, deployments, failed_deployments, "
                                                      "change_failure_rate_pct, lead_time_s_p50, lead_time_s_p90, "
                                                      "lead_time_sample_size from marts.mart_dora_daily "
                                                      "where scope_type = 'org'")}
    assert max(daily) == run_date and len(daily) == (run_date - min(daily)).days + 1
    for day, row in daily.items():
        assert row == pytest.approx(org_daily(ref, day)), day
    tiers = {r[0]: r[1] for r in published(data_dir, "select metric, value from marts.mart_dora_tier "
                                                     f"where scope_type = 'org' and day = '{run_date}'")}
    assert tiers == pytest.approx(org_tier_values(ref, run_date))


def test_dora_matches_the_api_after_a_full_and_an_incremental_run(org_runs: OrgRuns):
    teams, links = org_runs.teams, org_runs.links
    with org_runs.api(DAY1) as base:
        first = reference(base, teams, links, datetime(2026, 11, 20, tzinfo=UTC))
    assert sum(d["link"] is not None for d in first["deployments"].values()) >= 3
    assert {d["link"] for d in first["deployments"].values()} >= {"incident_window", None}
    assert any(p["deployment"] is None for p in first["pulls"].values()), "pending pull requests exist"
    assert any(k.startswith("run:") for k in first["deployments"]), "infra deploys through its workflow"
    check(org_runs.data_dir(DAY1), first, DAY1)

    with org_runs.api(DAY2) as base:
        second = reference(base, teams, links, datetime(2026, 11, 21, tzinfo=UTC))
    # What only an incremental run that re-reads recent history sees: the api deployment created
    # 2026-11-19 22:00 whose success status arrived 2026-11-20 09:00, and the infra Deploy run that failed
    # 10 days ago and was re-run successfully on 2026-11-20.
    late = [d for d in second["deployments"].values() if d["repo"] == "acme/api"
            and d["at"] == datetime(2026, 11, 20, 9, tzinfo=UTC)]
    rerun = [d for k, d in second["deployments"].items() if k.startswith("run:") and k not in first["deployments"]
             and d["at"].date() == date(2026, 11, 20) and d["at"].hour >= 8]
    assert late and rerun
    check(org_runs.data_dir(DAY2), second, DAY2)
