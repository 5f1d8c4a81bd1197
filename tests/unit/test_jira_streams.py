"""The Jira streams against the emulator: full changelogs, their pages, 429s, projects, statuses, reconciliation."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import requests

from emulator.server import start_emulator
from extractors.engine import extract_streams
from extractors.landing import read_manifest
from extractors.sources import build_source
from extractors.streams import Window
from opskpi.load import load_pending

AUTH = ("demo@example.com", "jira-demo-token")
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
HISTORY = Window(start=AS_OF - timedelta(days=120), end=AS_OF)


def source(emu, **extra):
    return build_source("jira", {"base_url": emu.jira_url, "email": AUTH[0], "token": AUTH[1],
                                 "projects": ["OPS", "WEB"], **extra})


def windows(streams, window: Window = HISTORY) -> dict:
    """The same window for every partition of every stream (issues are read per project)."""
    return {s.name: {p.id: window for p in s.partitions} for s in streams}


def extract(emu, root: Path, window: Window = HISTORY, **extra):
    src = source(emu, **extra)
    client = src.client()
    results = extract_streams(client, list(src.streams), windows(src.streams, window), root)
    return {r.stream: r for r in results}, client


def landed(result) -> list[dict]:
    manifest = read_manifest(result.batch_dir)
    return pq.read_table([str(result.batch_dir / f) for f in manifest["files"]]).to_pylist()


def full_changelog(emu, issue_id: str) -> list[dict]:
    """Every entry, read independently with plain requests (pages of 100, oldest first)."""
    out, start = [], 0
    while True:
        body = requests.get(f"{emu.jira_url}/rest/api/3/issue/{issue_id}/changelog", auth=AUTH,
                            params={"startAt": start, "maxResults": 100}, timeout=10).json()
        out += body["values"]
        if body["isLast"]:
            return out
        start += len(body["values"])


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as emu:
        emu.app.stats.reset()
        results, _ = extract(emu, tmp_path_factory.mktemp("landing"))
        yield emu, results, emu.stats()["jira"]


def test_every_issue_has_its_whole_changelog_once(first_run):
    emu, results, _ = first_run
    issues = landed(results["jira__issues"])
    entries = landed(results["jira__issue_changelogs"])
    keys = [(e["issue_id"], e["id"]) for e in entries]
    assert len(keys) == len(set(keys)), "no entry lands twice"
    by_issue: dict[str, set[str]] = {}
    for issue_id, history_id in keys:
        by_issue.setdefault(issue_id, set()).add(history_id)
    truncated = 0
    for row in issues:
        record = json.loads(row["record"])
        expected = {h["id"] for h in full_changelog(emu, row["id"])}
        assert by_issue.get(row["id"], set()) == expected, row["key"]
        assert record["changelog"]["total"] == len(expected)
        truncated += record["changelog"]["total"] > len(record["changelog"]["histories"])
    assert truncated >= 5, "the seed has issues whose embedded changelog is cut (20 of 25+ entries)"
    assert sum(e["_page"] == 0 for e in entries) > 0, "complete embedded changelogs land without a request"


def test_only_truncated_changelogs_are_requested_and_long_ones_are_paged(first_run):
    emu, results, stats = first_run
    totals = [json.loads(r["record"])["changelog"]["total"] for r in landed(results["jira__issues"])]
    cut = [t for t in totals if t > 20]
    # one request per page of 100 for each cut changelog, none for the others
    expected_pages = sum(math.ceil(t / 100) for t in cut)
    assert stats["GET /rest/api/3/issue/{issueIdOrKey}/changelog"] == expected_pages == results[
        "jira__issue_changelogs"].requests
    assert max(cut) > 200, "an issue with hundreds of entries spans three pages or more"
    assert expected_pages > len(cut)


def test_projects_and_statuses(first_run):
    _, results, stats = first_run
    projects = {r["key"]: r["name"] for r in landed(results["jira__projects"])}
    assert projects == {"OPS": "Operations", "WEB": "Web Platform"}
    statuses = {r["id"]: (r["name"], r["category"]) for r in landed(results["jira__statuses"])}
    assert statuses["10001"] == ("Code Review", "indeterminate"), "renamed status: same id, new name"
    assert {c for _, c in statuses.values()} == {"new", "indeterminate", "done"}
    assert stats["GET /rest/api/3/project/search"] == 1 and stats["GET /rest/api/3/status"] == 1


def test_issues_are_read_per_project(first_run):
    """One search per project, each its own partition (watermark, Airflow task): the landed rows of a partition are
    that project's, and the two partitions hold every issue."""
    _, results, stats = first_run
    manifest = read_manifest(results["jira__issues"].batch_dir)
    rows = landed(results["jira__issues"])
    assert set(manifest["partitions"]) == {"OPS", "WEB"}
    by_project = {key: sum(r["project_key"] == key for r in rows) for key in ("OPS", "WEB")}
    assert all(by_project.values()) and sum(by_project.values()) == len(rows)
    assert {key: manifest["partitions"][key]["rows"] for key in by_project} == by_project
    # the searches: a page per 100 issues of each project, and the reconciliation's pages of 5000 ids
    ids = len(landed(results["jira__issue_ids"]))
    assert stats["POST /rest/api/3/search/jql"] == sum(math.ceil(n / 100) for n in by_project.values()) + math.ceil(
        ids / 5000)
    src = source(first_run[0])
    issues = next(s for s in src.streams if s.name == "issues")
    jqls = [r.json_body["jql"] for p in issues.partitions for r in issues.requests(p, HISTORY)]
    assert [j.split(" AND ")[0] for j in jqls] == ['project in ("OPS")', 'project in ("WEB")']


