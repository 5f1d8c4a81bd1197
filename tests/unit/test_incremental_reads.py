"""What an incremental run may leave unread, and what it must still read.

- A child stream that declares `parent_version` skips a parent whose version is unchanged, but only once the
  children read at that version are loaded (meta.child_versions is written in the load's transaction).
- PagerDuty log entries re-read a short margin before their own watermark, not the incidents' 30 days, and still
  get the acknowledgements and resolutions of incidents created long before.
- Security-alert streams send their `state=open` walk on a first run only.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import duckdb
import pyarrow.parquet as pq
import pytest

from emulator.server import start_emulator
from extractors.engine import extract_streams
from extractors.http import HttpClient, RetryPolicy
from extractors.pagination import LinkHeaderPaginator, PageRequest
from extractors.sources import build_source
from extractors.sources.pagerduty import LOG_ENTRIES_LOOKBACK
from extractors.streams import Column, Partition, Stream, Window
from opskpi.load import VALIDATION_FILE, load_pending, read_child_versions, read_watermarks
from opskpi.pipeline import RunContext, stream_windows
from tests.scripted_server import ScriptedServer

WINDOW = Window(start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 3, 1, tzinfo=UTC), resumed=True)


def _stream(**kw) -> Stream:
    defaults = dict(source="t", name="items", columns=(Column("id"),), primary_key=("id",), records_key=None,
                    paginator=lambda: LinkHeaderPaginator())
    return Stream(**{**defaults, **kw})


def _pulls_and_commits(parent_version: str | None) -> list[Stream]:
    pulls = _stream(name="pulls", columns=(Column("id"), Column("updated_at")), cursor=None,
                    requests=lambda p, w: [PageRequest("GET", "/pulls")])
    commits = _stream(name="commits", columns=(Column("id", "sha"), Column("number", partition_key="number")),
                      requests=lambda p, w: [PageRequest("GET", f"/pulls/{p.values['number']}/commits")],
                      parent="pulls",
                      parent_ref=lambda r: {"number": str(r["id"]), "updated": r["updated_at"]},
                      parent_version=parent_version)
    return [pulls, commits]


class Api:
    """Two pull requests; `updated[n]` is pull request n's `updated_at`, and its commits name that version."""

    def __init__(self) -> None:
        self.updated = {"1": "2024-02-01T00:00:00Z", "2": "2024-02-02T00:00:00Z"}

    def __call__(self, method, path, body, headers):
        if path.startswith("/pulls?"):
            return 200, {}, [{"id": n, "updated_at": u} for n, u in self.updated.items()]
        number = path.split("/")[2]
        return 200, {}, [{"sha": f"{number}@{self.updated[number]}"}]


def _run(server, streams, landing, con=None, load=True):
    """Extract (with the versions the warehouse holds), then validate and load every batch."""
    versions = {}
    if con is not None:
        versions = {s.name: read_child_versions(con, "t", s.name, [""]) for s in streams if s.parent_version}
    windows = {s.name: {"": WINDOW} for s in streams}
    client = HttpClient(server.base_url, sleep=lambda s: None, retry=RetryPolicy(max_attempts=2))
    results = extract_streams(client, streams, windows, landing, child_versions=versions)
    if load:
        for result in results:
            (result.batch_dir / VALIDATION_FILE).write_text(json.dumps({"success": True}))
        load_pending(con, landing, [("t", "pulls"), ("t", "commits")])
    return {r.stream: r for r in results}


def _commit_paths(server) -> list[str]:
    return sorted(r["path"].split("?")[0] for r in server.requests if "/commits" in r["path"])


def test_an_unchanged_parent_skips_its_children_once_they_are_loaded(tmp_path):
    api = Api()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    streams = _pulls_and_commits("updated")
    with ScriptedServer(api) as server:
        first = _run(server, streams, tmp_path / "landing", con)
        assert _commit_paths(server) == ["/pulls/1/commits", "/pulls/2/commits"]
        assert read_child_versions(con, "t", "commits", [""]) == {
            ("", "number=1"): "2024-02-01T00:00:00Z", ("", "number=2"): "2024-02-02T00:00:00Z"}
        assert first["t__commits"].manifest["child_versions"] == [
            ["", "number=1", "2024-02-01T00:00:00Z"], ["", "number=2", "2024-02-02T00:00:00Z"]]

        server.requests.clear()
        api.updated["2"] = "2024-02-03T00:00:00Z"  # a push to pull request 2; pull request 1 is only re-listed
        second = _run(server, streams, tmp_path / "landing", con)
    assert _commit_paths(server) == ["/pulls/2/commits"], "pull request 1 did not change: no request for it"
    assert second["t__commits"].manifest["skipped_unchanged_parents"] == 1
    assert second["t__commits"].requests == 1
    # the skipped pull request keeps its commits; the changed one gained its new listing
    assert sorted(r[0] for r in con.execute("SELECT id FROM raw.t__commits").fetchall()) == [
        "1@2024-02-01T00:00:00Z", "2@2024-02-02T00:00:00Z", "2@2024-02-03T00:00:00Z"]
    assert read_child_versions(con, "t", "commits", [""])[("", "number=2")] == "2024-02-03T00:00:00Z"
    assert con.execute("SELECT count(*) FROM meta.child_versions").fetchone()[0] == 2, "one row per parent"


