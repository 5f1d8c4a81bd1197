"""GitHub DORA streams through the engine against the emulator: commits, deployments and statuses, releases,
workflow runs (sliced under the 1,000 cap), and conditional requests that cost no rate limit."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
import requests

from emulator.server import start_emulator
from extractors.engine import extract_streams
from extractors.landing import read_manifest
from extractors.pagination import PageRequest, PaginationError
from extractors.sources import build_source
from extractors.sources.github import created_range, parse_created_range, split_runs_request
from extractors.streams import Window, parse_timestamp
from tests.scripted_server import ScriptedServer

GH = {"Authorization": "Bearer gh-demo-token"}
REPOS = ["acme/api", "acme/web", "acme/mobile", "acme/infra"]
NOW = "2026-11-20T06:00:00Z"
HISTORY = timedelta(days=90)


def source(emu, repos=REPOS, **extra):
    return build_source("github", {"base_url": emu.github_url, "token": "gh-demo-token", "repos": repos, **extra})


def windows(src, end: datetime, marks: dict | None = None, lookback=timedelta(days=1)) -> dict:
    """What pipeline.stream_windows gives: history on a first run, watermark minus lookback afterwards."""
    out = {}
    for stream in src.streams:
        out[stream.name] = {}
        for p in stream.partitions:
            mark = (marks or {}).get(stream.name, {}).get(p.id)
            start = end - HISTORY if mark is None else min(parse_timestamp(mark) - lookback, end - lookback)
            out[stream.name][p.id] = Window(start, end)
    return out


def run(emu, src, end, tmp_path, marks=None, etags=None, only=None):
    streams = [s for s in src.streams if only is None or s.name in only]
    results = extract_streams(src.client(), streams, windows(src, end, marks), tmp_path, etags=etags)
    return {r.stream.split("__", 1)[1]: r for r in results}


def rows(result) -> list[dict]:
    manifest = read_manifest(result.batch_dir)
    table = pq.read_table([str(result.batch_dir / f) for f in manifest["files"]])
    return table.to_pylist()


def marks_and_etags(results) -> tuple[dict, dict]:
    marks = {name: {pid: m["max_cursor"] for pid, m in r.manifest["partitions"].items() if m.get("max_cursor")}
             for name, r in results.items()}
    etags = {name: r.manifest["etags"] for name, r in results.items()}
    return marks, etags


def api_walk(url: str, params: dict | None = None, key: str | None = None) -> list[dict]:
    out, resp = [], requests.get(url, headers=GH, params={**(params or {}), "per_page": 100}, timeout=30)
    while True:
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out += body[key] if key else body
        nxt = resp.links.get("next", {}).get("url")
        if not nxt:
            return out
        resp = requests.get(nxt, headers=GH, timeout=30)


def quota_used(emu) -> int:
    return requests.get(emu.github_url + "/rate_limit", headers=GH, timeout=10).json()["rate"]["used"]


@pytest.fixture()
def emu():
    with start_emulator(seed=42, now=NOW, profile="stress") as handle:
        yield handle


END = datetime(2026, 11, 20, 6, tzinfo=UTC)


def test_every_merged_pull_requests_commits_land_once(emu, tmp_path):
    src = source(emu, ["acme/web", "acme/infra"])
    results = run(emu, src, END, tmp_path, only={"pulls", "pull_commits"})
    landed = rows(results["pull_commits"])
    keys = [(r["repo"], r["pull_number"], r["sha"]) for r in landed]
    assert len(keys) == len(set(keys)), "a commit landed twice"
    pulls = rows(results["pulls"])
    merged = {(p["repo"], p["number"]) for p in pulls
              if p["merged_at"] and json.loads(p["record"])["base_ref"] in ("main", "trunk")}
    assert merged and {(r, n) for r, n, _ in keys} == merged, "commits of exactly the merged pull requests"
    # Compare with the REST API, one pull request in each repo: same commits, oldest first.
    for repo in ("acme/web", "acme/infra"):
        number = min((n for r, n in merged if r == repo), key=int)
        api = api_walk(f"{emu.github_url}/repos/{repo}/pulls/{number}/commits")
        assert [c["sha"] for c in api] == [r["sha"] for r in landed if (r["repo"], r["pull_number"]) == (repo, number)]
    # Commits come inside the pull request pages; only a pull request with more than 100 commits needs requests
    # of its own (its whole list, 100 per page).
    data = emu.app.world.github
    counts = {(f"acme/{data.repos[p.repo_index].name}", str(p.number)): len(data.commits(p)) for p in data.pulls}
    big = [counts[key] for key in merged if counts[key] > 100]
    assert big and results["pull_commits"].requests == sum(-(-n // 100) for n in big)
    assert results["pull_commits"].manifest["points"] == results["pull_commits"].requests


def test_a_pull_request_over_250_commits_lands_every_commit(emu, tmp_path):
    data = emu.app.world.github
    huge = next(p for p in data.pulls if p.n == data.huge_pull_n)
    repo = f"acme/{data.repos[huge.repo_index].name}"
    full = requests.get(f"{emu.github_url}/repos/{repo}/pulls/{huge.number}", headers=GH, timeout=10).json()
    assert full["commits"] == 320  # the branch has 320 commits; REST's list endpoint serves only 250
    results = run(emu, source(emu, [repo]), END, tmp_path, only={"pulls", "pull_commits"})
    mine = [r for r in rows(results["pull_commits"]) if r["pull_number"] == str(huge.number)]
    assert len(mine) == 320 and len({r["sha"] for r in mine}) == 320
    api = api_walk(f"{emu.github_url}/repos/{repo}/pulls/{huge.number}/commits")
    assert [c["sha"] for c in api] == [r["sha"] for r in mine][:250]  # REST's 250 are the oldest, same order
    earliest = min(parse_timestamp(r["author_date"]) for r in mine)
    assert earliest == parse_timestamp(full["created_at"]) - timedelta(days=21)


def test_deployment_statuses_come_with_their_deployments_and_late_statuses_are_reread(emu, tmp_path):
    src = source(emu, ["acme/api"])
    first = run(emu, src, END, tmp_path, only={"deployments", "deployment_statuses"})
    deployments = rows(first["deployments"])
    statuses = rows(first["deployment_statuses"])
    assert len(deployments) == len({d["id"] for d in deployments}) > 200
    # Statuses come inside the deployment pages (none has more than 100): no request of their own.
    assert first["deployment_statuses"].requests == 0
    # 100 per page; the walk stops at the first deployment older than the window (or at the end of the list).
    assert first["deployments"].requests in (-(-len(deployments) // 100), -(-len(deployments) // 100) + 1)
    assert {s["deployment_id"] for s in statuses} == {d["id"] for d in deployments}
    newest = max(deployments, key=lambda d: d["created_at"])
    api = api_walk(f"{emu.github_url}/repos/acme/api/deployments/{newest['id']}/statuses")
    assert sorted(s["node_id"] for s in api) == sorted(
        s["node_id"] for s in statuses if s["deployment_id"] == newest["id"])
    environments = Counter(d["environment"] for d in deployments)
    assert set(environments) == {"production", "staging"}
    # The deployment created 8 h before the clock is still in progress; its success arrives 3 h after the clock,
    # and GitHub does not move the deployment's updatedAt for it (nor does the emulator).
    late = next(d for d in deployments if d["created_at"] == "2026-11-19T22:00:00Z")
    assert {s["state"] for s in statuses if s["deployment_id"] == late["id"]} == {"IN_PROGRESS"}

    requests.post(f"{emu.base_url}/__emulator/advance", json={"days": 1}, timeout=10).raise_for_status()
    marks, etags = marks_and_etags(first)
    second = run(emu, src, END + timedelta(days=1), tmp_path, marks, etags,
                 only={"deployments", "deployment_statuses"})
    reread = rows(second["deployment_statuses"])
    assert {"IN_PROGRESS", "SUCCESS"} <= {s["state"] for s in reread if s["deployment_id"] == late["id"]}
    assert rows(second["deployments"])[0]["updated_at"] == rows(second["deployments"])[0]["created_at"]
    # Only deployments of the last 3 days (the re-read span, > the 1 d lookback) are listed again, with statuses.
    created = [parse_timestamp(d["created_at"]) for d in rows(second["deployments"])]
    assert min(created) >= END + timedelta(days=1) - timedelta(days=3)
    assert second["deployments"].requests == 1 and second["deployment_statuses"].requests == 0


def test_a_deployment_with_more_than_100_statuses_is_read_whole(tmp_path):
    """A deployment whose statuses pass one page is continued with `node(id:)`, every status once."""
    statuses = [{"node_id": f"DES_{i}", "state": "SUCCESS", "environment": "production",
                 "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"} for i in range(120)]
    deployment = {"node_id": "DE_1", "id": 7, "environment": "production", "sha": "a" * 40,
                  "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                  "statuses": {"totalCount": 120, "pageInfo": {"hasNextPage": True, "endCursor": "c100"},
                               "nodes": statuses[:100]}}

    def handler(method, path, body, headers):
        rate = {"cost": 1, "remaining": 4000, "resetAt": "2026-01-01T01:00:00Z"}
        if "DeploymentStatuses" in body["query"]:
            after = body["variables"].get("cursor")
            chunk = statuses[:100] if after is None else statuses[100:]
            info = {"hasNextPage": after is None, "endCursor": "c100" if after is None else "c120"}
            return 200, {}, {"data": {"node": {"statuses": {"pageInfo": info, "nodes": chunk}}, "rateLimit": rate}}
        conn = {"pageInfo": {"hasNextPage": False, "endCursor": "d1"}, "nodes": [deployment]}
        return 200, {}, {"data": {"repository": {"deployments": conn}, "rateLimit": rate}}

    with ScriptedServer(handler) as server:
        src = build_source("github", {"base_url": server.base_url, "token": "t", "repos": ["o/r"]})
        streams = [src.stream("deployments"), src.stream("deployment_statuses")]
        window = {"o/r": Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))}
        results = extract_streams(src.client(), streams, {"deployments": window, "deployment_statuses": window},
                                  tmp_path)
    landed = rows(results[1])
    assert sorted(r["node_id"] for r in landed) == sorted(s["node_id"] for s in statuses)
    assert results[1].requests == 2 and results[1].manifest["points"] == 2
    assert server.requests[1]["json"]["variables"] == {"id": "DE_1", "cursor": None}


def test_environment_filter_from_config_is_sent_to_graphql(emu, tmp_path):
    src = source(emu, ["acme/web"], deployment_environments=["Production"])
    result = run(emu, src, END, tmp_path, only={"deployments"})["deployments"]
    assert {d["environment"] for d in rows(result)} == {"Production"}


def test_workflow_runs_go_on_past_the_1000_cap_from_the_oldest_run_read(emu, tmp_path):
    src = source(emu, ["acme/infra"])
    client = src.client()
    seen: list[tuple[str, int]] = []  # (created, runs on the page)
    original = client.request_json

    def spy(method, path, **kw):
        body, response = original(method, path, **kw)
        created = dict(kw.get("params") or []).get("created") or dict(
            p.split("=", 1) for p in response.url.split("?", 1)[1].split("&")).get("created", "")
        seen.append((requests.utils.unquote(created), len(body["workflow_runs"])))
        return body, response

    client.request_json = spy
    stream = src.stream("workflow_runs")
    result = extract_streams(client, [stream], {"workflow_runs": windows(src, END)["workflow_runs"]}, tmp_path)[0]
    landed = rows(result)
    # Reference: the unfiltered list (no cap without filters), restricted to the 90-day window.
    everything = api_walk(f"{emu.github_url}/repos/acme/infra/actions/runs", key="workflow_runs")
    start = END - HISTORY
    expected = {r["id"] for r in everything if start <= parse_timestamp(r["created_at"]) < END}
    assert len(expected) > 2000, "the infra repository must need several capped queries"
    assert {int(r["id"]) for r in landed} == expected
    per_query = Counter()
    for created, count in seen:
        per_query[created] += count
    assert len(per_query) >= 3 and all(n <= 1000 for n in per_query.values()), "no query pages past the cap"
    ends = [parse_created_range(c) for c in per_query]
    assert len({s for s, _ in ends}) == 1, "each query keeps the window's start and only moves its end"
    assert all(later[1] < earlier[1] for earlier, later in zip(ends, ends[1:], strict=False))
    # Nothing thrown away: only the runs of each cut's second are read twice, and every page but the last of
    # each query is full.
    assert len(landed) - len(expected) <= 5 * (len(per_query) - 1)
    assert len(seen) <= math.ceil(len(landed) / 100) + len(per_query) - 1


def test_created_ranges_split_without_gap_or_overlap():
    start, end = datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 8, 31, tzinfo=UTC)
    text = created_range(start, end)
    assert text == "2026-08-01T00:00:00Z..2026-08-30T23:59:59Z"
    assert parse_created_range(text) == (start, end)
    a, b = split_runs_request(PageRequest("GET", "/x", params=(("created", text),)))
    assert a.param("created") == "2026-08-01T00:00:00Z..2026-08-15T23:59:59Z"
    assert b.param("created") == "2026-08-16T00:00:00Z..2026-08-30T23:59:59Z"
    one_second = created_range(start, start + timedelta(seconds=1))
    with pytest.raises(PaginationError, match="more than 1000 workflow runs"):
        split_runs_request(PageRequest("GET", "/x", params=(("created", one_second),)))


def test_an_unchanged_day_costs_one_page_per_repository_and_no_rest_quota_for_graphql(emu, tmp_path):
    src = source(emu)
    dora = {"pulls", "pull_commits", "deployments", "deployment_statuses", "releases", "workflow_runs"}
    first = run(emu, src, END, tmp_path, only=dora)  # alert streams: test_github_security_streams.py
    marks, etags = marks_and_etags(first)
    before = quota_used(emu)
    second = run(emu, src, END, tmp_path / "again", marks, etags, only=dora)  # same clock: nothing changed
    used = quota_used(emu) - before
    assert second["releases"].manifest["not_modified"] == 4 and second["releases"].rows == 0
    # GraphQL pages cannot be conditional, but one page per repository reaches past the re-read span, and its
    # children come inside it: nothing else is requested.
    assert second["pulls"].requests == second["deployments"].requests == 4
    assert second["pull_commits"].requests == second["deployment_statuses"].requests == 0
    # REST quota: only the workflow runs (a `created` window moves every run, so it cannot be conditional);
    # the GraphQL pages are charged in points to their own bucket.
    assert used == second["workflow_runs"].requests
    assert second["pulls"].manifest["points"] >= 4 and second["deployments"].manifest["points"] == 4


def test_releases_stop_at_the_first_1000_instead_of_asking_for_more(tmp_path):
    releases = [{"id": i, "tag_name": f"v{i}", "created_at": "2026-01-01T00:00:00Z",
                 "published_at": "2026-01-01T00:00:00Z"} for i in range(1050, 0, -1)]

    def handler(method, path, body, headers):
        query = dict(p.split("=") for p in path.split("?", 1)[1].split("&"))
        page, per_page = int(query.get("page", 1)), int(query["per_page"])
        if (page - 1) * per_page >= 1000:
            return 422, {}, {"message": "Only the first 1000 results are available."}
        base = path.split("?")[0]
        link = f'<{server.base_url}{base}?per_page={per_page}&page={page + 1}>; rel="next"'
        return 200, {"Link": link}, releases[(page - 1) * per_page: page * per_page]

    with ScriptedServer(handler) as server:
        src = build_source("github", {"base_url": server.base_url, "token": "t", "repos": ["o/r"]})
        stream = src.stream("releases")
        window = {"o/r": Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))}
        result = extract_streams(src.client(), [stream], {"releases": window}, tmp_path)[0]
    assert result.rows == 1000 and result.requests == 10
    assert all("page=11" not in r["path"] for r in server.requests)


def test_github_and_dora_config_keys(make_config):
    from opskpi.config import ConfigError

    config = make_config(dora={"deploy_workflows": {"acme/infra": "deploy.yml"}})
    settings = config.source_settings("github", with_secret=False)
    assert (settings["deployments_lookback_s"], settings["workflow_runs_lookback_s"]) == (3 * 86400, 30 * 86400)
    assert settings["deployment_environments"] == [] and config.dora.deploy_workflows == {"acme/infra": "deploy.yml"}
    github = {"base_url": "http://x/github", "token_env": "TEST_GH_TOKEN", "repos": ["acme/api"]}
    for bad, key in (({"workflow_runs_lookback": "a month"}, "sources.github.workflow_runs_lookback"),
                     ({"deployment_environments": "production"}, "sources.github.deployment_environments")):
        with pytest.raises(ConfigError, match=key):
            make_config(sources={"github": {**github, **bad}})
    with pytest.raises(ConfigError, match="dora.deploy_workflows.acme/infra"):
        make_config(dora={"deploy_workflows": {"acme/infra": ""}})
