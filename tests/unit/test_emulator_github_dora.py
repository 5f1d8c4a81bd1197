"""GitHub emulation of the DORA sources: PR commits (250 cap), deployments and statuses, releases (1,000 cap),
Actions workflow runs (object envelope, `created` syntax, 1,000 cap per filtered query), and realistic data."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from emulator.server import start_emulator

GH = {"Authorization": "Bearer gh-demo-token"}
NOW = datetime(2026, 11, 20, 6, tzinfo=UTC)


def ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def emu():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as handle:
        yield handle


def get(emu, path: str, **params) -> requests.Response:
    return requests.get(emu.github_url + path, headers=GH, params=params, timeout=30)


def walk(emu, path: str, key: str | None = None, **params) -> list[dict]:
    out, resp = [], get(emu, path, per_page=100, **params)
    while True:
        assert resp.status_code == 200, resp.text
        out += resp.json()[key] if key else resp.json()
        nxt = resp.links.get("next", {}).get("url")
        if not nxt:
            return out
        assert "/repositories/" in nxt
        resp = requests.get(nxt, headers=GH, timeout=30)


def test_pull_commits_are_oldest_first_and_capped_at_250(emu):
    data = emu.app.world.github
    huge = next(p for p in data.pulls if p.n == data.huge_pull_n)
    path = f"/repos/acme/{data.repos[huge.repo_index].name}/pulls/{huge.number}"
    assert get(emu, path).json()["commits"] == 320
    first = get(emu, path + "/commits", per_page=100)
    assert first.links["last"]["url"].endswith("page=3")
    commits = walk(emu, path + "/commits")
    assert len(commits) == 250
    assert [c["parents"][0]["sha"] for c in commits[1:]] == [c["sha"] for c in commits[:-1]]
    one = commits[0]
    assert set(one) >= {"sha", "node_id", "commit", "author", "committer", "parents", "url", "html_url"}
    assert set(one["commit"]) >= {"author", "committer", "message", "tree", "verification", "comment_count"}
    assert get(emu, "/repos/acme/api/pulls/999999/commits").status_code == 404


def test_clock_skewed_commit_is_authored_after_the_merge(emu):
    web = walk(emu, "/repos/acme/web/pulls", state="all")
    hotfix = next(p for p in web if p["title"].startswith("Hotfix") and ts(p["created_at"]) > NOW - timedelta(days=3))
    commits = walk(emu, f"/repos/acme/web/pulls/{hotfix['number']}/commits")
    assert min(ts(c["commit"]["author"]["date"]) for c in commits) > ts(hotfix["merged_at"])


def test_deployments_newest_first_with_environment_filter_and_statuses(emu):
    deployments = walk(emu, "/repos/acme/api/deployments")
    created = [d["created_at"] for d in deployments]
    assert created == sorted(created, reverse=True)
    assert {d["environment"] for d in deployments} == {"production", "staging"}
    production = walk(emu, "/repos/acme/api/deployments", environment="production")
    assert production and {d["environment"] for d in production} == {"production"}
    assert len(production) == sum(d["environment"] == "production" for d in deployments)
    assert walk(emu, "/repos/acme/api/deployments", environment="Production") == []  # exact match
    sample = production[5]
    assert set(sample) >= {"id", "sha", "ref", "task", "environment", "created_at", "updated_at", "statuses_url",
                           "production_environment", "original_environment", "creator", "payload"}
    statuses = walk(emu, f"/repos/acme/api/deployments/{sample['id']}/statuses")
    times = [s["created_at"] for s in statuses]
    assert times == sorted(times, reverse=True)
    assert statuses[-1]["state"] == "in_progress" and statuses[0]["created_at"] > sample["created_at"]
    # GitHub documents no link between a new status and the deployment's `updated_at`: the emulator keeps it still.
    assert sample["updated_at"] == sample["created_at"]
    assert get(emu, f"/repos/acme/web/deployments/{sample['id']}/statuses").status_code == 404


def test_deployment_data_is_realistic(emu):
    web = walk(emu, "/repos/acme/web/deployments")
    assert {d["environment"] for d in web} == {"Production", "staging"}  # "Production": case must not matter
    states = Counter()
    for d in walk(emu, "/repos/acme/api/deployments", environment="production")[:150]:
        states.update(s["state"] for s in walk(emu, f"/repos/acme/api/deployments/{d['id']}/statuses"))
    assert {"success", "in_progress", "inactive"} <= set(states) and states["failure"] + states["error"] >= 1
    api_days = Counter(ts(d["created_at"]).date() for d in walk(emu, "/repos/acme/api/deployments",
                                                               environment="production"))
    assert max(api_days.values()) >= 4, "several production deployments a day in api"
    mobile = sorted(ts(d["created_at"]) for d in walk(emu, "/repos/acme/mobile/deployments",
                                                       environment="production"))
    assert max(b - a for a, b in zip(mobile, mobile[1:], strict=False)) >= timedelta(days=21), "weeks without"
    assert walk(emu, "/repos/acme/infra/deployments") == []  # infra deploys with its Deploy workflow


def test_a_deployment_status_arrives_after_the_clock():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as emu:
        late = next(d for d in walk(emu, "/repos/acme/api/deployments") if d["created_at"] == "2026-11-19T22:00:00Z")
        path = f"/repos/acme/api/deployments/{late['id']}/statuses"
        assert [s["state"] for s in walk(emu, path)] == ["in_progress"]
        # 09:00:30: the success (09:00) is there; a newer deployment will mark it inactive only at 09:01.
        requests.post(emu.base_url + "/__emulator/advance", json={"hours": 3, "seconds": 30},
                      timeout=10).raise_for_status()
        after = walk(emu, path)
        assert after[0]["state"] == "success" and after[0]["created_at"] == "2026-11-20T09:00:00Z"
        # ...and the deployment's `updated_at` stays where it was: a client must read statuses to see them.
        assert get(emu, f"/repos/acme/api/deployments/{late['id']}").json()["updated_at"] == "2026-11-19T22:00:00Z"


def test_prs_merged_and_never_deployed_reverts_and_hotfixes_exist(emu):
    pulls = walk(emu, "/repos/acme/api/pulls", state="all")
    assert any(p["title"].startswith("Revert") and p["merged_at"] for p in pulls)
    assert any("hotfix" in {label["name"] for label in p["labels"]} and p["merged_at"] for p in pulls)
    web = walk(emu, "/repos/acme/web/pulls", state="all")
    last_deploy = max(ts(d["created_at"]) for d in walk(emu, "/repos/acme/web/deployments", environment="Production"))
    assert any(p["merged_at"] and ts(p["merged_at"]) > last_deploy for p in web), "merged, not deployed yet"


def test_releases_newest_first_drafts_and_the_1000_cap(emu):
    releases = walk(emu, "/repos/acme/api/releases")
    assert [r["created_at"] for r in releases] == sorted((r["created_at"] for r in releases), reverse=True)
    draft = releases[0]
    assert draft["draft"] is True and draft["published_at"] is None
    assert all(r["published_at"] for r in releases[1:])
    refused = get(emu, "/repos/acme/api/releases", per_page=100, page=11)
    assert refused.status_code == 422
    assert refused.json()["message"] == "Only the first 1000 results are available."
    assert get(emu, "/repos/acme/api/releases", per_page=30, page=34).status_code == 200  # 991..1020 starts inside


def test_workflow_runs_envelope_created_syntax_and_cap(emu):
    body = get(emu, "/repos/acme/api/actions/runs", per_page=5).json()
    assert set(body) == {"total_count", "workflow_runs"} and len(body["workflow_runs"]) == 5
    run = body["workflow_runs"][0]
    assert set(run) >= {"id", "name", "head_branch", "head_sha", "run_number", "run_attempt", "event", "status",
                        "conclusion", "workflow_id", "created_at", "updated_at", "run_started_at", "head_commit"}
    unfiltered = get(emu, "/repos/acme/infra/actions/runs", per_page=100)
    total = unfiltered.json()["total_count"]
    assert total > 1000 and unfiltered.links["last"]["url"].endswith(f"page={-(-total // 100)}")
    day = "2026-11-10"
    forms = {
        f"{day}": (datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC)),
        f">={day}T12:00:00Z": (datetime(2026, 11, 10, 12, tzinfo=UTC), NOW + timedelta(seconds=1)),
        f"<{day}": (datetime(2000, 1, 1, tzinfo=UTC), datetime(2026, 11, 10, tzinfo=UTC)),
        f"{day}T00:00:00Z..{day}T05:59:59Z": (datetime(2026, 11, 10, tzinfo=UTC),
                                               datetime(2026, 11, 10, 6, tzinfo=UTC)),
        f"{day}..*": (datetime(2026, 11, 10, tzinfo=UTC), NOW + timedelta(seconds=1)),
    }
    everything = walk(emu, "/repos/acme/api/actions/runs", key="workflow_runs")
    for created, (lo, hi) in forms.items():
        expected = [r["id"] for r in everything if lo <= ts(r["created_at"]) < hi]
        got = walk(emu, "/repos/acme/api/actions/runs", key="workflow_runs", created=created)
        assert [r["id"] for r in got] == expected, created
    capped = get(emu, "/repos/acme/infra/actions/runs", per_page=100, created="<2026-11-20", page=10)
    assert capped.json()["total_count"] == 1000 and "next" not in capped.links  # strict: it counts to the cap
    assert get(emu, "/repos/acme/infra/actions/runs", per_page=100, created="<2026-11-20",
               page=11).json()["workflow_runs"] == []
    assert get(emu, "/repos/acme/api/actions/runs", created="yesterday").status_code == 422


def test_a_failed_deploy_run_is_rerun_after_the_clock():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as emu:
        runs = walk(emu, "/repos/acme/infra/actions/runs", key="workflow_runs", created="2026-11-10",
                    event="workflow_dispatch")
        assert [(r["conclusion"], r["run_attempt"]) for r in runs] == [("failure", 1)]
        requests.post(emu.base_url + "/__emulator/advance", json={"hours": 3}, timeout=10).raise_for_status()
        again = get(emu, "/repos/acme/infra/actions/runs", created="2026-11-10", event="workflow_dispatch").json()
        rerun = again["workflow_runs"][0]
        assert (rerun["id"], rerun["conclusion"], rerun["run_attempt"]) == (runs[0]["id"], "success", 2)
        assert ts(rerun["updated_at"]) > NOW and rerun["created_at"] == runs[0]["created_at"]


def test_repositories_carry_team_and_pagerduty_services(emu):
    repos = {r["name"]: r["custom_properties"] for r in walk(emu, "/orgs/acme/repos")}
    assert repos["api"] == {"team": "platform", "pagerduty-services": ["api-gateway", "auth-service"]}
    assert repos["web"]["pagerduty-services"] == ["web-frontend"]
    services = requests.get(emu.pagerduty_url + "/services", headers={"Authorization": "Token token=pd-demo-token"},
                            timeout=10).json()["services"]
    names = {s["name"] for s in services}
    assert all(set(p["pagerduty-services"]) <= names for p in repos.values())


def test_same_seed_same_bytes():
    def snapshot():
        with start_emulator(seed=5, now="2026-11-20T06:00:00Z", profile="stress") as emu:
            host = emu.base_url.split("://", 1)[1].encode()  # the port differs between the two emulators
            return [get(emu, p, per_page=100).content.replace(host, b"HOST") for p in
                    ("/repos/acme/api/deployments", "/repos/acme/infra/actions/runs", "/repos/acme/api/releases")]
    assert snapshot() == snapshot()


@pytest.mark.parametrize("seed", [1, 7, 9, 11, 30, 32])
def test_planted_dora_cases_exist_for_every_seed(seed):
    from emulator.gen_github import repo_kind, run_state
    from emulator.generator import build_world
    from emulator.timefmt import DAY, parse_iso

    now = parse_iso("2026-11-20T06:00:00Z")
    data = build_world(seed, now, profile="stress").github
    kind = {r.index: repo_kind(r) for r in data.repos}
    assert len(data.commits(next(p for p in data.pulls if p.n == data.huge_pull_n))) > 250
    api = Counter(d.created_ms // DAY for d in data.deployments
                  if kind[d.repo_index] == "api" and d.production and d.created_ms <= now)
    assert max(api.values()) >= 4
    mobile = sorted(d.created_ms for d in data.deployments
                    if kind[d.repo_index] == "mobile" and d.production and d.created_ms <= now)
    assert max(b - a for a, b in zip(mobile, mobile[1:], strict=False)) >= 21 * DAY
    assert any(d.scenario == "late_status" and d.statuses[-1][1] > now for d in data.deployments)
    rerun = next(r for r in data.runs if r.scenario == "rerun_late")
    assert run_state(rerun, now).conclusion == "failure" and len(rerun.attempts) == 2
    assert sum(1 for r in data.runs if kind[r.repo_index] == "infra" and r.created_ms <= now) > 1000
    finals = Counter(d.statuses[1][2] for d in data.deployments if d.created_ms <= now)
    assert finals["failure"] + finals["error"] >= 5
    hotfix = next(p for p in data.pulls if p.scenario == "hotfix")
    assert min(c.authored_ms for c in data.commits(hotfix)) > hotfix.close_ms  # clock skew