def test_children_extracted_but_not_loaded_are_read_again(tmp_path):
    """A crash (or a quarantine) between extract and load must not make the next run skip those children."""
    api = Api()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    streams = _pulls_and_commits("updated")
    with ScriptedServer(api) as server:
        _run(server, streams, tmp_path / "lost", con, load=False)  # landed, never loaded
        assert read_child_versions(con, "t", "commits", [""]) == {}
        server.requests.clear()
        _run(server, streams, tmp_path / "landing", con)
    assert _commit_paths(server) == ["/pulls/1/commits", "/pulls/2/commits"]


def test_a_failed_load_stores_no_version(tmp_path, monkeypatch):
    """The versions commit with the child's rows: a load that rolls back leaves none behind."""
    import opskpi.load as load_module

    api = Api()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    streams = _pulls_and_commits("updated")

    def fail_after_versions(con, manifest):
        real_store(con, manifest)
        if manifest["stream"] == "commits":
            raise RuntimeError("killed after the versions were written, before the commit")

    real_store = load_module._store_coverage
    monkeypatch.setattr(load_module, "_store_coverage", fail_after_versions)
    with ScriptedServer(api) as server, pytest.raises(RuntimeError, match="before the commit"):
        _run(server, streams, tmp_path / "landing", con)
    assert read_child_versions(con, "t", "commits", [""]) == {}
    assert con.execute("SELECT count(*) FROM meta.batches WHERE stream = 'commits'").fetchone()[0] == 0


def test_a_parent_read_at_two_versions_keeps_the_newest(tmp_path):
    """Pull request 1 listed twice (it was updated while we paged): both listings are read, one version kept."""
    class Twice(Api):
        def __call__(self, method, path, body, headers):
            if path.startswith("/pulls?"):
                return 200, {}, [{"id": "1", "updated_at": "2024-02-05T00:00:00Z"},
                                 {"id": "1", "updated_at": "2024-02-01T00:00:00Z"}]
            return 200, {}, [{"sha": path}]

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with ScriptedServer(Twice()) as server:
        result = _run(server, _pulls_and_commits("updated"), tmp_path / "landing", con)
    assert result["t__commits"].manifest["child_versions"] == [["", "number=1", "2024-02-05T00:00:00Z"]]
    assert con.execute("SELECT version FROM meta.child_versions").fetchall() == [("2024-02-05T00:00:00Z",)]


def test_a_child_without_parent_version_is_always_read(tmp_path):
    api = Api()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    streams = _pulls_and_commits(None)
    with ScriptedServer(api) as server:
        first = _run(server, streams, tmp_path / "landing", con)
        server.requests.clear()
        _run(server, streams, tmp_path / "landing", con)
    assert first["t__commits"].manifest["child_versions"] == []
    assert _commit_paths(server) == ["/pulls/1/commits", "/pulls/2/commits"]


def test_github_declares_which_children_may_be_skipped():
    src = build_source("github", {"base_url": "http://x", "token": "t", "repos": ["o/r"]})
    commits, statuses = src.stream("pull_commits"), src.stream("deployment_statuses")
    assert commits.parent_version == "pull_updated_at"
    ref = commits.parent_ref({"number": 7, "merged_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z",
                              "base": {"ref": "main", "repo": {"default_branch": "main"}}})
    assert ref == {"pull_number": "7", "pull_updated_at": "2026-01-02T00:00:00Z"}
    # new statuses arrive without their deployment being documented to change: never skipped
    assert statuses.parent_version is None


# --- PagerDuty log entries ----------------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 6, tzinfo=UTC)


def _config():
    return SimpleNamespace(history_days=90, lookback_seconds=lambda source: 30 * 86400)


def test_log_entries_reread_only_a_margin_before_their_watermark():
    src = build_source("pagerduty", {"base_url": "http://x", "token": "t"})
    ctx = RunContext(run_date=date(2026, 11, 19), as_of=NOW, run_id="r")
    mark = {"": "2026-11-19T05:00:00Z"}
    entries = stream_windows(_config(), "pagerduty", src.stream("log_entries"), mark, ctx)[""]
    incidents = stream_windows(_config(), "pagerduty", src.stream("incidents"), mark, ctx)[""]
    assert entries.start == datetime(2026, 11, 19, 5, tzinfo=UTC) - LOG_ENTRIES_LOOKBACK and entries.resumed
    assert incidents.start == datetime(2026, 11, 19, 5, tzinfo=UTC) - timedelta(days=30)
    assert LOG_ENTRIES_LOOKBACK <= timedelta(hours=1)
    first_run = stream_windows(_config(), "pagerduty", src.stream("log_entries"), {}, ctx)[""]
    assert first_run.start == NOW - timedelta(days=90) and not first_run.resumed