def test_search_asks_for_fields_and_changelog_with_epoch_ms(first_run):
    from extractors.sources.jira import issues_jql

    _, results, _ = first_run
    row = landed(results["jira__issues"])[0]
    record = json.loads(row["record"])
    assert {"status", "created", "resolutiondate", "issuetype", "project"} <= set(record["fields"])
    assert "changelog" in record
    jql = issues_jql(["OPS"], HISTORY)
    assert f"updated >= {int(HISTORY.start.timestamp() * 1000)}" in jql and '"' not in jql.split("AND", 1)[1]


def test_a_backfill_window_reads_issues_updated_after_it(first_run, tmp_path):
    """Backfill = replay: a run for a past day reads every issue updated since its window's start, also those
    updated after its as_of (they existed on that day; the models replay their state then from the changelog).
    Bounded by as_of, the backfill would have dropped every issue touched since."""
    _, results, _ = first_run
    everything = {r["id"]: r for r in landed(results["jira__issues"])}
    past_day_end = AS_OF - timedelta(days=10)
    touched_since = {i for i, r in everything.items()
                     if datetime.fromisoformat(r["updated"]) > past_day_end
                     and json.loads(r["record"])["fields"]["created"] < "2026-11-09"}
    assert touched_since, "the demo data has issues created before the past day and updated after it"
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as emu:
        backfill, _ = extract(emu, tmp_path, Window(start=HISTORY.start, end=past_day_end))
    read = {r["id"] for r in landed(backfill["jira__issues"])}
    assert touched_since <= read
    assert read == set(everything)


def test_retry_after_is_honoured_under_a_burst_limit(tmp_path):
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as emu:
        plain, _ = extract(emu, tmp_path / "plain")
        emu.app.apis["jira"].set_burst(4, retry_after_s=3)
        src = source(emu)
        client = src.client()
        waits: list[float] = []
        client._sleep = waits.append  # record instead of sleeping
        limited = {r.stream: r for r in extract_streams(
            client, list(src.streams), windows(src.streams), tmp_path / "limited")}
        refused = emu.app.apis["jira"].burst.refused
    assert refused > 0 and client.stats.rate_limit_waits == refused
    assert waits == [3.0] * refused, "each 429 waits exactly Retry-After"
    for name, result in plain.items():
        rows = {(r.get("issue_id"), r["id"]) for r in landed(result)}
        assert rows == {(r.get("issue_id"), r["id"]) for r in landed(limited[name])}, name


def test_reconciliation_marks_a_deleted_issue(tmp_path):
    """The planted issue deleted 12 h after the clock: listed by the first reconciliation, not by the next."""
    warehouse = tmp_path / "w.duckdb"
    landing = tmp_path / "landing"
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as emu:
        deleted = next(i for i in emu.app.world.jira.issues if i.scenario == "deleted")
        first, _ = extract(emu, landing, reconcile_every_s=0)
        emu.advance(days=1)
        second_window = Window(start=AS_OF - timedelta(hours=1), end=AS_OF + timedelta(days=1))
        emu.app.stats.reset()
        second, _ = extract(emu, landing, window=second_window, reconcile_every_s=0)
        searched = requests.post(f"{emu.jira_url}/rest/api/3/search/jql", auth=AUTH, timeout=10,
                                 json={"jql": f"id = {deleted.id}", "fields": ["id"]}).json()["issues"]
    assert searched == [], "a deleted issue vanishes from search"
    assert deleted.id in {r["id"] for r in landed(first["jira__issue_ids"])}
    assert deleted.id not in {r["id"] for r in landed(second["jira__issue_ids"])}
    for batch in landing.rglob("_manifest.json"):  # the guard's verdict is not under test here
        (batch.parent / "_validation.json").write_text('{"success": true}')
    con = duckdb.connect(str(warehouse))
    try:
        load_pending(con, landing, [("jira", s) for s in ("issues", "issue_ids")])
        newest = con.execute("select max(reconciled_at) from raw.jira__issue_ids").fetchone()[0]
        stale = {r[0] for r in con.execute(
            "select id from raw.jira__issue_ids where reconciled_at < (select max(reconciled_at) "
            "from raw.jira__issue_ids)").fetchall()}
        updated = con.execute("select updated from raw.jira__issues where id = ?", [deleted.id]).fetchone()[0]
    finally:
        con.close()
    # the rule fct_jira_issues applies: missing from the newest reconciliation, last updated before it
    assert newest == AS_OF + timedelta(days=1)
    assert deleted.id in stale and updated < newest
    assert len(stale) == 1, "nothing else vanished that day"


def test_reconciliation_runs_only_when_due(tmp_path):
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as emu:
        emu.app.stats.reset()
        # the last reconciliation (watermark) a day ago, minus the lookback: not due with a weekly cadence
        recent = Window(start=AS_OF - timedelta(days=1, hours=1), end=AS_OF)
        results, _ = extract(emu, tmp_path / "a", window=recent, reconcile_every_s=7 * 86400)
        assert results["jira__issue_ids"].requests == 0 and results["jira__issue_ids"].rows == 0
        due = Window(start=AS_OF - timedelta(days=7, hours=1), end=AS_OF)
        results, _ = extract(emu, tmp_path / "b", window=due, reconcile_every_s=7 * 86400)
        assert results["jira__issue_ids"].requests == 1 and results["jira__issue_ids"].rows > 250
        ids = landed(results["jira__issue_ids"])
    assert {r["reconciled_at"] for r in ids} == {AS_OF.isoformat()}


def test_changelog_pages_follow_what_the_server_sends(tmp_path):
    """A server that caps pages at 2 entries and leaves `isLast` out: walk by entries received up to `total`."""
    from extractors.http import HttpClient, RetryPolicy
    from extractors.sources.jira import JiraPagePaginator
    from extractors.streams import Column, PageRequest, Stream
    from tests.scripted_server import ScriptedServer

    entries = [{"id": str(i), "created": f"2024-01-0{i}T00:00:00.000+0000"} for i in range(1, 6)]

    def handler(method, path, body, headers):
        start = int(path.split("startAt=")[1].split("&")[0])
        return 200, {}, {"startAt": start, "maxResults": 2, "total": 5, "values": entries[start:start + 2]}

    stream = Stream(source="t", name="log", columns=(Column("id"),), primary_key=("id",), records_key="values",
                    paginator=lambda: JiraPagePaginator(page_size=100),
                    requests=lambda p, w: [PageRequest("GET", "/rest/api/3/issue/1/changelog")])
    with ScriptedServer(handler) as server:
        client = HttpClient(server.base_url, retry=RetryPolicy(max_attempts=1))
        result = extract_streams(client, [stream], {"log": {"": HISTORY}}, tmp_path)[0]
    assert [r["id"] for r in landed(result)] == ["1", "2", "3", "4", "5"]
    assert [r["path"].split("?")[1] for r in server.requests] == [
        "startAt=0&maxResults=100", "startAt=2&maxResults=100", "startAt=4&maxResults=100"]