def test_log_entries_of_old_incidents_are_read_from_the_watermark(tmp_path):
    """Acknowledgements and resolutions that arrive for incidents created before the window are new entries: the
    short window finds every entry a 30-day re-read would have found new."""
    with start_emulator(seed=42, now=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), port=0, profile="stress") as emu:
        src = build_source("pagerduty", {"base_url": emu.pagerduty_url, "token": "pd-demo-token"})
        stream = src.stream("log_entries")
        con = duckdb.connect(str(tmp_path / "w.duckdb"))

        def run(landing, as_of, marks, full=False):
            ctx = RunContext(run_date=as_of.date(), as_of=as_of, run_id=landing, full_refresh=full)
            config = SimpleNamespace(history_days=90 if not full else 40, lookback_seconds=lambda s: 30 * 86400)
            windows = {stream.name: stream_windows(config, "pagerduty", stream, marks, ctx)}
            result = extract_streams(src.client(), [stream], windows, tmp_path / landing)[0]
            table = pq.read_table([str(result.batch_dir / f) for f in result.manifest["files"]]).to_pylist()
            return result, windows[stream.name][""], {r["id"]: json.loads(r["record"]) for r in table}

        first, _, before = run("a", NOW, {})
        (first.batch_dir / VALIDATION_FILE).write_text(json.dumps({"success": True}))
        load_pending(con, tmp_path / "a", [("pagerduty", "log_entries")])
        emu.advance(days=2)
        later = NOW + timedelta(days=2)
        second, window, got = run("b", later, read_watermarks(con, "pagerduty", "log_entries"))
        _, _, wide = run("c", later, {}, full=True)  # what a 40-day re-read sees now
    assert window.start > NOW - timedelta(hours=2), "a margin, not the incidents' 30 days"
    new = {i: e for i, e in wide.items() if i not in before}
    assert new and set(new) <= set(got), "every entry that appeared since the first run is read"
    triggered_before = {e["incident"]["id"] for e in before.values() if e["type"] == "trigger_log_entry"}
    late = [e for e in got.values() if e["incident"]["id"] in triggered_before
            and e["type"] in ("acknowledge_log_entry", "resolve_log_entry")]
    assert late, "some incidents triggered before the first run were acknowledged or resolved after it"
    assert all(datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")) >= window.start for e in got.values())
    assert second.requests < first.requests


# --- security alerts ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["dependabot_alerts", "code_scanning_alerts", "secret_scanning_alerts"])
def test_security_streams_walk_the_open_backlog_on_a_first_run_only(name):
    stream = build_source("github", {"base_url": "http://x", "token": "t", "repos": ["o/r"]}).stream(name)
    partition = Partition("o/r", {"repo": "o/r"})
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    first = list(stream.requests(partition, Window(start, end)))
    resumed = list(stream.requests(partition, Window(start, end, resumed=True)))
    assert [r.param("state") for r in first] == [None, "open"]
    assert [(r.param("sort"), r.param("state")) for r in resumed] == [("updated", None)]
    old_open = {"state": "open", "updated_at": "2026-10-01T00:00:00Z"}
    # first run: the open walk is read to its end; resumed: the updated walk stops at any alert before the window
    assert not stream.stop_when(old_open, Window(start, end))
    assert stream.stop_when(old_open, Window(start, end, resumed=True))
    assert stream.stop_when({"state": "fixed", "updated_at": "2026-10-01T00:00:00Z"}, Window(start, end))


def test_pull_requests_and_deployments_are_first_read_max_deploy_lag_further_back():
    """Issue 18: the first DORA day needs every pull request it may deploy, merged up to dora.max_deploy_lag before
    it, and every earlier deployment that may have shipped them; other streams keep history_days, and a resumed
    window is the watermark's as before."""
    config = SimpleNamespace(history_days=90, lookback_seconds=lambda source: 86400,
                             dora=SimpleNamespace(max_deploy_lag="30d"))
    ctx = RunContext(run_date=date(2026, 11, 19), as_of=NOW, run_id="r")

    def first_start(source: str, name: str, marks: dict | None = None) -> datetime:
        stream = SimpleNamespace(name=name, lookback=None, partitions=[SimpleNamespace(id="")])
        return stream_windows(config, source, stream, marks or {}, ctx)[""].start

    for name in ("pulls", "deployments", "workflow_runs"):
        assert first_start("github", name) == NOW - timedelta(days=120), name
    assert first_start("github", "dependabot_alerts") == NOW - timedelta(days=90)
    assert first_start("pagerduty", "incidents") == NOW - timedelta(days=90)
    assert first_start("github", "pulls", {"": "2026-11-19T05:00:00Z"}) == datetime(2026, 11, 18, 5, tzinfo=UTC)
